/**
 * The embedded store as the service and the admin script use it (docs/design.md §11): its file and
 * settings, durability across reopen and a killed process, several processes on one
 * file, the admin script on it, and an allocator serving from it. What both stores do
 * alike is specified once in store-contract.test.ts.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { WorkerLease } from '../../src/allocator/snowflake/lease.js';
import { loadConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/core/errors.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { openStore, storeWarning } from '../../src/store/open.js';
import { FakeTime } from '../support/snowflake-fakes.js';
import { segmentTag, testStore } from '../support/store.js';
import { storeSettings } from '../../src/config/options.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** No Redis setting may leak in from the outer environment. */
const NO_REDIS = { REDIS_URL: '', REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '' };

let dataDir: string;
const open: EmbeddedStore[] = [];
function openEmbedded(opts: { busyTimeoutMs?: number; now?: () => number } = {}): EmbeddedStore {
  const store = new EmbeddedStore({ dataDir, ...opts });
  open.push(store);
  return store;
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-embedded-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** A child drawing segments (test/support/embedded-allocate.ts), its grants as they come. */
interface Drawer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly grants: [bigint, bigint][];
  /** Resolves once the child printed `ready`. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (or the signal) and stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  /** Resolves once `n` grants were printed. */
  granted(n: number): Promise<void>;
}

