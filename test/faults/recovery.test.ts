/**
 * The recovery procedures of docs/recovery.md, run exactly as written (test/support/readme-procedure.ts)
 * against real redis-server and service processes, every ID collected and checked for
 * repeats:
 * - node A serves; the README's backup command exports; A serves more; the data is lost
 *   (FLUSHALL, or Redis restarted empty); node B starts after the loss; both fail closed
 *   (A serves what it holds); the README's restore command runs; both serve: no repeats;
 * - a restore from an RDB backup older than the export;
 * - the embedded store deleted with the service stopped, restored from an export;
 * - moving from the embedded store to Redis while the embedded node still serves.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { IdLedger } from '../support/ledger.js';
import { httpTarget, Load } from '../support/load.js';
import { testPrefix } from '../support/prefix.js';
import { docText, procedure, procedures, runProcedure } from '../support/readme-procedure.js';
import { RedisServer } from '../support/redis-server.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { waitUntil, withClient } from '../support/wait.js';

const TAGS = ['order', 'invoice'];
/** Small segments, so that a node holds little and fetches often. */
const NODE_ENV = { MAX_STEP: '1000' };

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idalloc-recovery-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const node = await startServiceProcess({ ...NODE_ENV, ...env });
  cleanups.push(() => node.dispose());
  return node;
}

/** Draws from `node` with 4 request loops until it served `atLeast` IDs after `since`. */
async function draw(node: ServiceProcess, name: string, atLeast: number): Promise<Load> {
  const load = new Load({ targets: [httpTarget(name, node.base)], tags: TAGS, concurrency: 4 });
  load.start();
  try {
    await waitUntil(() => load.served >= atLeast, `${name} to serve ${atLeast} IDs`, 60_000);
  } finally {
    await load.stop();
  }
  return load;
}

/** One request; an error answer as its code. */
async function ask(node: ServiceProcess, tag: string): Promise<bigint | string> {
  try {
    return await httpTarget('probe', node.base).next(tag);
  } catch (err) {
    if (err instanceof IdAllocError) return err.code;
    throw err;
  }
}

/**
 * During the loss: `b` (started after it) refuses every tag; `a` serves what it holds,
 * then refuses too. Returns what `a` served meanwhile.
 */
async function failsClosed(a: ServiceProcess, b: ServiceProcess): Promise<IdLedger> {
  const held = new IdLedger();
  for (const tag of TAGS) {
    for (let i = 0; i < 3; i++) expect(await ask(b, tag)).toBe(ErrorCode.TAG_NOT_FOUND);
    let answer: bigint | string = 0n;
    for (let i = 0; i < 5000 && typeof answer === 'bigint'; i++) {
      answer = await ask(a, tag);
      if (typeof answer === 'bigint') held.add(tag, answer);
    }
    expect(answer).toBe(ErrorCode.TAG_NOT_FOUND);
  }
  return held;
}

/** Every node draws again until each served `atLeast` IDs (they first wait out the refusal hold). */
async function drawFromAll(nodes: ServiceProcess[], atLeast: number): Promise<IdLedger> {
  const loads = await Promise.all(nodes.map((n, i) => draw(n, `node${i}`, atLeast)));
  const all = new IdLedger();
  for (const l of loads) all.merge(l.ledger);
  return all;
}

/** True when every ID `ledger` holds for `tag` is above `above`. */
function allAbove(ledger: IdLedger, tag: string, above: bigint): boolean {
  const below = new IdLedger();
  below.addRange(tag, 0n, above);
  return below.merge(ledger).overlaps().length === 0;
}

interface RedisSetup {
  readonly server: RedisServer;
  readonly store: RedisStore;
  readonly env: Record<string, string>;
}

async function redisWithTags(): Promise<RedisSetup> {
  const server = await RedisServer.start();
  cleanups.push(() => server.dispose());
  const env = { REDIS_URL: server.url, KEY_PREFIX: testPrefix() };
  const store = storeOn(standalone(server.port), { readyTimeoutMs: 3000 }, env.KEY_PREFIX);
  cleanups.push(() => store.close());
  for (const t of TAGS) await store.createTag(segmentTag(t, { step: 100 }));
  await store.createTag({ ...segmentTag('events'), mode: 'snowflake' });
  await store.createTag(segmentTag('old'));
  await store.bumpTag('old', 'to', 5000n);
  await store.deleteTag('old');
  return { server, store, env };
}

