/**
 * docs/design.md §8.5: at start the service asks whether Redis can lose a write it acknowledged.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, type RedisLike } from '../../src/store/redis/client.js';
import {
  checkDurability,
  requireDurable,
  StoreNotDurableError,
} from '../../src/store/redis/durability.js';
import { createKeys } from '../../src/store/redis/keys.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { promote, startReplicated, type ReplicatedSet } from '../support/replication.js';
import { standalone, storeOn } from '../support/topology-store.js';

const durableArgs = ['--appendonly', 'yes', '--appendfsync', 'always'];

function clientOf(server: RedisServer): RedisLike {
  const c = createRedisClient(standalone(server.port), 'general');
  c.on('error', () => {});
  return c;
}

describe('checkDurability', () => {
  let set: ReplicatedSet;
  let client: Redis;
  const keys = createKeys(testPrefix());

  beforeAll(async () => {
    set = await startReplicated({ replicas: 1, args: durableArgs });
    client = clientOf(set.master) as Redis;
  });
  afterAll(async () => {
    client.disconnect();
    await set.dispose();
  });

  const check = (minReplicas = 0) =>
    checkDurability(client, { tagPattern: keys.tagPattern, minReplicas });

  it('calls a master with AOF, appendfsync always and noeviction durable', async () => {
    const report = await check(1);
    expect(report.durable).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.unchecked).toEqual([]);
    expect(report.nodes).toHaveLength(1);
    expect(report.nodes[0]).toMatchObject({
      role: 'master',
      connectedReplicas: 1,
      aof: true,
      appendfsync: 'always',
      maxmemoryPolicy: 'noeviction',
    });
    expect(() => requireDurable(report)).not.toThrow();
  });

  it('flags appendfsync everysec, which can lose a second of grants', async () => {
    await client.config('SET', 'appendfsync', 'everysec');
    try {
      const report = await check();
      expect(report.durable).toBe(false);
      expect(report.problems.join('\n')).toMatch(/appendfsync is 'everysec'/);
    } finally {
      await client.config('SET', 'appendfsync', 'always');
    }
  });

  it('flags AOF turned off', async () => {
    await client.config('SET', 'appendonly', 'no');
    try {
      const report = await check();
      expect(report.durable).toBe(false);
      expect(report.nodes[0]?.aof).toBe(false);
      expect(report.problems.join('\n')).toMatch(/AOF is off/);
    } finally {
      await client.config('SET', 'appendonly', 'yes');
    }
  });

  it('flags an eviction policy other than noeviction', async () => {
    await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const report = await check();
      expect(report.durable).toBe(false);
      expect(report.problems.join('\n')).toMatch(/maxmemory-policy is 'allkeys-lru'/);
    } finally {
      await client.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('flags a tag key that carries a TTL, naming it', async () => {
    const key = keys.tag('order');
    await client.hset(key, 'mode', 'segment', 'next', '1');
    await client.hset(keys.tag('invoice'), 'mode', 'segment', 'next', '1');
    await client.pexpire(key, 600_000);
    try {
      const report = await check();
      expect(report.durable).toBe(false);
      expect(report.nodes[0]?.sampledTagKeys).toBe(2);
      expect(report.nodes[0]?.tagKeysWithTtl).toEqual([key]);
      expect(report.problems.join('\n')).toContain(key);
    } finally {
      await client.persist(key);
    }
  });

  it("leaves a nested KEY_PREFIX's keys out of the sample: its worker leases expire by design", async () => {
    const store = storeOn(standalone(set.master.port), {}, keys.prefix);
    const inner = createKeys(`${keys.prefix}tag:`);
    await client.set(inner.worker(3), 'holder', 'PX', 600_000);
    try {
      const report = await store.checkDurability();
      expect(report.nodes[0]?.tagKeysWithTtl).toEqual([]);
      expect(report.problems).toEqual([]);
    } finally {
      await client.del(inner.worker(3));
      await store.close();
    }
  });

  it('notes replicas that follow without REDIS_MIN_REPLICAS, and too few for it', async () => {
    expect((await check(0)).notes.join('\n')).toMatch(/REDIS_MIN_REPLICAS is 0/);
    const short = await check(2);
    expect(short.notes.join('\n')).toMatch(/REDIS_MIN_REPLICAS is 2 but 1 replica/);
    expect(short.durable).toBe(true);
  });

  it('reports a replica as a problem: it refuses writes', async () => {
    const replica = clientOf(set.replicas[0]!) as Redis;
    try {
      const report = await checkDurability(replica, { tagPattern: keys.tagPattern });
      expect(report.nodes[0]?.role).toBe('slave');
      expect(report.durable).toBe(false);
      expect(report.problems.join('\n')).toMatch(/is a slave, not a master/);
    } finally {
      replica.disconnect();
    }
  });

  it('survives a promoted replica and still judges it by its own settings', async () => {
    // Last in this block: it splits the set.
    await promote(set.replicas[0]!);
    const replica = clientOf(set.replicas[0]!) as Redis;
    try {
      const report = await checkDurability(replica, { tagPattern: keys.tagPattern });
      expect(report.nodes[0]?.role).toBe('master');
      expect(report.durable).toBe(true);
    } finally {
      replica.disconnect();
    }
  });
});

describe('checkDurability where CONFIG is renamed (managed Redis)', () => {
  let server: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    server = await RedisServer.start({ args: [...durableArgs, '--rename-command', 'CONFIG', ''] });
    client = clientOf(server) as Redis;
  });
  afterAll(async () => {
    client.disconnect();
    await server.dispose();
  });

  it('reads what INFO shows and says what it could not check', async () => {
    const report = await checkDurability(client, { tagPattern: createKeys('x:').tagPattern });
    expect(report.nodes[0]).toMatchObject({ aof: true, maxmemoryPolicy: 'noeviction' });
    expect(report.nodes[0]?.appendfsync).toBeUndefined();
    expect(report.unchecked.join('\n')).toMatch(/could not check appendfsync \(CONFIG GET refused/);
    expect(report.durable).toBe(false);
  });

  it('makes REQUIRE_DURABLE_STORE refuse, naming what is missing', async () => {
    const report = await checkDurability(client, { tagPattern: createKeys('x:').tagPattern });
    let thrown: unknown;
    try {
      requireDurable(report);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StoreNotDurableError);
    expect((thrown as Error).message).toMatch(
      /^REQUIRE_DURABLE_STORE=true but the store can lose acknowledged writes: .*appendfsync/,
    );
  });
});
