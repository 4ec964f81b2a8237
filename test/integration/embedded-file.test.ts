/**
 * The embedded store's file as the record of what was issued (README "Stores →
 * Embedded"): what is refused at start (0 bytes, not SQLite, another application's
 * database, a damaged page) with one line; a file deleted or replaced under a running
 * store fails closed — UNAVAILABLE, `/readyz` 503, `idalloc_store_up 0`, one log line,
 * the orphan closed — in-process and in a real service process.
 */
import { execFile } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APPLICATION_ID } from '../../src/store/embedded/file-check.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import {
  SnowflakeGenerator,
  createLayout,
  decodeSnowflake,
} from '../../src/allocator/snowflake/index.js';
import { find, parseExposition } from '../support/http.js';
import {
  runServiceToExit,
  startServiceProcess,
  type ServiceProcess,
} from '../support/service-process.js';
import { segmentTag } from '../support/store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dataDir: string;
let dbPath: string;
const open: EmbeddedStore[] = [];
const services: ServiceProcess[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-file-'));
  dbPath = join(dataDir, 'idalloc.db');
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.dispose()));
  await Promise.all(open.splice(0).map((s) => s.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

interface Logged {
  readonly obj: object;
  readonly msg: string;
}

function openStore(log?: Logged[]): EmbeddedStore {
  const store = new EmbeddedStore({
    dataDir,
    ...(log ? { log: { error: (obj: object, msg: string) => log.push({ obj, msg }) } } : {}),
  });
  open.push(store);
  return store;
}

/** A store at dataDir holding `order` (step 100), closed again. */
async function seed(start = 1n): Promise<void> {
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order', { step: 100, start }));
  await store.close();
}

const refusal = (fault: string) =>
  new RegExp(
    `^DATA_DIR="[^"]+": the embedded store \\S+idalloc\\.db ${fault}.*; move it \\(with its -wal and -shm\\) away and recreate the tags with 'tag import' of the latest export, the one-command safe way; or put back a copy of the file \\(a restored copy is detected and each tag skips its gap on its next grant: safe if fewer IDs than the gap were issued since the copy, and if the copy comes back as a new file, not copied over the old one in place, or without idalloc\\.witness\\);.*a new store is created only where no file exists$`,
  );

describe('the embedded store file at start', () => {
  it('creates a new store with idalloc application_id only where no file exists', async () => {
    const store = openStore();
    await store.createTag(segmentTag('order'));
    const db = new DatabaseSync(dbPath, { readOnly: true });
    expect(db.prepare('PRAGMA application_id').get()?.application_id).toBe(APPLICATION_ID);
    db.close();
    // No temporary file of the creation is left behind.
    expect(readdirSync(dataDir).filter((f) => f.includes('.new-'))).toEqual([]);
  });

  it('refuses a 0-byte file with one line naming it and the way out, and leaves it empty', () => {
    writeFileSync(dbPath, '');
    expect(() => new EmbeddedStore({ dataDir })).toThrow(refusal('is empty \\(0 bytes\\)'));
    expect(statSync(dbPath).size).toBe(0);
  });

  it('refuses a SQLite database of another application', () => {
    const other = new DatabaseSync(dbPath);
    other.exec('CREATE TABLE notes (body TEXT)');
    other.close();
    expect(() => new EmbeddedStore({ dataDir })).toThrow(
      refusal('is a SQLite database without the tables of idalloc'),
    );
    const foreign = new DatabaseSync(dbPath);
    foreign.exec('PRAGMA application_id = 42');
    foreign.close();
    expect(() => new EmbeddedStore({ dataDir })).toThrow(
      refusal('is a SQLite database of another application \\(application_id 42'),
    );
  });

  it('refuses a file whose page 2 holds random bytes (the tags table), naming the fault', async () => {
    await seed();
    const pageSize = 4096;
    expect(statSync(dbPath).size).toBeGreaterThanOrEqual(2 * pageSize);
    const fd = openSync(dbPath, 'r+');
    writeSync(fd, randomBytes(pageSize), 0, pageSize, pageSize);
    closeSync(fd);
    expect(() => new EmbeddedStore({ dataDir })).toThrow(
      refusal('(fails PRAGMA quick_check|is damaged) \\(.+\\)'),
    );
  });

  it('accepts a file of an idalloc from before the application_id, and marks it', async () => {
    await seed(500n);
    const db = new DatabaseSync(dbPath);
    db.exec('PRAGMA application_id = 0');
    db.close();
    const store = openStore();
    expect((await store.getTag('order'))?.next).toBe(500n);
    const check = new DatabaseSync(dbPath, { readOnly: true });
    expect(check.prepare('PRAGMA application_id').get()?.application_id).toBe(APPLICATION_ID);
    check.close();
  });

  it('the service refuses to start on a 0-byte file: exit 1, one line on stderr', async () => {
    writeFileSync(dbPath, '');
    const run = await runServiceToExit({ DATA_DIR: dataDir });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(refusal('is empty \\(0 bytes\\)'));
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('the admin script refuses a damaged file with one line (and still creates a missing one)', async () => {
    writeFileSync(dbPath, 'not a database at all, but long enough to have a header');
    const bad = await admin(['tag', 'list']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^idalloc-admin: DATA_DIR=.*idalloc\.db is not a SQLite database/);
    rmSync(dbPath);
    const fresh = await admin(['tag', 'list']);
    expect(fresh.code).toBe(0);
    expect(statSync(dbPath).size).toBeGreaterThan(0);
  }, 30_000);
});

function admin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the embedded store file while running', () => {
  it('fails closed once the file is deleted: UNAVAILABLE naming it, ping false, one log line', async () => {
    const log: Logged[] = [];
    const store = openStore(log);
    await store.createTag(segmentTag('order', { step: 10 }));
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1n, end: 10n });
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
    const refused = {
      code: 'UNAVAILABLE',
      message: expect.stringContaining(`${dbPath} was deleted`),
    };
    await expect(store.allocate('order', 0, false)).rejects.toMatchObject(refused);
    await expect(store.allocate('order', 0, false)).rejects.toMatchObject(refused);
    await expect(store.getTag('order')).rejects.toMatchObject(refused);
    await expect(store.workerLeases().inspect([0], Date.now(), 0)).rejects.toMatchObject(refused);
    expect(await store.ping()).toBe(false);
    expect(store.fileLost).toBe(true);
    expect(log).toHaveLength(1);
    expect(log[0]!.msg).toContain(
      `the embedded store ${dbPath} was deleted while this process used it`,
    );
  });

  it('fails closed once the file is replaced, and never writes to the file it opened again', async () => {
    const log: Logged[] = [];
    const store = openStore(log);
    await store.createTag(segmentTag('order', { step: 10 }));
    await store.allocate('order', 0, false);
    // Another store, made elsewhere, renamed over the path (a restore done wrong).
    const elsewhere = mkdtempSync(join(tmpdir(), 'idalloc-file-other-'));
    try {
      const other = new EmbeddedStore({ dataDir: elsewhere });
      await other.createTag(segmentTag('order', { step: 10, start: 1000n }));
      await other.close();
      const orphan = join(dataDir, 'orphan.db');
      renameSync(dbPath, orphan);
      renameSync(join(elsewhere, 'idalloc.db'), dbPath);
      const claim = {
        token: 't',
        leaseMs: 1000,
        now: Date.now(),
        aheadMs: 0,
        marginMs: 0,
        maxWaitMs: 0,
      };
      await expect(store.workerLeases().claim(1, claim)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining(`${dbPath} was replaced by another file`),
      });
      await expect(store.allocate('order', 0, false)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
      expect(log).toHaveLength(1);
      // The orphan holds the first grant only; the new file is untouched.
      const before = statSync(orphan).mtimeMs;
      await expect(store.bumpTag('order', 'by', 5n)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(statSync(orphan).mtimeMs).toBe(before);
      const o = new DatabaseSync(orphan, { readOnly: true });
      expect(o.prepare("SELECT next FROM tags WHERE name = 'order'").get()?.next).toBe('11');
      o.close();
      const n = new DatabaseSync(dbPath, { readOnly: true });
      expect(n.prepare("SELECT next FROM tags WHERE name = 'order'").get()?.next).toBe('1000');
      expect(n.prepare('SELECT count(*) AS n FROM worker_leases').get()?.n).toBe(0);
      n.close();
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('snowflake IDs from an embedded file that goes', () => {
  it('stop within a millisecond, and a new file at the path starts its worker IDs above them', async () => {
    const store = openStore([]);
    const layout = createLayout({ workerBits: 1, sequenceBits: 12 });
    // Both look for a worker ID from 0 (the search starts at random otherwise).
    const lease = { random: () => 0 };
    const gen = new SnowflakeGenerator({ layout, leaseStore: store.workerLeases(), lease });
    await gen.start();
    const ids: bigint[] = [];
    // Mint for a few milliseconds, as a busy node does.
    const until = Date.now() + 5;
    while (Date.now() < until) {
      const id = gen.next();
      ids.push(typeof id === 'bigint' ? id : await id);
    }
    // The whole store goes, its witness too (a file that found the witness would not be
    // fresh: its worker IDs would wait the margin, embedded-witness.test.ts).
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
    rmSync(join(dirname(dbPath), 'idalloc.witness'));
    const goneAt = Date.now();
    // A new process makes a new file at the path and leases the same worker ID at once.
    const fresh = openStore([]);
    const other = new SnowflakeGenerator({ layout, leaseStore: fresh.workerLeases(), lease });
    await other.start();
    expect(other.workerId).toBe(gen.workerId);
    // The first generator mints on only within the millisecond the file went.
    let refused: unknown;
    for (;;) {
      try {
        const id = gen.next();
        ids.push(typeof id === 'bigint' ? id : await id);
      } catch (err) {
        refused = err;
        break;
      }
      if (Date.now() > goneAt + 50) break;
    }
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    const lastOld = decodeSnowflake(layout, ids.at(-1)!.toString(), Date.now(), 0).timestamp;
    expect(lastOld).toBeLessThanOrEqual(goneAt);
    const first = other.next();
    const firstNew = typeof first === 'bigint' ? first : await first;
    const firstTs = decodeSnowflake(layout, firstNew.toString(), Date.now(), 0).timestamp;
    expect(firstTs).toBeGreaterThan(lastOld);
    expect(ids).not.toContain(firstNew);
    await other.close();
    await gen.close();
  });
});

describe('SQLite failures while running', () => {
  it('a page damaged under a running store: UNAVAILABLE with the reason, logged once, never INTERNAL', async () => {
    const log: Logged[] = [];
    const store = openStore(log);
    await store.createTag(segmentTag('order', { step: 10 }));
    await store.allocate('order', 0, false);
    // Everything into the main file, then page 2 (the tags table) overwritten in place:
    // the same file, so the identity check passes and SQLite meets the damage.
    const other = new DatabaseSync(dbPath);
    other.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const fd = openSync(dbPath, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, 4096);
    closeSync(fd);
    // A write elsewhere in the file, so the store's connection drops its cached pages.
    other.exec("INSERT INTO worker_leases (id, token, expires_at) VALUES (1, 't', 0)");
    other.close();
    for (let i = 0; i < 3; i++) {
      await expect(store.allocate('order', 0, false)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /^allocation for 'order' failed in the embedded store \(the database file is corrupt\)$/,
        ),
        retryAfterSeconds: 10,
      });
    }
    expect(log).toHaveLength(1);
    expect(log[0]!.msg).toMatch(/the database file is corrupt/);
    // SQLite's own text: in the log line, not in the answer.
    expect(log[0]!.obj).toMatchObject({
      file: dbPath,
      sqliteCode: 11,
      storeError: expect.any(String),
    });
  });
});

/** GET as JSON (or text), with the status and Retry-After. */
async function get(base: string, path: string) {
  const res = await fetch(base + path);
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text };
}

/** File descriptors of `pid` still naming a deleted idalloc.db (Linux /proc). */
function deletedStoreFds(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      const target = readlinkSync(join(dir, fd));
      if (target.includes('idalloc.db') && target.endsWith('(deleted)')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('a service process whose embedded store file goes', () => {
  it.each(['deleted', 'replaced'] as const)(
    'when %s: serves what it holds, then 503 UNAVAILABLE; /readyz 503, store_up 0, one log line; the next store and a second process give no repeats',
    async (mode) => {
      await seed();
      const a = await startServiceProcess({ DATA_DIR: dataDir, FETCH_TIMEOUT_MS: '200' });
      services.push(a);
      const issued: bigint[] = [];
      const draw = async (svc: ServiceProcess) => {
        const r = await get(svc.base, '/v1/ids/order');
        if (r.status === 200) issued.push(BigInt((JSON.parse(r.text) as { id: string }).id));
        return r;
      };
      for (let i = 0; i < 5; i++) expect((await draw(a)).status).toBe(200);
      const node = JSON.parse((await get(a.base, '/v1/tags/order')).text) as {
        node: { highWater: string; fetching: boolean };
      };
      expect(node.node.fetching).toBe(false);
      const highWater = BigInt(node.node.highWater);
      expect(deletedStoreFds(a.proc.pid!)).toEqual([]);
      // The next store starts above what was issued, as a restore must.
      const restart = highWater + 1000n;

      if (mode === 'deleted') {
        for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
      } else {
        // Another store renamed over the main file alone; its log stays at the path.
        const elsewhere = mkdtempSync(join(tmpdir(), 'idalloc-file-next-'));
        const next = new EmbeddedStore({ dataDir: elsewhere });
        await next.createTag(segmentTag('order', { step: 100, start: restart }));
        await next.close();
        renameSync(join(elsewhere, 'idalloc.db'), dbPath);
        rmSync(elsewhere, { recursive: true, force: true });
      }
      let last = await draw(a);
      for (let i = 0; i < 5000 && last.status === 200; i++) last = await draw(a);
      expect(last.status).toBe(503);
      expect(last.retryAfter).toMatch(/^\d+$/);
      // The reason is the lost file, or the wait for a segment the store no longer grants.
      expect(JSON.parse(last.text)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      // Only IDs of the segments it held when the file went: nothing new from the orphan.
      expect(issued.every((id) => id <= highWater)).toBe(true);
      const ready = await get(a.base, '/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text)).toMatchObject({
        error: {
          code: 'UNAVAILABLE',
          message: expect.stringContaining(`not ready: the embedded store ${dbPath} `),
        },
      });
      const metrics = parseExposition((await get(a.base, '/metrics')).text);
      expect(find(metrics, 'idalloc_store_up')[0]?.value).toBe(0);
      const lost = a.logs.filter((l) => String(l.msg).includes('while this process used it'));
      expect(lost).toHaveLength(1);
      const fault = mode === 'deleted' ? 'was deleted' : 'was replaced by another file';
      expect(lost[0]).toMatchObject({ level: 50, file: dbPath });
      expect(String(lost[0]!.msg)).toContain(`the embedded store ${dbPath} ${fault}`);
      // The orphan is closed: no descriptor of this process names it any more.
      expect(deletedStoreFds(a.proc.pid!)).toEqual([]);

      if (mode === 'deleted') await seed(restart);
      const b = await startServiceProcess({ DATA_DIR: dataDir });
      services.push(b);
      const before = issued.length;
      for (let i = 0; i < 20; i++) {
        expect((await draw(b)).status).toBe(200);
        expect((await draw(a)).status).toBe(503);
      }
      // The second process serves the new store as it was made (no frames of the old
      // file's log replayed into it), and nothing was issued twice. A file renamed over
      // the path is not the one last written there (the witness names the first
      // process's): its tag skips its gap first (docs/design.md §8.1). A store made where
      // none was has never been written: nothing to skip.
      const gap = segmentTag('order').gap;
      expect(issued[before]).toBe(mode === 'deleted' ? restart : restart + gap);
      expect(new Set(issued).size).toBe(issued.length);
      // The first process never took up the new file.
      expect((await get(a.base, '/readyz')).status).toBe(503);
    },
    90_000,
  );
});

describe('processes starting at once where no file exists', () => {
  it('share the one store that is created: every tag each of them made is in it', async () => {
    const script = (i: number) =>
      `import { EmbeddedStore } from './src/store/embedded/store.ts';
       const s = new EmbeddedStore({ dataDir: ${JSON.stringify(dataDir)} });
       await s.createTag({ name: 't${i}', mode: 'segment', step: 10, start: 1n, max: 1000n, gap: 0n, description: '' });
       await s.close();`;
    const runs = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(
        (i) =>
          new Promise<number>((resolve) => {
            execFile(
              process.execPath,
              ['--import', 'tsx', '--input-type=module', '--eval', script(i)],
              { cwd: ROOT, timeout: 30_000 },
              (err) => resolve(err ? Number((err as { code?: unknown }).code ?? 1) : 0),
            );
          }),
      ),
    );
    expect(runs).toEqual([0, 0, 0, 0, 0, 0]);
    const store = openStore();
    expect((await store.listTags()).map((t) => t.name)).toEqual([
      't0',
      't1',
      't2',
      't3',
      't4',
      't5',
    ]);
    expect(readdirSync(dataDir).filter((f) => f.includes('.new-'))).toEqual([]);
  }, 60_000);
});
