/**
 * The dependency direction `npm run lint` enforces (eslint.config.js): each rule, broken
 * on purpose in a file that is never written to disk, fails with a message that says
 * why; the arrows the layout allows pass.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

/** The no-restricted-imports messages ESLint reports for `code` at `path`. */
async function refusals(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('dependency rules', () => {
  it.each([
    [
      'src/core/x.ts',
      "import type { IdAllocator } from '../allocator/types.js';",
      /src\/core is the shared vocabulary/,
    ],
    [
      'src/allocator/x.ts',
      "import type { OpenedStore } from '../store/open.js';",
      /the allocator never imports a store/,
    ],
    [
      'src/allocator/snowflake/x.ts',
      "import { Redis } from 'ioredis';",
      /the allocator never imports a store/,
    ],
    [
      'src/store/redis/x.ts',
      "import { createLayout } from '../../allocator/snowflake/layout.js';",
      /a store never imports the allocator/,
    ],
    [
      'src/store/embedded/x.ts',
      "import { RedisStore } from '../redis/store.js';",
      /do not import each other/,
    ],
    [
      'src/store/refusals-x.ts',
      "import { RedisStore } from './redis/store.js';",
      /only src\/store\/open\.ts/,
    ],
    [
      'src/http/x.ts',
      "import { openStore } from '../store/open.js';",
      /HTTP routes import no store/,
    ],
    [
      'src/client/x.ts',
      "import { Redis } from 'ioredis';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/client/x.ts',
      "import type { IdAllocator } from '../allocator/types.js';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/client/x.ts',
      "import { DatabaseSync } from 'node:sqlite';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/startup.ts',
      "import { RedisStore } from './store/redis/store.js';",
      /only src\/store\/open\.ts/,
    ],
    [
      'src/cli/x.ts',
      "import { EmbeddedStore } from '../store/embedded/store.js';",
      /only src\/store\/open\.ts/,
    ],
  ])('refuses in %s: %s', async (path, code, why) => {
    const messages = await refusals(path, `${code}\nexport const unused = 1;\n`);
    expect(messages.some((m) => why.test(m))).toBe(true);
  });

  it.each([
    [
      'src/client/x.ts',
      "import { createHash } from 'node:crypto';\nimport { z } from 'zod';\nimport { silentLog } from '../core/time-and-log.js';\nimport { Range } from './buffer.js';",
    ],
    ['src/allocator/x.ts', "import type { SegmentStore } from '../core/store-ports.js';"],
    ['src/http/x.ts', "import type { TagStore } from '../core/store-ports.js';"],
    [
      'src/store/open.ts',
      "import { RedisStore } from './redis/store.js';\nimport { EmbeddedStore } from './embedded/store.js';",
    ],
    ['src/lib.ts', "import { openLibraryStore } from './store/open.js';"],
  ])('allows in %s what the layout allows', async (path, code) => {
    expect(await refusals(path, `${code}\nexport const unused = 1;\n`)).toEqual([]);
  });
});
