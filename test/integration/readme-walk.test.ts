/**
 * The README tried from the top as a newcomer would: the quick start's commands, then
 * every example of the HTTP API (docs/api.md), then the admin script's transcripts (the
 * README's, and docs/admin.md's export and import) — each command as the file writes it,
 * against a real service on the embedded store. Only the address differs
 * (`localhost:8080` is this test's port), and the transcripts, which the docs show on a
 * store of their own, run with `idalloc-admin` (what `npm run admin --` runs)
 * in a directory of the test's.
 */
import { exec } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlock, readmeBlock as blockAfter } from '../support/readme-procedure.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const sh = promisify(exec);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);

let dir: string;
let service: ServiceProcess;

/** A README command line: the command and its trailing `# comment`, if any. */
function split(line: string): { command: string; comment: string } {
  const m = /^(.*?\S)\s+#\s(.*)$/.exec(line);
  return m ? { command: m[1]!, comment: m[2]! } : { command: line.trim(), comment: '' };
}

/** Runs `command` with `sh`; `out` is its stdout, with `merge` its stderr too (a terminal's view). */
async function run(
  command: string,
  cwd: string,
  env: Record<string, string>,
  merge = false,
): Promise<{ code: number; out: string }> {
  try {
    const r = await sh(merge ? `exec 2>&1\n${command}` : command, {
      cwd,
      env: { PATH, HOME: process.env.HOME ?? '/root', ...env },
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '' };
  }
}

/** Runs a ```sh block of the README line by line in this checkout, as a reader would. */
async function runShBlock(block: string): Promise<void> {
  for (const line of block.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const { command, comment } = split(line);
    const real = command.replaceAll('localhost:8080', `127.0.0.1:${service.port}`);
    const r = await run(real, ROOT, { DATA_DIR: join(dir, 'data') });
    expect({ line, code: r.code }).toEqual({ line, code: 0 });
    // What the comment promises: JSON with the same fields, or no error at all.
    expect(r.out, line).not.toMatch(/^\{"error":/);
    const want = jsonOrUndefined(comment);
    if (want !== undefined) {
      const got = JSON.parse(r.out) as Record<string, unknown>;
      expect(Object.keys(got).sort(), line).toEqual(Object.keys(want).sort());
    }
    ran.push(real);
  }
}

/** Every command the sh blocks ran (the test checks the walk really ran them). */
const ran: string[] = [];

/** A comment that is a JSON object (the answer a command shows), else undefined. */
function jsonOrUndefined(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined; // prose, or an elided answer ("…")
  }
}

/** ISO times and, with `digits`, every number become placeholders. */
function normal(text: string, digits = false): string {
  const t = text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>');
  return digits ? t.replace(/\d+/g, 'N') : t;
}

/**
 * Runs a README transcript (`$ command` lines, each followed by what it prints) and
 * compares every output; a line `  …` in the README stands for the rest of the output.
 */
async function runTranscript(block: string, cwd: string, digits = false): Promise<void> {
  const steps: { command: string; expected: string[] }[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (line.trim() !== '') steps.at(-1)?.expected.push(line);
  }
  expect(steps.length).toBeGreaterThan(1);
  for (const step of steps) {
    const { command } = split(step.command);
    const real = command.replace(/^npm run admin --/, 'idalloc-admin');
    const env = { DATA_DIR: join(cwd, 'data'), PATH: `${join(dir, 'bin')}${delimiter}${PATH}` };
    const r = await run(real, cwd, env, true);
    let got = r.out.split('\n').filter((l) => l.trim() !== '');
    const elided = step.expected.indexOf('  …');
    let want = step.expected;
    if (elided >= 0) {
      // The README shows the head of a long output, then its last line (an exit code).
      got = [...got.slice(0, elided), ...got.slice(-(want.length - elided - 1))];
      want = [...want.slice(0, elided), ...want.slice(elided + 1)];
    }
    expect(normal(got.join('\n'), digits), step.command).toBe(normal(want.join('\n'), digits));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idalloc-readme-'));
  // `idalloc-admin` as the package installs it (this checkout's script), for the transcripts.
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const shim = join(bin, 'idalloc-admin');
  const tsx = import.meta.resolve('tsx');
  const script = join(ROOT, 'src/cli/admin.ts');
  await writeFile(
    shim,
    `#!/bin/sh\nexec '${process.execPath}' --import '${tsx}' '${script}' "$@"\n`,
  );
  await chmod(shim, 0o755);
  service = await startServiceProcess({ DATA_DIR: join(dir, 'data') }, 30_000);
}, 60_000);

afterAll(async () => {
  await service?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the README, from the top', () => {
  it('quick start: creates a tag and takes IDs as written', async () => {
    await runShBlock(blockAfter('## Quick start', 'Then create a tag and take IDs'));
    expect(ran).toEqual([
      'npm run admin -- tag create order',
      `curl 127.0.0.1:${service.port}/v1/ids/order`,
      `curl '127.0.0.1:${service.port}/v1/ids/order?count=3'`,
    ]);
  }, 120_000);

  it('HTTP API: every example answers without an error', async () => {
    ran.length = 0;
    await runShBlock(docBlock('docs/api.md', '# HTTP API', 'The examples use the tag'));
    expect(ran.length).toBeGreaterThanOrEqual(15);
  }, 120_000);

  it('authentication: the service started as shown takes the token and refuses without it', async () => {
    const [start, ...curls] = docBlock('docs/api.md', '## Authentication')
      .split('\n')
      .filter((l) => l.trim() !== '');
    // The first line starts the service with the variables it sets (on the quick start's
    // store, beside the plain service, as a reader's second terminal would).
    const m = /^((?:[A-Z_]+=\S+ )+)npm start$/.exec(split(start!).command);
    expect(m, start).not.toBeNull();
    const vars = Object.fromEntries(
      m![1]!
        .trim()
        .split(' ')
        .map((kv) => kv.split('=', 2)),
    );
    expect(vars).toHaveProperty('API_TOKENS');
    const guarded = await startServiceProcess({ DATA_DIR: join(dir, 'data'), ...vars }, 30_000);
    try {
      expect(curls).toHaveLength(2);
      for (const line of curls) {
        const { command, comment } = split(line);
        const real = command.replaceAll('localhost:8080', `127.0.0.1:${guarded.port}`);
        const r = await run(real, ROOT, {});
        expect({ line, code: r.code }).toEqual({ line, code: 0 });
        const got = JSON.parse(r.out) as Record<string, unknown>;
        const refusal = /^(\d{3}) .*"code":"([A-Z_]+)"/.exec(comment);
        if (refusal) {
          // `401 {"error":{"code":"UNAUTHORIZED",…}}`: the body names that code.
          expect(got, line).toMatchObject({ error: { code: refusal[2] } });
        } else {
          expect(Object.keys(got).sort(), line).toEqual(
            Object.keys(jsonOrUndefined(comment)!).sort(),
          );
          expect(got).not.toHaveProperty('error');
        }
      }
    } finally {
      await guarded.dispose();
    }
  }, 120_000);

  it('admin script: the transcript prints what the README shows', async () => {
    const own = await mkdtemp(join(dir, 'admin-'));
    await runTranscript(blockAfter('## Admin script', '**Deleting a segment tag**'), own);
  }, 180_000);

  it('admin script: export, then a dry-run import, as shown', async () => {
    const own = await mkdtemp(join(dir, 'transfer-'));
    // The store the README's example starts from: the quick start's tags.
    const env = { DATA_DIR: join(own, 'data'), PATH: `${join(dir, 'bin')}${delimiter}${PATH}` };
    await run(
      'idalloc-admin tag create order && idalloc-admin tag create events --mode snowflake && idalloc-admin tag bump order --by 9000',
      own,
      env,
    );
    await runTranscript(docBlock('docs/admin.md', '# Admin script', 'One line per tag'), own, true);
  }, 120_000);
});