function drawer(tag: string, rounds: number, count: number, pauseMs = 0): Drawer {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/support/embedded-allocate.ts',
      dataDir,
      tag,
      String(rounds),
      String(count),
      String(pauseMs),
    ],
    { cwd: ROOT, env: { ...process.env, ...NO_REDIS } },
  );
  const grants: [bigint, bigint][] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') markReady();
    const m = /^(\d+) (\d+)$/.exec(line);
    if (m) grants.push([BigInt(m[1]!), BigInt(m[2]!)]);
    for (const w of waiters.filter((w) => grants.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return {
    child,
    grants,
    ready,
    exited,
    granted: (n) =>
      grants.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

function admin(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
      { cwd: ROOT, timeout: 20_000, env: { ...process.env, ...NO_REDIS, DATA_DIR: dataDir } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

describe('EmbeddedStore file and settings', () => {
  it('creates DATA_DIR and idalloc.db in it, running WAL with synchronous FULL', () => {
    const nested = join(dataDir, 'a', 'b');
    const store = new EmbeddedStore({ dataDir: nested });
    open.push(store);
    expect(store.path).toBe(join(nested, 'idalloc.db'));
    expect(store.settings()).toEqual({
      path: join(nested, 'idalloc.db'),
      journalMode: 'wal',
      synchronous: 2,
      busyTimeoutMs: 5000,
    });
  });

  it('is what openStore gives without Redis settings, with a one-host notice to log first', async () => {
    const store = openStore(storeSettings(loadConfig({ DATA_DIR: dataDir })));
    expect(store).toBeInstanceOf(EmbeddedStore);
    open.push(store as EmbeddedStore);
    expect(store.kind).toBe('embedded');
    const warning = storeWarning(store);
    expect(warning).toContain(join(dataDir, 'idalloc.db'));
    expect(warning).toContain('serves this host only');
    expect(warning).toContain('set REDIS_URL');
    expect(warning).toContain("move the tags there with 'idalloc-admin tag export'");
    const redis = testStore(inject('redisUrl'));
    expect(storeWarning(redis)).toBeUndefined();
    await redis.close();
  });

  it('refuses a DATA_DIR it cannot create, naming it, with a ConfigError', () => {
    const file = join(dataDir, 'plain-file');
    writeFileSync(file, 'not a directory');
    const bad = join(file, 'data');
    expect(() => new EmbeddedStore({ dataDir: bad })).toThrow(ConfigError);
    expect(() => new EmbeddedStore({ dataDir: bad })).toThrow(
      new RegExp(
        `^DATA_DIR="${bad}": cannot create or write the directory \\(ENOTDIR.*set REDIS_URL to use Redis$`,
      ),
    );
  });

  it('refuses an idalloc.db that is not a SQLite database, writing nothing to it', () => {
    writeFileSync(join(dataDir, 'idalloc.db'), 'x'.repeat(4096));
    expect(() => new EmbeddedStore({ dataDir })).toThrow(
      /^DATA_DIR=".*": the embedded store .*idalloc\.db is not a SQLite database \(no SQLite header\); move it \(with its -wal and -shm\) away and recreate the tags with 'tag import' of the latest export/,
    );
  });

  it('fails UNAVAILABLE, writing nothing, while another process holds the write lock past the busy timeout', async () => {
    const store = openEmbedded({ busyTimeoutMs: 50 });
    await store.createTag(segmentTag('order', { step: 10 }));
    const other = new DatabaseSync(store.path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.allocate('order', 0, false)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message:
          "embedded store unavailable during allocation for 'order' (the file is locked by another writer)",
      });
      expect(await store.ping()).toBe(true); // reads go on under WAL
      expect((await store.getTag('order'))?.next).toBe(1n);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1n, end: 10n });
  });
});

describe('EmbeddedStore durability', () => {
  it('continues above every grant after close and reopen', async () => {
    const first = openEmbedded();
    await first.createTag(segmentTag('order', { step: 100 }));
    await first.allocate('order', 0, false);
    expect(await first.allocate('order', 0, false)).toMatchObject({ start: 101n, end: 200n });
    await first.close();
    const again = openEmbedded();
    expect(await again.allocate('order', 0, false)).toMatchObject({ start: 201n, end: 300n });
  });

  it('keeps every grant a killed process reported: the next one starts above them', async () => {
    const setup = openEmbedded();
    await setup.createTag(segmentTag('order', { step: 10 }));
    const d = drawer('order', 0, 10);
    await d.ready;
    d.child.stdin.write('go\n');
    await d.granted(50);
    d.child.kill('SIGKILL');
    await d.exited;
    const highest = d.grants.reduce((m, [, end]) => (end > m ? end : m), 0n);
    expect(highest).toBeGreaterThanOrEqual(500n);
    const after = await setup.allocate('order', 1, false);
    expect(after.start).toBeGreaterThan(highest);
  });
});

describe('EmbeddedStore shared by processes of one host', () => {
  it('gives three processes drawing 200 segments each, taking turns, disjoint ranges that tile 1..6000', async () => {
    const setup = openEmbedded();
    await setup.createTag(segmentTag('order', { step: 10 }));
    const drawers = [0, 1, 2].map(() => drawer('order', 200, 10, 1));
    await Promise.all(drawers.map((d) => d.ready));
    for (const d of drawers) d.child.stdin.write('go\n');
    const exits = await Promise.all(drawers.map((d) => d.exited));
    expect(exits).toEqual([0, 1, 2].map(() => ({ code: 0, stderr: '' })));
    const owner = new Map(drawers.flatMap((d, i) => d.grants.map((g) => [g[0], i] as const)));
    const all = drawers.flatMap((d) => d.grants).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expect(all).toHaveLength(600);
    let expected = 1n;
    for (const [start, end] of all) {
      expect([start, end - start]).toEqual([expected, 9n]);
      expected = end + 1n;
    }
    expect((await setup.getTag('order'))?.next).toBe(6001n);
    // More than the two switches of a run one process after another: they took turns.
    let switches = 0;
    for (let i = 1; i < all.length; i++) {
      if (owner.get(all[i]![0]) !== owner.get(all[i - 1]![0])) switches++;
    }
    expect(switches).toBeGreaterThan(2);
  });

  it('is managed by the admin script with no Redis setting, while the store is open', async () => {
    const store = openEmbedded();
    const created = await admin(['tag', 'create', 'order', '--step', '50', '--start', '1000']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain("created segment tag 'order': next ID 1000, step 50");
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1000n, end: 1049n });
    const bumped = await admin(['tag', 'bump', 'order', '--by', '1000', '--json']);
    expect(bumped.code).toBe(0);
    expect(JSON.parse(bumped.stdout)).toMatchObject({ previous: '1050', next: '2050' });
    const listed = await admin(['tag', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({ tags: [{ name: 'order', next: '2050' }] });
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 2050n });
    const deleted = await admin(['tag', 'delete', 'order', '--yes']);
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    await expect(store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
  });
});

describe('the admin script on a restored embedded file', () => {
  it('says on stderr that the file is not the one last written; a dry-run import writes nothing', async () => {
    const backup = mkdtempSync(join(tmpdir(), 'idalloc-embedded-copy-'));
    const files = (from: string, to: string) => {
      for (const s of ['', '-wal', '-shm']) {
        rmSync(join(to, `idalloc.db${s}`), { force: true });
        if (existsSync(join(from, `idalloc.db${s}`))) {
          copyFileSync(join(from, `idalloc.db${s}`), join(to, `idalloc.db${s}`));
        }
      }
    };
    try {
      expect(await admin(['tag', 'create', 'order', '--gap', '1000'])).toMatchObject({ code: 0 });
      const file = join(backup, 'tags.json');
      expect(await admin(['tag', 'export', '--out', file])).toMatchObject({ code: 0 });
      files(dataDir, backup);
      expect(await admin(['tag', 'bump', 'order', '--to', '500'])).toMatchObject({ code: 0 });
      files(backup, dataDir);
      const witness = readFileSync(join(dataDir, 'idalloc.witness'), 'utf8');
      const dry = await admin(['tag', 'import', file, '--dry-run']);
      expect(dry).toMatchObject({ code: 0, stderr: '' });
      expect(dry.stdout).toMatch(/would raise segment tag 'order'.*: next ID 1 -> 1001/);
      expect(readFileSync(join(dataDir, 'idalloc.witness'), 'utf8')).toBe(witness);
      const bumped = await admin(['tag', 'bump', 'order', '--by', '1']);
      expect(bumped.code).toBe(0);
      expect(bumped.stderr).toMatch(
        /^idalloc-admin: warning: the embedded store \S+idalloc\.db is not the file last written here \(.*\): it was restored/,
      );
      expect(bumped.stdout).toContain('next ID 1001 -> 1002');
    } finally {
      rmSync(backup, { recursive: true, force: true });
    }
  });
});

describe('an allocator serving from the embedded store', () => {
  it('hands out increasing IDs, and after a restart only IDs above them', async () => {
    const store = openEmbedded();
    await store.createTag(segmentTag('order', { step: 100 }));
    const ids = createAllocator({ store });
    const seen: bigint[] = [];
    for (let i = 0; i < 250; i++) seen.push(await ids.next('order'));
    seen.push(...(await ids.nextBatch('order', 120)));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 1]! + 1n);
    expect(seen[0]).toBe(1n);
    await ids.close();
    await store.close();

    const restarted = openEmbedded();
    const again = createAllocator({ store: restarted });
    const next = await again.next('order');
    expect(next).toBeGreaterThan(seen.at(-1)!);
    await again.close();
  });
});