describe.each([
  {
    loss: 'FLUSHALL',
    restore: 'restore-after-flushall',
    lose: (s: RedisServer) => withClient(s.port, (c) => c.flushall()).then(() => {}),
  },
  {
    loss: 'Redis restarted without its data',
    restore: 'restore-after-empty-restart',
    lose: async (s: RedisServer) => {
      await s.kill('SIGKILL');
      await s.start(); // same port, no AOF, no RDB: empty
    },
  },
])('after $loss', ({ restore, lose }) => {
  it("the README's restore command brings every tag back above every ID issued: both nodes, no repeats", async () => {
    const { server, store, env } = await redisWithTags();
    const a = await start(env);
    const issued = new IdLedger();
    issued.merge((await draw(a, 'A', 3000)).ledger);

    const backup = await runProcedure('backup', dir, env);
    expect(backup, backup.stderr).toMatchObject({ code: 0, stderr: '' });
    const exported = readFileSync(join(dir, 'idalloc-tags.json'), 'utf8');
    issued.merge((await draw(a, 'A', 3000)).ledger); // issued after the export

    await lose(server);
    const b = await start(env); // started after the loss: holds no mark for any tag
    issued.merge(await failsClosed(a, b));
    const before = new Map(TAGS.map((t) => [t, issued.max(t)!]));

    // The backup command now refuses to replace the export with the emptied store's.
    const again = await runProcedure('backup', dir, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to replace idalloc-tags\.json/);
    expect(readFileSync(join(dir, 'idalloc-tags.json'), 'utf8')).toBe(exported);

    const restored = await runProcedure(restore, dir, env);
    expect(restored, restored.stderr).toMatchObject({ code: 0, stderr: '' });

    const after = await drawFromAll([a, b], 3000);
    issued.merge(after);
    expect(issued.overlaps()).toEqual([]);
    for (const t of TAGS) expect(allAbove(after, t, before.get(t)!)).toBe(true);
    expect(issued.count()).toBeGreaterThanOrEqual(12_000n);
    expect(restored.stdout).toMatch(/^created segment tag 'order' at next ID \d+$/m);
    expect(restored.stdout).toMatch(/^created tombstone 'old' at next ID 1000005000$/m);
    expect(restored.stdout).toMatch(/^created snowflake tag 'events'$/m);
    expect(await store.getTag('events')).toMatchObject({ mode: 'snowflake' });
    expect((await store.createTag(segmentTag('old'))).tag.next).toBe(1_000_005_000n);
  });
});

