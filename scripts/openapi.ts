/**
 * Writes docs/openapi.json: the document `GET /openapi.json` serves with the default
 * settings, formatted as `prettier --check` wants it, for `npm run lint` (Redocly) and
 * for readers. Run `npm run openapi` after a change; test/integration/openapi.test.ts
 * fails while the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { httpSettings } from '../src/config/options.js';
import { loadConfig } from '../src/config/schema.js';
import { openApiDocument } from '../src/http/openapi.js';

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
const text = JSON.stringify(openApiDocument(httpSettings(loadConfig({}))), null, 2);
const options = (await resolveConfig(target)) ?? {};
writeFileSync(target, await format(text, { ...options, filepath: target }));
process.stdout.write(`wrote ${target}\n`);
