/**
 * The README's move from the embedded store to Redis done as a rolling restart, its
 * procedure blocks run exactly as written (test/support/readme-procedure.ts) against real
 * service processes and a real redis-server, with one worker bit (two snowflake worker
 * IDs): the old node keeps minting on the embedded file while the export and the import
 * run and two new nodes start on Redis and serve; then the old node stops and the
 * imported hold is released. Every ID served is ledgered: none may repeat, and no new
 * node mints with the worker ID the old node held until the hold is released. After the
 * export (`--move`) the embedded store grants no new worker ID: an old node that loses its
 * lease, and a WORKERS node started on it, claim none (seen in the file itself).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { LAYOUT_PRESETS } from '../../src/allocator/snowflake/layout.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger } from '../support/ledger.js';
import { httpTarget, Load, type LoadTarget } from '../support/load.js';
import { testPrefix } from '../support/prefix.js';
import { runProcedure } from '../support/readme-procedure.js';
import { RedisServer } from '../support/redis-server.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { waitUntil } from '../support/wait.js';

const SNOW = 'events';
const TAGS = ['order', SNOW];
/** Two worker IDs; a short lease so that fences pass in seconds. */
const SNOWFLAKE_ENV = { SNOWFLAKE_WORKER_BITS: '1', SNOWFLAKE_LEASE_MS: '3000', MAX_STEP: '1000' };
const SEQUENCE_BITS = BigInt(LAYOUT_PRESETS.default.sequenceBits);

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idalloc-rolling-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const node = await startServiceProcess({ ...SNOWFLAKE_ENV, ...env });
  cleanups.push(() => node.dispose());
  return node;
}

/** A node as a load target that also notes the worker ID of each snowflake ID it serves. */
function noting(name: string, node: ServiceProcess, workers: Set<bigint>): LoadTarget {
  const target = httpTarget(name, node.base);
  return {
    name,
    async next(tag) {
      const id = await target.next(tag);
      if (tag === SNOW) workers.add((id >> SEQUENCE_BITS) & 1n);
      return id;
    },
  };
}

function load(targets: LoadTarget[]): Load {
  const l = new Load({ targets, tags: TAGS, concurrency: 2 * targets.length, pauseOnErrorMs: 50 });
  cleanups.push(() => l.stop());
  return l.start();
}

const minted = (l: Load) => l.ledger.count(SNOW);
const sum = (loads: Load[]) => loads.reduce((n, l) => n + minted(l), 0n);

/**
 * Waits until `node` says it holds no worker ID as the store was moved — or the store
 * shows a live lease again (a claim went through) — then checks the store: no lease.
 */
async function refusedAsMoved(node: ServiceProcess, leases: () => number): Promise<void> {
  const reason = async () => {
    const res = await fetch(`${node.base}/v1/status`);
    const body = (await res.json()) as {
      snowflake: { workerId: number | null; reason: string | null };
    };
    return body.snowflake.workerId === null ? (body.snowflake.reason ?? '') : '';
  };
  await waitUntil(
    async () => leases() > 0 || /moved/.test(await reason()),
    'the node to be refused a worker ID, or to claim one',
    60_000,
  );
  expect(leases()).toBe(0);
  expect(await reason()).toMatch(
    /this store was moved to another \(idalloc-admin tag export --move\)/,
  );
}