describe('after a restore from an RDB backup older than the last export', () => {
  it("the README's command raises every tag above the export, and nothing repeats", async () => {
    const { server, store, env } = await redisWithTags();
    const a = await start(env);
    const issued = new IdLedger();
    issued.merge((await draw(a, 'A', 2000)).ledger);
    await withClient(server.port, (c) => c.save()); // the RDB backup, in the server's dir
    issued.merge((await draw(a, 'A', 2000)).ledger);
    expect((await runProcedure('backup', dir, env)).code).toBe(0);
    issued.merge((await draw(a, 'A', 2000)).ledger);
    await store.createTag(segmentTag('late')); // created after the backup: not in the RDB
    await store.bumpTag('late', 'to', 777n);
    expect((await runProcedure('backup', dir, env)).code).toBe(0);

    await server.kill('SIGKILL');
    await server.start(); // loads dump.rdb: the counters of the backup, a new run_id
    expect(await store.getTag('late')).toBeUndefined();

    const restored = await runProcedure('restore-from-backup', dir, env);
    expect(restored, restored.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(restored.stdout).toMatch(/^raised segment tag 'order': next ID \d+ -> \d+$/m);
    expect(restored.stdout).toMatch(/^created segment tag 'late' at next ID 1000000777$/m);

    const b = await start(env);
    issued.merge(await drawFromAll([a, b], 2000));
    expect(issued.overlaps()).toEqual([]);
  });

  it("without an export, the README's bump --all moves every tag past the IDs issued since", async () => {
    const { server, env } = await redisWithTags();
    const a = await start(env);
    const issued = new IdLedger();
    await withClient(server.port, (c) => c.save());
    issued.merge((await draw(a, 'A', 2000)).ledger);
    await server.kill('SIGKILL');
    await server.start();
    const bumped = await runProcedure('restore-from-backup-without-export', dir, env);
    expect(bumped, bumped.stderr).toMatchObject({ code: 0 });
    expect(bumped.stdout).toMatch(/^bumped tag 'order': next ID \d+ -> \d+$/m);
    const b = await start(env);
    issued.merge(await drawFromAll([a, b], 2000));
    expect(issued.overlaps()).toEqual([]);
  });
});

describe('the embedded store', () => {
  it('deleted with the service stopped, is restored from an export by the README command: no repeats', async () => {
    const dataDir = join(dir, 'data');
    const env = { DATA_DIR: dataDir };
    const seed = new EmbeddedStore({ dataDir });
    for (const t of TAGS) await seed.createTag(segmentTag(t, { step: 100 }));
    await seed.close();

    const first = await start(env);
    const issued = new IdLedger();
    issued.merge((await draw(first, 'first', 3000)).ledger);
    const backup = await runProcedure('backup', dir, env);
    expect(backup, backup.stderr).toMatchObject({ code: 0, stderr: '' });
    issued.merge((await draw(first, 'first', 3000)).ledger);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    for (const f of ['idalloc.db', 'idalloc.db-wal', 'idalloc.db-shm']) {
      rmSync(join(dataDir, f), { force: true });
    }
    const restored = await runProcedure('restore-embedded', dir, env);
    expect(restored, restored.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(restored.stdout).toMatch(/^created segment tag 'invoice' at next ID \d+$/m);
    // The worker ID the stopped node held at the export is held by the import, then freed.
    expect(restored.stdout).toMatch(/^held snowflake worker \d+ for the exported store's node/m);
    expect(restored.stdout).toMatch(/^released the imported hold of snowflake worker \d+$/m);

    // Two processes on the restored file, as the embedded store allows on one host.
    const nodes = [await start(env), await start(env)];
    issued.merge(await drawFromAll(nodes, 2000));
    expect(issued.overlaps()).toEqual([]);
  });

  it('moves to Redis with the README commands while its node still serves: no repeats', async () => {
    const dataDir = join(dir, 'data');
    const local = { DATA_DIR: dataDir };
    const seed = new EmbeddedStore({ dataDir });
    for (const t of TAGS) await seed.createTag(segmentTag(t, { step: 100 }));
    await seed.close();
    const server = await RedisServer.start();
    cleanups.push(() => server.dispose());
    const remote = { REDIS_URL: server.url, KEY_PREFIX: testPrefix() };

    const old = await start(local);
    const issued = new IdLedger();
    issued.merge((await draw(old, 'embedded', 2000)).ledger);
    const exported = await runProcedure('embedded-to-redis-export', dir, local);
    expect(exported, exported.stderr).toMatchObject({ code: 0, stderr: '' });
    issued.merge((await draw(old, 'embedded', 2000)).ledger); // still serving
    const imported = await runProcedure('embedded-to-redis-import', dir, remote);
    expect(imported, imported.stderr).toMatchObject({ code: 0, stderr: '' });
    issued.merge((await draw(old, 'embedded', 1000)).ledger);
    old.proc.kill('SIGTERM');
    await old.exited;

    const nodes = [await start(remote), await start(remote)];
    issued.merge(await drawFromAll(nodes, 2000));
    expect(issued.overlaps()).toEqual([]);
  });
});

describe('the recovery procedures (docs/recovery.md)', () => {
  it('are all run by this file', () => {
    const listed = procedures().map((p) => p.name);
    // The rolling move runs in a file of its own.
    const source = ['./recovery.test.ts', './rolling-move.test.ts']
      .map((f) => readFileSync(new URL(f, import.meta.url), 'utf8'))
      .join('\n');
    const run = [...source.matchAll(/(?:runProcedure\(|restore: )'([a-z0-9-]+)'/g)].map(
      (m) => m[1],
    );
    expect(listed.length).toBeGreaterThanOrEqual(8);
    expect([...new Set(run)].sort()).toEqual([...listed].sort());
  });
});

describe('the backup schedule (docs/recovery.md)', () => {
  it('runs the backup procedure itself: the cron line and the compose service', () => {
    const command = procedure('backup').trim();
    expect(command).toBe('idalloc-admin tag export --out idalloc-tags.json');
    const cron = /```crontab\n(.*)\n```/.exec(docText('docs/recovery.md'))?.[1] ?? '';
    expect(cron).toMatch(/^\*\/5 \* \* \* \* cd \S+ && \. \S+ && /);
    expect(cron.endsWith(command)).toBe(true);
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    const service = /^ {2}backup:\n((?: {4}.*\n|\n)+)/m.exec(compose)?.[1] ?? '';
    expect(service).toContain(command);
    expect(service).toMatch(/working_dir: \/app\/data/);
    expect(service).toMatch(/- tag-backups:\/app\/data/);
  });
});
