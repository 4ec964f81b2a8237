/**
 * Redis Cluster: three masters with a replica each. Tags on every master serve; one
 * master is SIGKILLed and its replica takes over by automatic failover; allocation
 * resumes on the promoted replica by itself, above the safety gap, with no ID twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import type { IdAllocator } from '../../src/allocator/types.js';
import { loadConfig } from '../../src/config/schema.js';
import { keySlot } from '../../src/store/redis/slot.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import type { Grant } from '../../src/core/store-ports.js';
import { startCluster, type LocalCluster } from '../support/cluster.js';
import { GrantLogs } from '../support/grant-audit.js';
import { recordingStore } from '../support/ledger.js';
import { Load } from '../support/load.js';
import { testPrefix } from '../support/prefix.js';
import type { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { redisStoreFrom } from '../support/topology-store.js';
import { pause, waitUntil } from '../support/wait.js';

const GAP = 1_000_000n;
let cluster: LocalCluster;
const stores: RedisStore[] = [];
const nodes: IdAllocator[] = [];
const grants: { tag: string; at: number; grant: Grant }[] = [];
const tags: string[] = [];
const owner = new Map<string, RedisServer>();
const trail = new GrantLogs();

beforeAll(async () => {
  cluster = await startCluster({ nodeTimeoutMs: 1000 });
  const config = loadConfig({ REDIS_CLUSTER_NODES: cluster.seedsEnv, KEY_PREFIX: testPrefix() });
  for (let n = 0; n < 2; n++) {
    const store = redisStoreFrom(config);
    stores.push(store);
    nodes.push(
      createAllocator({
        store: recordingStore(store, (tag, grant) => grants.push({ tag, at: Date.now(), grant })),
        segment: { fetchTimeoutMs: 1000, retryBaseMs: 20, retryMaxMs: 250, maxStep: 200 },
        grants: trail.node(`node${n}`),
      }),
    );
  }
  // Two tags on each master.
  const perMaster = new Map<RedisServer, number>();
  for (let i = 0; tags.length < 6; i++) {
    const name = `t${i}`;
    const m = await cluster.masterOf(keySlot(stores[0]!.keys.tag(name)));
    if ((perMaster.get(m) ?? 0) >= 2) continue;
    perMaster.set(m, (perMaster.get(m) ?? 0) + 1);
    owner.set(name, m);
    tags.push(name);
    await stores[0]!.createTag(segmentTag(name, { step: 50, gap: GAP }));
  }
});
afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  await Promise.allSettled(stores.map((s) => s.close()));
  await cluster?.dispose();
});

describe('Redis Cluster with a master killed', () => {
  it('fails over to the replica and resumes allocation by itself, with no ID twice', async () => {
    const load = new Load({
      targets: nodes.map((n, i) => ({ name: `node${i}`, next: (t: string) => n.next(t) })),
      tags,
      concurrency: 6,
    }).start();
    try {
      await waitUntil(() => tags.every((t) => load.ledger.count(t) > 200n), 'load on every tag');
      const victimTag = tags[0]!;
      const victim = owner.get(victimTag)!;
      const [replica] = await cluster.replicasOf(victim);
      expect(replica).toBeDefined();

      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      await waitUntil(
        async () => (await cluster.masterOf(keySlot(stores[0]!.keys.tag(victimTag)))) === replica,
        'the replica to take over the slot',
        30_000,
        100,
      );
      const promotedAt = Date.now();
      // Allocation resumes on the promoted replica: a new grant, bumped by the gap.
      await waitUntil(
        () => grants.some((g) => g.tag === victimTag && g.at > killedAt && g.grant.bumped),
        'a grant from the promoted replica',
        30_000,
        50,
      );
      const resumedAt = grants.find(
        (g) => g.tag === victimTag && g.at > killedAt && g.grant.bumped,
      )!.at;
      const before = load.served;
      await pause(500);
      expect(load.served).toBeGreaterThan(before);
      console.log(
        `cluster failover: promoted ${promotedAt - killedAt} ms after SIGKILL, first grant from it ${resumedAt - killedAt} ms after; longest outage of a tag ${load.longestOutage(killedAt)} ms; errors ${JSON.stringify(load.errorCounts())}`,
      );
    } finally {
      await load.stop();
    }
    // Tags on the other masters were never bumped; the victim's were, once per node.
    for (const t of tags.slice(1).filter((t) => owner.get(t) !== owner.get(tags[0]!))) {
      expect(grants.filter((g) => g.tag === t && g.grant.bumped)).toEqual([]);
    }
    expect(load.ledger.overlaps()).toEqual([]);
    expect(load.served).toBeGreaterThan(1200);
    // The nodes' grant logs agree, and show the victim's tag on two incarnations.
    const report = trail.expectNoOverlaps(tags.length * 2);
    const victim = report.tags.find((t) => t.tag === tags[0])!;
    expect(victim.incarnations.length).toBeGreaterThanOrEqual(2);
    expect(BigInt(victim.gapCauses.incarnation_jump)).toBeGreaterThan(0n);
  });
});
