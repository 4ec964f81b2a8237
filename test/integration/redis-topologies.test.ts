/**
 * docs/design.md §10–11: the store on Redis Cluster and behind Sentinel, opened from configuration
 * as the service and the admin script open it.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { allocationOptions } from '../../src/store/redis/client.js';
import { defineScripts } from '../../src/store/redis/scripts.js';
import { keySlot } from '../../src/store/redis/slot.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { importTarget } from '../../src/store/transfer.js';
import { startCluster, type LocalCluster } from '../support/cluster.js';
import { testPrefix } from '../support/prefix.js';
import type { RedisServer } from '../support/redis-server.js';
import { startSentinelSet, type SentinelSet } from '../support/sentinel.js';
import { segmentTag } from '../support/store.js';
import { redisStoreFrom } from '../support/topology-store.js';
import { withClient } from '../support/wait.js';

describe('RedisStore on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: LocalCluster;
  let store: RedisStore;
  const prefix = testPrefix();
  /** Tag names spread so that every master owns at least one. */
  const tags: string[] = [];
  const owners = new Map<string, RedisServer>();

  beforeAll(async () => {
    cluster = await startCluster();
    store = redisStoreFrom(
      loadConfig({
        REDIS_CLUSTER_NODES: cluster.seedsEnv,
        KEY_PREFIX: prefix,
        REDIS_MIN_REPLICAS: '1',
        REDIS_WAIT_TIMEOUT_MS: '1000',
      }),
    );
    const seen = new Set<RedisServer>();
    for (let i = 0; seen.size < 3 || tags.length < 6; i++) {
      const name = `tag${i}`;
      const owner = await cluster.masterOf(keySlot(store.keys.tag(name)));
      if (seen.has(owner) && tags.length >= 3 && seen.size < 3) continue;
      seen.add(owner);
      owners.set(name, owner);
      tags.push(name);
    }
    for (const name of tags) await store.createTag(segmentTag(name, { step: 50 }));
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.dispose();
  });

  it('computes the slot Redis itself computes for every tag key', async () => {
    for (const name of tags) {
      const key = store.keys.tag(name);
      const slot = await withClient(cluster.nodes[0]!.port, (c) => c.cluster('KEYSLOT', key));
      expect(Number(slot)).toBe(keySlot(key));
    }
  });

  it('serves every tag, on whichever master owns its slot, with the replication ack on', async () => {
    expect(new Set(owners.values()).size).toBe(3);
    for (const name of tags) {
      const a = await store.allocate(name, 50, false);
      const b = await store.allocate(name, 50, false);
      expect([a.start, a.end, b.start, b.end]).toEqual([1n, 50n, 51n, 100n]);
      // The counter lives on the owning master, where the script ran.
      const next = await withClient(owners.get(name)!.port, (c) =>
        c.hget(store.keys.tag(name), 'next'),
      );
      expect(next).toBe('101');
    }
  });

  it("records a keyed grant beside its tag on the slot's master, and replays it, with the replication ack on", async () => {
    const record = 'c1'.repeat(32);
    for (const name of tags) {
      const req = { record, params: 'ids:5', count: 5, region: 0, ttlMs: 60_000 };
      const first = await store.allocateKeyed(name, req);
      expect(first.replay).toBe(false);
      const again = await store.allocateKeyed(name, req);
      expect(again).toMatchObject({ replay: true, start: first.start, end: first.end });
      // One script touched both keys: the record lives on the tag's master.
      const stored = await withClient(owners.get(name)!.port, (c) =>
        c.get(store.keys.idempotency(name, record)),
      );
      expect(stored).toBe(`ids:5|${first.start}|${first.end}|0|${first.incarnation}`);
    }
  });

  it("hands a keyed lease's tail back on the slot's master, deleting its record there in the same step", async () => {
    const record = 'c2'.repeat(32);
    for (const name of tags) {
      const req = { record, params: 'range:10', count: 10, region: 0, ttlMs: 60_000 };
      const g = await store.allocateKeyed(name, req);
      const back = { from: g.start + 3n, end: g.end, incarnation: g.incarnation!, record };
      expect(await store.handBack(name, back)).toEqual({ returned: true });
      const [next, stored] = await withClient(owners.get(name)!.port, async (c) => [
        await c.hget(store.keys.tag(name), 'next'),
        await c.get(store.keys.idempotency(name, record)),
      ]);
      expect([next, stored]).toEqual([String(g.start + 3n), null]);
    }
  });

  it('routes by its own slot map, even through a Cluster client with stringNumbers on', async () => {
    // ioredis 6 leaves slots 5461-10922 unmapped in such a client (see cluster-route.ts).
    const nodes = cluster.seeds.map((n) => ({ host: n.host, port: n.port }));
    const general = new Cluster(nodes, { redisOptions: { stringNumbers: true } });
    const alloc = new Cluster(nodes, {
      enableOfflineQueue: false,
      redisOptions: { ...allocationOptions, stringNumbers: true },
    });
    defineScripts(general);
    defineScripts(alloc);
    const other = new RedisStore({
      client: general,
      allocClient: alloc,
      keyPrefix: prefix,
      minReplicas: 1,
      waitTimeoutMs: 1000,
    });
    other.onConnectionError(() => {});
    try {
      for (const name of tags) {
        const g = await other.allocate(name, 10, true);
        expect(g.end - g.start).toBe(9n);
      }
    } finally {
      await other.close();
    }
  });

  it('lists the tags of every master', async () => {
    const listed = (await store.listTags()).map((t) => t.name);
    expect(listed).toEqual([...tags].sort());
  });

  it('checks the durability of every master', async () => {
    const report = await store.checkDurability();
    expect(report.nodes).toHaveLength(3);
    expect(report.nodes.every((n) => n.role === 'master' && n.connectedReplicas === 1)).toBe(true);
    expect(report.nodes.reduce((sum, n) => sum + n.sampledTagKeys, 0)).toBe(tags.length);
  });

  it('exports the tags of every master, each read atomically, and imports them back after a loss', async () => {
    const exported = await store.exportTags();
    expect(exported.consistency).toBe('per-tag');
    const nexts = new Map<string, bigint | undefined>();
    for (const r of exported.records) {
      if (r.state === 'live') nexts.set(r.tag.name, r.tag.next);
    }
    expect([...nexts.keys()]).toEqual([...tags].sort());
    for (const name of tags) {
      const stored = await withClient(owners.get(name)!.port, (c) =>
        c.hget(store.keys.tag(name), 'next'),
      );
      expect(nexts.get(name)?.toString()).toBe(stored);
      // The data is lost on its master, as a FLUSHALL there would lose it.
      await withClient(owners.get(name)!.port, (c) => c.del(store.keys.tag(name)));
    }
    for (const r of exported.records) {
      const target = importTarget(r, 1000n);
      expect(await store.importTag(r, target, false)).toMatchObject({ outcome: 'created' });
    }
    for (const name of tags) {
      const g = await store.allocate(name, 1, true);
      expect(g.start).toBe(nexts.get(name)! + 1000n);
    }
  });

  it("leaves out a nested KEY_PREFIX's keys on every master, reporting them once", async () => {
    const inner = redisStoreFrom(
      loadConfig({ REDIS_CLUSTER_NODES: cluster.seedsEnv, KEY_PREFIX: `${prefix}tag:` }),
    );
    try {
      // The inner deployment's tags of the same names land on other slots, other masters.
      for (const name of tags) await inner.createTag(segmentTag(name));
      const masters = new Set<RedisServer>();
      for (const name of tags) masters.add(await cluster.masterOf(keySlot(inner.keys.tag(name))));
      expect(masters.size).toBeGreaterThan(1);
      const reports: unknown[] = [];
      store.onIgnoredKeys((r) => reports.push(r));
      expect((await store.listTags()).map((t) => t.name)).toEqual([...tags].sort());
      const exported = await store.exportTags();
      expect(exported.records.map((r) => (r.state === 'live' ? r.tag.name : r.name))).toEqual(
        [...tags].sort(),
      );
      const example = inner.keys.tag([...tags].sort()[0]!);
      expect(reports).toEqual([
        { count: tags.length, example },
        { count: tags.length, example },
      ]);
    } finally {
      for (const name of tags) {
        const owner = await cluster.masterOf(keySlot(inner.keys.tag(name)));
        await withClient(owner.port, (c) => c.del(inner.keys.tag(name)));
      }
      await inner.close();
    }
  });

  it('records the snowflake layout at a claim and refuses another, its key in another slot', async () => {
    const [L1, L2] = [
      'epoch=2024-01-01T00:00:00.000Z bits=41/10/12',
      'epoch=2025-01-01T00:00:00.000Z bits=41/10/12',
    ];
    const [a, b] = [100, 101];
    expect(keySlot(store.keys.worker(a))).not.toBe(keySlot(store.keys.snowflakeLayout));
    const handle = store.openWorkerLeases(() => {});
    const now = Date.now();
    const claim = { leaseMs: 30_000, now, aheadMs: 1000, marginMs: 3000, maxWaitMs: 10 ** 9 };
    const leased = async (id: number) => {
      const owner = await cluster.masterOf(keySlot(store.keys.worker(id)));
      return withClient(owner.port, async (c) => Number(await c.exists(store.keys.worker(id))));
    };
    try {
      const first = await handle.leases.claim(a, { ...claim, token: 'node-a', layout: L1 });
      expect(first.kind).toBe('claimed');
      expect(await store.readSnowflakeLayout()).toBe(L1);
      expect(await handle.leases.claim(b, { ...claim, token: 'node-b', layout: L2 })).toEqual({
        kind: 'layout',
        recorded: L1,
      });
      expect(await leased(b)).toBe(0);
      // A renewal under another layout gives the lease back.
      const renew = {
        token: 'node-a',
        leaseMs: 30_000,
        now,
        target: now + 2000,
        marginMs: 3000,
        floor: first.kind === 'claimed' ? first.floor : 0,
      };
      expect(await handle.leases.renew(a, { ...renew, layout: L2 })).toEqual({
        kind: 'layout',
        recorded: L1,
      });
      expect(await leased(a)).toBe(0);
    } finally {
      await handle.close();
    }
  });

  it('exports the worker leases of every master and imports them, each in its own slot', async () => {
    // Worker IDs whose keys live on each of the three masters.
    const ids: number[] = [];
    const seen = new Set<RedisServer>();
    for (let id = 0; seen.size < 3; id++) {
      const owner = await cluster.masterOf(keySlot(store.keys.worker(id)));
      if (!seen.has(owner)) ids.push(id);
      seen.add(owner);
    }
    const handle = store.openWorkerLeases(() => {});
    const now = Date.now();
    const claim = { leaseMs: 30_000, now, aheadMs: 1000, marginMs: 3000, maxWaitMs: 10 ** 9 };
    try {
      for (const id of ids) {
        expect((await handle.leases.claim(id, { ...claim, token: `node${id}` })).kind).toBe(
          'claimed',
        );
      }
      // Only this test's worker IDs (another test of this store claimed others).
      const states = (await store.workerTransfer().exportWorkers(now, 3000)).filter((s) =>
        ids.includes(s.id),
      );
      expect(states.map((s) => s.id)).toEqual(ids);
      expect(states.every((s) => s.holder !== undefined && !s.imported)).toBe(true);

      // Into another deployment on the same Cluster: each held for the old node.
      const target = redisStoreFrom(
        loadConfig({ REDIS_CLUSTER_NODES: cluster.seedsEnv, KEY_PREFIX: testPrefix() }),
      );
      try {
        const req = { now, holdMs: 3600_000, marginMs: 3000, dryRun: false };
        for (const { imported: _i, ...record } of states) {
          expect(await target.workerTransfer().importWorker(record, req)).toMatchObject({
            outcome: 'held',
          });
        }
        const there = target.openWorkerLeases(() => {});
        for (const id of ids) {
          expect((await there.leases.claim(id, { ...claim, token: 'new' })).kind).toBe('taken');
          expect(await target.workerTransfer().releaseImported(id, now + 3000)).toBe('released');
        }
        await there.close();
      } finally {
        await target.close();
      }
    } finally {
      await handle.close();
    }
  });
});

