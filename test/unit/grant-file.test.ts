/**
 * GRANT_LOG checks every write (src/grants/file.ts): a write to /dev/full or cut short
 * by a file size limit is an error the allocator acts on — the grant is not served, no
 * grant is taken while the log fails, one log line says so (not one per grant) — a cut
 * line is ended before the next, the log recovers by itself, SIGHUP's reopen follows a
 * rotation, a symbolic link is refused, and each worker of a node has its own name.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import { ConfigError } from '../../src/core/errors.js';
import { ErrorCode } from '../../src/core/errors.js';
import { PROBE_MS } from '../../src/grants/file.js';
import { GrantLogError } from '../../src/core/errors.js';
import type { GrantEvent } from '../../src/core/grant-log.js';
import { createGrantLog } from '../../src/grants/log.js';
import { openGrantLog } from '../../src/service/startup.js';
import { FakeSegmentStore } from '../support/fake-segment-store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'grant-file-'));
  dirs.push(d);
  return d;
}

/** A log that keeps what it is told, with the objects (to see that no stack is in them). */
function memoryLog() {
  const errors: { obj: object; msg: string }[] = [];
  const infos: { obj: object; msg: string }[] = [];
  return {
    errors,
    infos,
    info: (obj: object, msg: string) => infos.push({ obj, msg }),
    warn: () => {},
    error: (obj: object, msg: string) => errors.push({ obj, msg }),
  };
}

const segment = (start: bigint): GrantEvent => ({
  kind: 'segment',
  tag: 'order',
  start,
  end: start + 9n,
});

describe('GRANT_LOG on a full disk (/dev/full)', () => {
  it('refuses each grant with an error naming the grant log, said once in the log', () => {
    const log = memoryLog();
    const grants = createGrantLog(log, { nodeId: 'n1', file: '/dev/full' });
    for (let i = 0; i < 10; i++) {
      expect(() => grants.record(segment(BigInt(i * 10 + 1)))).toThrow(GrantLogError);
    }
    let caught: unknown;
    try {
      grants.record(segment(1000n));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message:
        'the grant log cannot be written (GRANT_LOG=/dev/full: cannot write to it: ENOSPC): this node serves no IDs whose grant it cannot record',
    });
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]!.msg).toMatch(
      /^GRANT_LOG=\/dev\/full: cannot write to it: ENOSPC: no new IDs/,
    );
    expect(JSON.stringify(log.errors[0]!.obj)).not.toMatch(/stack|\bat /);
    expect(grants.check()).toBe('GRANT_LOG=/dev/full: cannot write to it: ENOSPC');
    grants.close();
  });

  it('makes the segment allocator serve none of the grant and take no other', async () => {
    const store = new FakeSegmentStore();
    const log = memoryLog();
    const grants = createGrantLog(log, { nodeId: 'n1', file: '/dev/full' });
    const allocator = new SegmentAllocator({
      store,
      log,
      grants,
      options: { fetchTimeoutMs: 300 },
    });
    // The first grant is taken, its line fails: not served; the answer names the log.
    await expect(allocator.next('order')).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: expect.stringMatching(/^the grant log cannot be written \(GRANT_LOG=\/dev\/full/),
    });
    expect(store.calls).toHaveLength(1);
    // While the log fails, no grant is asked of the store at all.
    await expect(allocator.lease('order', 10)).rejects.toBeInstanceOf(GrantLogError);
    await expect(allocator.nextBatch('order', 5)).rejects.toBeInstanceOf(GrantLogError);
    expect(store.calls).toHaveLength(1);
    expect(log.errors).toHaveLength(1);
    await allocator.close();
    grants.close();
  });
});

