/**
 * Worker IDs of a region on a real Redis: a node of REGION=i/N claims worker IDs only from
 * its region's block, whatever ID its choice starts at; once the block is all leased it
 * claims none (another region's IDs are free in this store but may be held by the other
 * region's deployment); its grant lines name the region.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { createLayout } from '../../src/allocator/snowflake/layout.js';
import type { GrantEvent } from '../../src/core/grant-log.js';
import { parseRegion } from '../../src/core/shape.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { createKeys, type Keys } from '../../src/store/redis/keys.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import { testPrefix } from '../support/prefix.js';
import { FakeTime } from '../support/snowflake-fakes.js';

/** 16 worker IDs: region 1/3 owns 5 to 9. */
const layout = createLayout({ workerBits: 4 });
const REGION = parseRegion('1/3');

let client: Redis;
let keys: Keys;
let store: RedisWorkerLeaseStore;
const open: SnowflakeGenerator[] = [];

beforeEach(() => {
  client = createRedisClient({ kind: 'redis', url: inject('redisUrl') }, 'general') as Redis;
  keys = createKeys(testPrefix());
  store = new RedisWorkerLeaseStore(client, keys);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((g) => g.close()));
  await client.quit();
});

/** A node of region 1/3 whose choice starts at `start` of its block (0..1). */
function node(time: FakeTime, start: number, events: GrantEvent[]) {
  const gen = new SnowflakeGenerator({
    layout,
    leaseStore: store,
    leaseMs: 30_000,
    clock: time.clock,
    sleep: time.sleep,
    schedule: time.schedule,
    region: REGION,
    grants: { record: (e) => events.push(e) },
    lease: { random: () => start, windowSize: 2 },
  });
  open.push(gen);
  return gen;
}

describe('snowflake worker IDs of a region on Redis', () => {
  it('claims only from the region block, and none once the block is all leased', async () => {
    const time = new FakeTime();
    const events: GrantEvent[] = [];
    const held: number[] = [];
    for (const start of [0, 0.3, 0.6, 0.9, 0.99]) {
      const gen = node(time, start, events);
      await gen.start();
      held.push(gen.workerId!);
    }
    expect(held.sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9]);
    // Worker IDs 0..4 and 10..15 are free in this store, yet a sixth node takes none.
    const sixth = node(time, 0.5, events);
    await sixth.start();
    expect(sixth.workerId).toBeUndefined();
    expect(sixth.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/all 5 \(5 to 9, region 1\/3's block\) worker IDs are leased/),
    });
    for (const id of [0, 4, 10, 15]) expect(await client.exists(keys.worker(id))).toBe('0');
    const claims = events.filter((e) => e.kind === 'worker');
    expect(claims).toHaveLength(5);
    for (const e of claims) expect(e).toMatchObject({ how: 'claim', region: REGION });
  });
});