describe('RedisStore behind Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER)', () => {
  let set: SentinelSet;
  let store: RedisStore;

  beforeAll(async () => {
    set = await startSentinelSet({ replicas: 2 });
    store = redisStoreFrom(
      loadConfig({
        REDIS_SENTINELS: set.sentinelsEnv,
        REDIS_SENTINEL_MASTER: set.masterName,
        KEY_PREFIX: testPrefix(),
        REDIS_MIN_REPLICAS: '2',
        REDIS_WAIT_TIMEOUT_MS: '1000',
      }),
    );
  });
  afterAll(async () => {
    await store?.close();
    await set?.dispose();
  });

  it('allocates on the master the Sentinels name, acknowledged by both replicas', async () => {
    expect(store.kind).toBe('sentinel');
    await store.createTag(segmentTag('order', { step: 10 }));
    expect(await store.allocate('order', 10, false)).toMatchObject({ start: 1n, end: 10n });
    expect(await store.allocate('order', 10, false)).toMatchObject({ start: 11n, end: 20n });
    const master = await set.currentMaster();
    expect(master).toBe(set.servers[0]);
    const next = await withClient(master.port, (c) => c.hget(store.keys.tag('order'), 'next'));
    expect(next).toBe('21');
  });

  it('records and replays a keyed grant on the master, acknowledged by both replicas', async () => {
    const req = { record: 'ab'.repeat(32), params: 'range:4', count: 4, region: 0, ttlMs: 60_000 };
    const first = await store.allocateKeyed('order', req);
    expect(first).toMatchObject({ replay: false, start: 21n, end: 24n });
    expect(await store.allocateKeyed('order', req)).toMatchObject({ replay: true, start: 21n });
  });

  it('exports from the master the Sentinels name', async () => {
    expect(await store.exportTags()).toEqual({
      consistency: 'per-tag',
      records: [{ state: 'live', tag: expect.objectContaining({ name: 'order', next: 25n }) }],
    });
  });

  it('exports and imports worker leases on the master the Sentinels name', async () => {
    const handle = store.openWorkerLeases(() => {});
    const now = Date.now();
    const claim = { leaseMs: 30_000, now, aheadMs: 1000, marginMs: 3000, maxWaitMs: 10 ** 9 };
    try {
      expect((await handle.leases.claim(4, { ...claim, token: 'old' })).kind).toBe('claimed');
      const [state, ...rest] = await store.workerTransfer().exportWorkers(now, 3000);
      expect(rest).toEqual([]);
      expect(state).toMatchObject({ id: 4, holder: expect.any(String), imported: false });
      const { imported: _i, ...record } = state!;
      const req = { now, holdMs: 3600_000, marginMs: 3000, dryRun: false };
      // The same store: the holder is still here, so its lease is left to it.
      expect(await store.workerTransfer().importWorker(record, req)).toMatchObject({
        outcome: 'kept',
      });
      const moved = { ...record, id: 5 }; // as if another store's node held worker 5
      expect(await store.workerTransfer().importWorker(moved, req)).toMatchObject({
        outcome: 'held',
      });
      expect((await handle.leases.claim(5, { ...claim, token: 'new' })).kind).toBe('taken');
      expect(await store.workerTransfer().releaseImported(5, now + 3000)).toBe('released');
    } finally {
      await handle.close();
    }
  });
});