describe('the move from the embedded store to Redis as a rolling restart', () => {
  it('with one worker bit, old and new nodes mint side by side and no snowflake ID repeats', async () => {
    const dataDir = join(dir, 'data');
    const local = { DATA_DIR: dataDir };
    const seed = new EmbeddedStore({ dataDir });
    await seed.createTag(segmentTag('order', { step: 100 }));
    await seed.createTag({ ...segmentTag(SNOW), mode: 'snowflake' });
    await seed.close();
    const server = await RedisServer.start();
    cleanups.push(() => server.dispose());
    const remote = { REDIS_URL: server.url, KEY_PREFIX: testPrefix() };

    const old = await start(local);
    const oldWorkers = new Set<bigint>();
    const oldLoad = load([noting('old', old, oldWorkers)]);
    await waitUntil(() => minted(oldLoad) >= 500n, 'the old node to mint', 60_000);

    const exported = await runProcedure('embedded-to-redis-export', dir, local);
    expect(exported, exported.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(exported.stdout).toMatch(/and 1 snowflake worker ID \(1 leased\)/);
    const imported = await runProcedure('embedded-to-redis-import', dir, remote);
    expect(imported, imported.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(imported.stdout).toMatch(/^held snowflake worker [01] for the exported store's node/m);

    // The rolling part: two new nodes on Redis start and serve while the old one still does.
    const fresh = [await start(remote), await start(remote)];
    const newWorkers = new Set<bigint>();
    const oldBefore = minted(oldLoad);
    // One load per node: a node without a worker ID answers 503 for snowflake tags and
    // must not slow the other down.
    const newLoads = fresh.map((n, i) => load([noting(`new${i}`, n, newWorkers)]));
    await waitUntil(
      () => sum(newLoads) >= 500n && minted(oldLoad) >= oldBefore + 500n,
      'old and new nodes to mint side by side',
      90_000,
    );
    const issued = new IdLedger();
    for (const l of [...newLoads, oldLoad]) {
      await l.stop();
      issued.merge(l.ledger);
    }
    expect(issued.overlaps()).toEqual([]);
    expect(oldWorkers.size).toBe(1);
    const [held] = [...oldWorkers];
    expect([...newWorkers]).toEqual([1n - held!]); // never the one the old node holds

    // The old node loses its lease (what a pause past its expiry does): a claim of any
    // worker ID would now repeat IDs of the new nodes; the mark of the move refuses it.
    const file = new DatabaseSync(join(dataDir, 'idalloc.db'));
    cleanups.push(() => file.close());
    file.exec('PRAGMA busy_timeout = 10000');
    const leases = () =>
      file.prepare('SELECT count(*) AS n FROM worker_leases WHERE expires_at > ?').get(Date.now())!
        .n as number;
    expect(leases()).toBe(1);
    file.exec('DELETE FROM worker_leases');
    await refusedAsMoved(old, leases);
    // Nor does a node with WORKERS started on the old store (each fork claims as a re-fork).
    const forked = await start({ ...local, WORKERS: '2' });
    // Both workers up (each has tried its claim by then; a SIGTERM while one still starts
    // would end it with an error).
    await waitUntil(
      () => forked.logs.some((l) => /with 2 workers/.test(String(l.msg))),
      'both workers of the WORKERS node to listen',
      60_000,
    );
    await refusedAsMoved(forked, leases);
    forked.proc.kill('SIGTERM');
    expect((await forked.exited).code, forked.stderr()).toBe(0);

    old.proc.kill('SIGTERM');
    expect((await old.exited).code).toBe(0);
    const released = await runProcedure('embedded-to-redis-release', dir, remote);
    expect(released, released.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(released.stdout).toBe(`released the imported hold of snowflake worker ${held}\n`);

    // Now both new nodes mint, one with the worker ID the old node held, above its IDs.
    const perNode = fresh.map((n, i) => load([noting(`after${i}`, n, newWorkers)]));
    await waitUntil(
      () => perNode.every((l) => minted(l) >= 300n),
      'both new nodes to mint after the release',
      90_000,
    );
    for (const l of perNode) {
      await l.stop();
      issued.merge(l.ledger);
    }
    expect(issued.overlaps()).toEqual([]);
    expect([...newWorkers].sort()).toEqual([0n, 1n]);

    // The old node and the new ones name one deployment (the id the import adopted), so
    // the audit over all their lines compares them — and finds no ID granted twice.
    const logs = new GrantLogs();
    for (const n of [old, ...fresh]) logs.addParsed(n.logs);
    const named = new Set(
      logs.lines.flatMap((l) => {
        const g = (JSON.parse(l) as { grant?: { deployment?: string } }).grant;
        return g ? [g.deployment] : [];
      }),
    );
    expect([...named]).toEqual([expect.stringMatching(/^d-[0-9a-f]{16}$/)]);
    expect(logs.expectNoOverlaps(100).deployments).toHaveLength(1);
  }, 300_000);
});