describe('snowflake worker leases on the embedded store', () => {
  const LEASE = 30_000;
  /** A node: its own connection to the file (as a process has), on the shared fake time. */
  const node = (time: FakeTime) =>
    new WorkerLease({
      store: openEmbedded({ now: time.clock.now }).workerLeases(),
      workerCount: 4,
      leaseMs: LEASE,
      clock: time.clock,
      schedule: time.schedule,
      random: () => 0,
    });

  it('gives two nodes different worker IDs, and a restarted node the released one at once', async () => {
    const time = new FakeTime();
    const t0 = time.t;
    const a = node(time);
    const b = node(time);
    await a.start();
    await b.start();
    // A fresh file has no horizons, and the file loses none it committed: no one used
    // these worker IDs, so both start at once (Redis would fence them for one lease).
    // (the next millisecond: a process on a file that went may still mint in this one)
    expect(a.current()).toMatchObject({ workerId: 0, floor: t0 + 1 });
    expect(b.current()).toMatchObject({ workerId: 1, floor: t0 + 1 });
    await time.advance(LEASE * 2);
    expect(a.current()?.horizon).toBeGreaterThanOrEqual(time.t + LEASE / 2);
    const settle = time.t - 5;
    await a.close(settle);

    const restarted = node(time);
    await restarted.start();
    expect(restarted.current()).toMatchObject({ workerId: 0, floor: settle + 1 });
    expect(restarted.reason).toBeUndefined();
    expect(b.current()?.workerId).toBe(1);
    await Promise.all([b.close(time.t), restarted.close(time.t)]);
  });
});