describe('GRANT_LOG with a file size limit (a write cut short)', () => {
  it('writes the rest of a short write, refuses the grant when it cannot, ends the cut line', () => {
    const file = join(tempDir(), 'grants.log');
    // 1 block of 1024 bytes: the write that reaches it is cut short, the next refused.
    const out = execFileSync(
      'bash',
      [
        '-c',
        'ulimit -f 1; exec "$0" --import tsx test/support/grant-file-limited.ts "$1"',
        process.execPath,
        file,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const r = JSON.parse(out) as {
      recorded: number;
      failure: string;
      againFailure: string;
      errors: string[];
      check: string | null;
    };
    const refused = `the grant log cannot be written (GRANT_LOG=${file}: cannot write to it: EFBIG): this node serves no IDs whose grant it cannot record`;
    // Some grants fit; the one cut short is refused (its line could not be finished)...
    expect(r.recorded).toBeGreaterThan(2);
    expect(r.failure).toBe(refused);
    // ...and so is the next, without a write; one error line in all.
    expect(r.againFailure).toBe(refused);
    expect(r.errors).toHaveLength(1);
    // Room made: the log recovered at its next probe, and the grant after was written.
    expect(r.check).toBeNull();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(4); // a cut line, the note, a grant line, '' after the last \n
    expect(lines[0]).toHaveLength(40); // what the truncation left of the first line
    expect(JSON.parse(lines[1]!)).toMatchObject({
      msg: 'grant log writable again',
      after: `GRANT_LOG=${file}: cannot write to it: EFBIG`,
      refused: 2,
    });
    expect(JSON.parse(lines[2]!)).toMatchObject({
      msg: 'grant',
      grant: { node: 'limited', start: '200001', end: '200100' },
    });
  });

  it('leaves in the file whole lines only for the grants it recorded, the cut one last', () => {
    const file = join(tempDir(), 'grants.log');
    writeFileSync(file, '');
    // Without the truncation of the script above: stop right after the failure.
    const out = execFileSync(
      'bash',
      [
        '-c',
        'ulimit -f 1; exec "$0" --import tsx -e "$1" "$2"',
        process.execPath,
        `import { createGrantLog } from './src/grants/log.ts';
         process.on('SIGXFSZ', () => {});
         const g = createGrantLog({ info() {}, error() {} }, { nodeId: 'n', file: process.argv[1] });
         let n = 0;
         try { for (;;) { g.record({ kind: 'segment', tag: 'order', start: BigInt(n * 10 + 1), end: BigInt(n * 10 + 10) }); n++; } }
         catch { process.stdout.write(String(n)); }`,
        file,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const recorded = Number(out);
    const text = readFileSync(file, 'utf8');
    expect(text.length).toBe(1024);
    const lines = text.split('\n');
    // Every recorded grant is a whole line; what follows is the refused one, cut.
    expect(lines).toHaveLength(recorded + 1);
    lines.slice(0, recorded).forEach((l, i) => {
      expect(JSON.parse(l)).toMatchObject({ grant: { start: String(i * 10 + 1) } });
    });
    expect(lines[recorded]!.length).toBeGreaterThan(0);
    expect(() => JSON.parse(lines[recorded]!)).toThrow();
  });
});

describe('GRANT_LOG: recovery, rotation, symbolic links, worker names', () => {
  it('recovers by itself once the file can be opened again, tried at most every probe interval', () => {
    const dir = tempDir();
    const file = join(dir, 'logs', 'grants.log');
    mkdirSync(join(dir, 'logs'));
    const log = memoryLog();
    let t = 0;
    const grants = createGrantLog(log, { nodeId: 'n1', file, now: () => t });
    grants.record(segment(1n));
    rmSync(join(dir, 'logs'), { recursive: true });
    // A reopen that fails (the directory went) leaves the log failing: no grant recorded.
    expect(grants.reopen()).toMatch(/cannot reopen it: ENOENT$/);
    expect(() => grants.record(segment(11n))).toThrow(GrantLogError);
    mkdirSync(join(dir, 'logs'));
    expect(grants.check()).toMatch(/ENOENT/); // not tried again before the interval
    t += PROBE_MS;
    expect(grants.check()).toBeUndefined();
    grants.record(segment(21n));
    grants.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'grant log writable again',
      'grant',
    ]);
    expect(log.errors).toHaveLength(1);
    expect(log.infos.map((i) => i.msg)).toEqual([
      `GRANT_LOG=${file}: writable again; grants are served again`,
    ]);
  });

  it('reopen() after a rename-and-delete rotation writes to the new file', () => {
    const dir = tempDir();
    const file = join(dir, 'grants.log');
    const grants = createGrantLog(memoryLog(), { nodeId: 'n1', file });
    grants.record(segment(1n));
    renameSync(file, `${file}.1`);
    unlinkSync(`${file}.1`);
    expect(grants.reopen()).toBeUndefined();
    grants.record(segment(11n));
    grants.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ grant: { start: '11' } });
  });

  it('refuses a symbolic link with one line naming the path and why', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'real.log'), '');
    symlinkSync(join(dir, 'real.log'), join(dir, 'link.log'));
    const config = { file: join(dir, 'link.log') };
    expect(() => openGrantLog(config, memoryLog())).toThrow(ConfigError);
    expect(() => openGrantLog(config, memoryLog())).toThrow(
      `GRANT_LOG=${join(dir, 'link.log')}: is a symbolic link; refused: set GRANT_LOG to the file itself`,
    );
  });

  it('names each worker of a node apart: NODE_ID/w<k>', () => {
    expect(openGrantLog({ nodeId: 'web-3' }, memoryLog(), { worker: 2 }).nodeId).toBe('web-3/w2');
    expect(openGrantLog({ nodeId: 'web-3' }, memoryLog()).nodeId).toBe('web-3');
    // hostname:pid differs per worker process by itself.
    expect(openGrantLog({}, memoryLog(), { worker: 2 }).nodeId).toMatch(
      new RegExp(`:${process.pid}$`),
    );
  });
});
