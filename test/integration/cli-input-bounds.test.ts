/**
 * What the admin script reads is bounded (issue 15): `audit` and `tag import` as real
 * processes over /dev/zero, a FIFO with no writer, an endless line on stdin and a file too
 * large, each ending with a clear message and exit 2 — never a hang or a heap that grows
 * until the machine swaps. Needs no Redis (an embedded store in a temporary DATA_DIR).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GRANT_MSG, grantLine } from '../../src/core/grant-log.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'idalloc-input-bounds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The admin script with `args`; stdin from `stdinFile` (else empty); killed after 60 s. */
function admin(args: readonly string[], stdinFile?: string): Promise<Run> {
  const started = Date.now();
  const fd = stdinFile === undefined ? 'pipe' : openSync(stdinFile, 'r');
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: join(dir, 'data') },
      stdio: [fd, 'pipe', 'pipe'],
    },
  );
  if (typeof fd === 'number') closeSync(fd);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

const grant = JSON.stringify({
  msg: GRANT_MSG,
  grant: grantLine({ kind: 'segment', tag: 'order', start: 1n, end: 10n }, 'a', Date.now()),
});

describe('audit input bounds', () => {
  it('refuses a device such as /dev/zero by name, at once', async () => {
    const r = await admin(['audit', '/dev/zero']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^idalloc-admin: '\/dev\/zero' is a character device, not a file/);
  });

  it('gives up on a line without end on stdin (/dev/zero piped in) after 1 MiB', async () => {
    const r = await admin(['audit', '--json'], '/dev/zero');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(JSON.parse(r.stderr)).toEqual({
      error: {
        code: 'UNREADABLE',
        message: expect.stringMatching(
          /^line 1 of stdin is longer than 1 MiB with no end/,
        ) as unknown,
      },
    });
  });

  it('gives up on a FIFO with no writer after the idle timeout, and reads one with a writer', async () => {
    const silent = fifo('silent');
    const r = await admin(['audit', silent, '--idle-timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no data from '.*silent' for 1 s \(a FIFO with no writer\?/);
    expect(r.ms).toBeLessThan(30_000);

    const fed = fifo('fed');
    const source = join(dir, 'grants.log');
    writeFileSync(source, `${grant}\n`);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fed]);
    const ok = await admin(['audit', fed, '--idle-timeout', '30']);
    writer.kill();
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/1 grant lines .*no ID was granted twice/);
  });

  it('refuses an idle timeout that is not a number of seconds', async () => {
    const r = await admin(['audit', '--idle-timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--idle-timeout soon is not allowed: expected seconds/);
  });
});

describe('tag import and export input bounds', () => {
  it('refuses /dev/zero and a FIFO with no writer at once, before opening any store', async () => {
    const zero = await admin(['tag', 'import', '/dev/zero']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/'\/dev\/zero' is a character device, not a file/);
    const silent = fifo('import-fifo');
    const r = await admin(['tag', 'import', silent]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /is a FIFO \(named pipe\), which may have no writer .*copy it to a file first/,
    );
    expect(r.ms).toBeLessThan(30_000);
  });

  it('refuses an export file over 256 MiB without reading it', async () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, 300 * 1024 * 1024); // sparse: no disk used
    const r = await admin(['tag', 'import', big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'.*big\.json' is 300 MiB, more than the 256 MiB this command reads/);
  });

  it('refuses to export over a FIFO (its old content is read first, to guard it)', async () => {
    const out = fifo('export-fifo');
    const r = await admin(['tag', 'export', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to write the export: '.*export-fifo' is a FIFO/);
  });
});
