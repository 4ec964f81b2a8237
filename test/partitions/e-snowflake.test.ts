/**
 * Scenario e: snowflake worker leases across a partition. With `SNOWFLAKE_WORKER_BITS=1`
 * there are two worker IDs; nodes A and B hold them. Node A is cut off from Redis past
 * its lease (3 s), and node C, started on the other side, can only get a worker ID by
 * taking A's once it lapses. A must stop minting before its lease could lapse (its
 * horizon), and C must start above it: the IDs both minted with that worker ID lie in
 * disjoint spans of time. Healed: A finds its lease gone and, with no worker ID free,
 * fails closed. No ID repeats.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { httpTarget, Load } from '../support/load.js';
import { Network } from '../support/netns.js';
import { startNsRedis, startNsService } from '../support/netns-sentinel.js';
import {
  allIds,
  formatFigures,
  mark,
  sideFigures,
  auditNodes,
} from '../support/partition-report.js';
import { testPrefix } from '../support/prefix.js';
import { Scene } from '../support/scene.js';
import type { ServiceProcess } from '../support/service-process.js';
import { testStore } from '../support/store.js';
import { pause, waitUntil } from '../support/wait.js';

const TAG = 'events';
const SEQUENCE_BITS = 12n;
const run = inject('netnsRun');
const scene = new Scene();
afterAll(() => scene.dispose());

/** The worker ID a node logged claiming last. */
function claimedWorker(node: ServiceProcess): number | undefined {
  const claims = node.logs.filter((l) => String(l.msg).startsWith('claimed snowflake worker ID'));
  const w = claims.at(-1)?.workerId;
  return typeof w === 'number' ? w : undefined;
}

/** The timestamps (ms since the epoch of the layout) a load minted with `worker`. */
function timestampsOf(load: Load, worker: bigint): bigint[] {
  const out: bigint[] = [];
  for (const [s, e] of load.ledger.rangesOf(TAG)) {
    for (let id = s; id <= e; id++) {
      if (((id >> SEQUENCE_BITS) & 1n) === worker) out.push(id >> (SEQUENCE_BITS + 1n));
    }
  }
  return out;
}

describe.skipIf(run.unusable !== undefined)('e. snowflake: a node cut off past its lease', () => {
  it('its worker ID goes to another node only past its horizon; no ID repeats', async () => {
    const net = (scene.net = await Network.create(run, 'e'));
    const redisHost = await net.host('redis');
    const redis = await startNsRedis(redisHost);
    scene.servers.push(redis);
    const prefix = testPrefix();
    const admin = testStore(redis.url, prefix);
    scene.stores.push(admin);
    await admin.createTag({
      name: TAG,
      mode: 'snowflake',
      step: 1,
      start: 0n,
      max: 2n ** 63n - 1n,
      gap: 0n,
      description: '',
    });
    const env = {
      REDIS_URL: redis.url,
      KEY_PREFIX: prefix,
      SNOWFLAKE_WORKER_BITS: '1',
      SNOWFLAKE_SEQUENCE_BITS: String(SEQUENCE_BITS),
      SNOWFLAKE_LEASE_MS: '3000',
    };
    const hostA = await net.host('nodeA');
    const nodeA = await startNsService(hostA, env, run.dir, 'e-nodeA');
    scene.services.push(nodeA);
    const nodeB = await startNsService(await net.host('nodeB'), env, run.dir, 'e-nodeB');
    scene.services.push(nodeB);
    const loads = new Map<string, Load>();
    const startLoad = (name: string, node: ServiceProcess) => {
      const load = new Load({
        targets: [httpTarget(name, node.base)],
        tags: [TAG],
        concurrency: 2,
      });
      loads.set(name, load.start());
      scene.others.push(() => load.stop());
      return load;
    };
    const loadA = startLoad('A', nodeA);
    const loadB = startLoad('B', nodeB);
    await waitUntil(
      () => loadA.ledger.count() > 500n && loadB.ledger.count() > 500n,
      'nodes A and B minting (past their fresh fence)',
      30_000,
    );
    const workerA = claimedWorker(nodeA);
    expect(workerA).toBeDefined();
    expect(claimedWorker(nodeB)).toBe(1 - workerA!);

    const cutAt = Date.now();
    const [aAtCut, bAtCut] = [mark(loadA), mark(loadB)];
    await net.cut([hostA], [redisHost]);
    const nodeC = await startNsService(await net.host('nodeC'), env, run.dir, 'e-nodeC');
    scene.services.push(nodeC);
    const loadC = startLoad('C', nodeC);
    const cAtStart = mark(loadC);
    await waitUntil(() => loadC.ledger.count() > 500n, 'node C minting', 40_000);
    const cServedAt = Date.now();
    await pause(2000);
    const during = [
      sideFigures('A (cut off)', loadA, aAtCut),
      sideFigures('B', loadB, bAtCut),
      sideFigures('C (took over A’s worker ID)', loadC, cAtStart),
    ];
    const healedAt = Date.now();
    const marks = [mark(loadA), mark(loadB), mark(loadC)] as const;
    await net.heal();
    await pause(4000);
    await Promise.all([...loads.values()].map((l) => l.stop()));

    const ids = allIds([...loads.values()]);
    const w = BigInt(workerA!);
    const aTimes = timestampsOf(loadA, w);
    const cTimes = timestampsOf(loadC, w);
    const aLast = aTimes.reduce((m, t) => (t > m ? t : m), -1n);
    const cFirst = cTimes.reduce((m, t) => (t < m ? t : m), 2n ** 62n);
    const name = 'e. snowflake, a node cut off past its lease';
    console.log(
      [
        `${name}: node C claimed worker ${claimedWorker(nodeC)} (A held ${workerA}) and minted ${cServedAt - cutAt} ms after the cut; with that worker ID A minted up to t=${aLast}, C from t=${cFirst} (${cFirst - aLast} ms apart); healed ${healedAt - cutAt} ms after the cut`,
        formatFigures(`${name} (during the cut)`, during),
        formatFigures(`${name} (after the heal)`, [
          sideFigures('A', loadA, marks[0]),
          sideFigures('B', loadB, marks[1]),
          sideFigures('C', loadC, marks[2]),
        ]),
        `${name}: ${ids.count()} IDs in all, ${ids.overlaps().length} repeated`,
      ].join('\n'),
    );
    expect(ids.overlaps()).toEqual([]);
    auditNodes('e. snowflake', scene.services);
    expect(claimedWorker(nodeC)).toBe(workerA);
    expect(cTimes.length).toBeGreaterThan(0);
    expect(aLast).toBeGreaterThanOrEqual(0n);
    // The fence: C's first timestamp with the worker ID lies above A's last.
    expect(cFirst).toBeGreaterThan(aLast);
  });
});
