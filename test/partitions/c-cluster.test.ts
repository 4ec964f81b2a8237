/**
 * Scenario c: a Redis Cluster (3 masters + 3 replicas, `cluster-node-timeout 2000`), each
 * node in a namespace of its own, and two service nodes. One master is cut off together
 * with service node A; the majority fails it over to its replica, and node B must serve
 * that master's tags from the promoted replica within a few seconds of the promotion
 * (dropping its silent connection and reading the slot map again). Node A keeps failing
 * closed: the other masters are out of its reach, and the cut-off master stops taking
 * writes once it sees it lost the majority. Healed; both keep drawing; no ID repeats.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKeys } from '../../src/store/redis/keys.js';
import { keySlot } from '../../src/store/redis/slot.js';
import { httpTarget, Load } from '../support/load.js';
import { Network } from '../support/netns.js';
import { startNsCluster } from '../support/netns-cluster.js';
import { roleOf, startNsService, type NsServer } from '../support/netns-sentinel.js';
import {
  allIds,
  formatFigures,
  mark,
  sideFigures,
  auditNodes,
} from '../support/partition-report.js';
import { testPrefix } from '../support/prefix.js';
import { Scene } from '../support/scene.js';
import { segmentTag } from '../support/store.js';
import { storeOn } from '../support/topology-store.js';
import { waitUntil } from '../support/wait.js';

const GAP = 100_000_000n;
const FOLLOW_BOUND_MS = 10_000;
const run = inject('netnsRun');
const scene = new Scene();
afterAll(() => scene.dispose());

describe.skipIf(run.unusable !== undefined)('c. Cluster: a master cut off with one node', () => {
  it('fails it over, node B follows within seconds, node A fails closed, no ID repeats', async () => {
    const net = (scene.net = await Network.create(run, 'c'));
    const cluster = await startNsCluster(net, 2000);
    for (const n of cluster.nodes) scene.servers.push(n.server);
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    const slotOf = (tag: string) => keySlot(keys.tag(tag));
    const observer = cluster.nodes[0]!;
    // Two tags on the master that will be cut off, two on the others.
    const victim = (await cluster.masterOf(slotOf('c0'), observer))!;
    const onVictim: string[] = [];
    const elsewhere: string[] = [];
    for (let i = 0; onVictim.length < 2 || elsewhere.length < 2; i++) {
      const owner = await cluster.masterOf(slotOf(`c${i}`), observer);
      if (owner === victim && onVictim.length < 2) onVictim.push(`c${i}`);
      else if (owner !== victim && elsewhere.length < 2) elsewhere.push(`c${i}`);
    }
    const tags = [...onVictim, ...elsewhere];
    const replica = (await cluster.replicaOf(victim, observer))!;
    const others = cluster.nodes.filter((n) => n !== victim);
    const majorityObserver = others.find((n) => n !== replica)!;

    const admin = storeOn(
      { kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: n.host.ip, port: 6379 })) },
      {},
      prefix,
    );
    scene.stores.push(admin);
    for (const t of tags) await admin.createTag(segmentTag(t, { step: 200, gap: GAP }));
    const env = {
      REDIS_CLUSTER_NODES: cluster.seedsEnv,
      KEY_PREFIX: prefix,
      MAX_STEP: '1000',
      FETCH_TIMEOUT_MS: '1000',
    };
    const hostA = await net.host('nodeA');
    const hostB = await net.host('nodeB');
    const nodeA = await startNsService(hostA, env, run.dir, 'c-nodeA');
    scene.services.push(nodeA);
    const nodeB = await startNsService(hostB, env, run.dir, 'c-nodeB');
    scene.services.push(nodeB);
    const loadA = new Load({ targets: [httpTarget('A', nodeA.base)], tags, concurrency: 3 });
    const loadB = new Load({ targets: [httpTarget('B', nodeB.base)], tags, concurrency: 3 });
    scene.others.push(
      () => loadA.stop(),
      () => loadB.stop(),
    );
    loadA.start();
    loadB.start();
    await waitUntil(
      () => tags.every((t) => loadA.ledger.count(t) > 100n && loadB.ledger.count(t) > 100n),
      'both nodes serving every tag',
      30_000,
    );

    const nextAtCut = new Map<string, bigint>();
    for (const t of onVictim) nextAtCut.set(t, (await admin.getTag(t))!.next!);
    const cutAt = Date.now();
    const [aAtCut, bAtCut] = [mark(loadA), mark(loadB)];
    await net.cut([victim.host, hostA], [...others.map((n) => n.host), hostB]);
    await waitUntil(
      async () => (await cluster.masterOf(slotOf(onVictim[0]!), majorityObserver)) === replica,
      'the majority to fail the cut-off master over to its replica',
      30_000,
      100,
    );
    const promotedAt = Date.now();
    let bBackAt: number | undefined;
    try {
      await waitUntil(
        () => onVictim.every((t) => (loadB.ledger.max(t) ?? 0n) >= nextAtCut.get(t)! + GAP / 2n),
        'node B serving from the promoted replica',
        20_000,
        50,
      );
      bBackAt = Date.now();
    } catch {
      // reported and asserted below, after the heal
    }
    const holdUntil = promotedAt + 4000;
    if (Date.now() < holdUntil) await new Promise((r) => setTimeout(r, holdUntil - Date.now()));
    const aDuringCut = sideFigures('A (minority, with the cut-off master)', loadA, aAtCut);
    const bDuringCut = sideFigures('B (majority)', loadB, bAtCut);
    const healedAt = Date.now();
    const [aAtHeal, bAtHeal] = [mark(loadA), mark(loadB)];
    await net.heal();
    await waitUntil(
      async () => (await roleOf(victim as NsServer)) === 'slave',
      'the old master to rejoin as a replica',
      40_000,
      100,
    );
    const rejoinedAt = Date.now();
    const [servedA, servedB] = [loadA.served, loadB.served];
    await waitUntil(
      () => loadA.served > servedA + 200 && loadB.served > servedB + 200,
      'both nodes serving after the heal',
      30_000,
    );
    await Promise.all([loadA.stop(), loadB.stop()]);

    const ids = allIds([loadA, loadB]);
    const splitBrain = onVictim
      .map((t) => loadA.ledger.countIn(t, nextAtCut.get(t)!, nextAtCut.get(t)! + GAP / 2n - 1n))
      .reduce((a, b) => a + b, 0n);
    const name = 'c. Cluster, a master cut off with node A';
    console.log(
      [
        `${name}: replica promoted ${promotedAt - cutAt} ms after the cut; node B served from it ${bBackAt === undefined ? 'not within 20 s' : `${bBackAt - promotedAt} ms after the promotion`}; healed ${healedAt - cutAt} ms after the cut; old master a replica ${rejoinedAt - healedAt} ms after the heal`,
        formatFigures(`${name} (during the cut)`, [aDuringCut, bDuringCut]),
        formatFigures(`${name} (after the heal)`, [
          sideFigures('A', loadA, aAtHeal),
          sideFigures('B', loadB, bAtHeal),
        ]),
        `${name}: node A served ${splitBrain} IDs granted by the cut-off master before it stopped taking writes; ${ids.count()} IDs in all, ${ids.overlaps().length} repeated ranges`,
      ].join('\n'),
    );
    expect(ids.overlaps()).toEqual([]);
    auditNodes('c. Cluster', scene.services);
    expect(bBackAt, 'node B serving from the promoted replica').toBeDefined();
    expect(bBackAt! - promotedAt).toBeLessThanOrEqual(FOLLOW_BOUND_MS);
    // Node A fails closed: its tags on the other masters get 503s, never a guess.
    expect(aDuringCut.unavailable).toBeGreaterThan(0);
    for (const t of tags) expect(ids.count(t)).toBeGreaterThan(200n);
  });
});
