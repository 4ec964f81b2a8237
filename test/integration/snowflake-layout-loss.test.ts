/**
 * One snowflake layout per store after the store lost its layout record (a Redis
 * restarted empty): the record is written again by the first claim of a worker ID, and
 * a claim under another layout is refused — whichever layout claims first after the
 * loss, only one of them mints.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { checkSnowflakeLayout } from '../../src/allocator/snowflake/layout-check.js';
import {
  createLayout,
  layoutFingerprint,
  type SnowflakeLayout,
} from '../../src/allocator/snowflake/layout.js';
import { silentLog } from '../../src/core/time-and-log.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { createKeys, type Keys } from '../../src/store/redis/keys.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { FakeTime } from '../support/snowflake-fakes.js';
import { testStore } from '../support/store.js';

const L1 = createLayout();
const L2 = createLayout({ epochMs: Date.UTC(2024, 6, 1) });
const LEASE = 30_000;
const refusal = (mine: SnowflakeLayout, recorded: SnowflakeLayout) =>
  `cannot claim a worker ID: snowflake layout ${layoutFingerprint(mine)} differs from ${layoutFingerprint(recorded)}, the one this store's snowflake IDs are minted with`;

let server: RedisServer;
let client: Redis;
let keys: Keys;
let store: RedisStore;
const open: SnowflakeGenerator[] = [];

beforeEach(async () => {
  server = await RedisServer.start(); // no persistence: a restart comes back empty
  client = createRedisClient({ kind: 'redis', url: server.url }, 'general') as Redis;
  client.on('error', () => {}); // refused while the server restarts: expected here
  keys = createKeys(testPrefix());
  store = testStore(server.url, keys.prefix);
  store.onConnectionError(() => {}); // likewise
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((g) => g.close()));
  client.disconnect();
  await store.close();
  await server.dispose();
});

/**
 * A node of `layout` on `time`, choosing worker IDs from `start`, started as the service
 * starts one: the layout check, then the first claim.
 */
async function node(
  layout: SnowflakeLayout,
  time: FakeTime,
  start: number,
): Promise<SnowflakeGenerator> {
  const gen = new SnowflakeGenerator({
    layout,
    leaseStore: new RedisWorkerLeaseStore(client, keys),
    leaseMs: LEASE,
    clock: time.clock,
    sleep: time.sleep,
    schedule: time.schedule,
    lease: { random: () => start / layout.workerCount, marginMs: 0 },
  });
  open.push(gen);
  await checkSnowflakeLayout(store, layout, silentLog);
  await gen.start();
  return gen;
}

/** The store loses everything, its layout record and every lease included. */
async function restartEmpty(): Promise<void> {
  await server.kill();
  await server.start();
  // The client reconnects by itself; wait until it has.
  for (let i = 0; ; i++) {
    try {
      if ((await client.ping()) === 'PONG') break;
    } catch (err) {
      if (i > 100) throw err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(String(await client.dbsize())).toBe('0');
}

/** The worker IDs leased in the store (of the first 16). */
async function leased(): Promise<number[]> {
  const held: number[] = [];
  for (let id = 0; id < 16; id++)
    if (String(await client.exists(keys.worker(id))) === '1') held.push(id);
  return held;
}

describe('the snowflake layout record after the store lost it', () => {
  it('is restored by a running node re-claiming; a node of another layout is then refused', async () => {
    const time = new FakeTime();
    const x = await node(L1, time, 3);
    expect(await client.get(keys.snowflakeLayout)).toBe(layoutFingerprint(L1));

    await restartEmpty();
    // x's next renewal finds its lease gone and claims again: the record is back.
    await time.advance(LEASE / 3);
    expect(x.workerId).toBe(3);
    expect(await client.get(keys.snowflakeLayout)).toBe(layoutFingerprint(L1));

    // y's start-up check finds the record again, names both layouts and refuses.
    await expect(node(L2, time, 7)).rejects.toThrow(
      `snowflake layout ${layoutFingerprint(L2)} differs from ${layoutFingerprint(L1)}, the one this store's snowflake IDs are minted with`,
    );
    expect(await leased()).toEqual([3]);
    await time.advance(LEASE);
    expect(x.readiness()).toEqual({ ready: true });
    expect(typeof x.next()).toBe('bigint');
  });

  it('refuses the running node when a node of another layout claimed first after the loss', async () => {
    const time = new FakeTime();
    const x = await node(L1, time, 3);
    await restartEmpty();

    // y starts before x renews: its claim records its layout.
    const y = await node(L2, time, 7);
    expect(y.workerId).toBe(7);
    expect(await client.get(keys.snowflakeLayout)).toBe(layoutFingerprint(L2));

    // x's renewal finds its lease gone; its claim again is refused, so x stops minting.
    await time.advance(LEASE / 3);
    expect(x.workerId).toBeUndefined();
    expect(x.readiness()).toEqual({
      ready: false,
      reason: expect.stringContaining(refusal(L1, L2)) as string,
    });
    expect(() => x.next()).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    expect(await leased()).toEqual([7]);
    // It keeps trying every third of the lease, and keeps being refused.
    await time.advance(LEASE);
    expect(x.workerId).toBeUndefined();
    expect(await client.get(keys.snowflakeLayout)).toBe(layoutFingerprint(L2));
  });

  it('is written back by the running nodes when it alone was lost; another layout then refused', async () => {
    const time = new FakeTime();
    const x = await node(L1, time, 3);
    await client.del(keys.snowflakeLayout); // deleted (or evicted): the leases live on
    await time.advance(LEASE / 3); // x renews
    expect(x.workerId).toBe(3);
    expect(await client.get(keys.snowflakeLayout)).toBe(layoutFingerprint(L1));
    await expect(node(L2, time, 7)).rejects.toThrow(
      `snowflake layout ${layoutFingerprint(L2)} differs from ${layoutFingerprint(L1)}`,
    );
  });

  it("ends the running node's lease when a node of another layout recorded its own meanwhile", async () => {
    const time = new FakeTime();
    const x = await node(L1, time, 3);
    await client.del(keys.snowflakeLayout);
    const y = await node(L2, time, 7); // starts before x renews: records its layout
    expect(y.workerId).toBe(7);

    // x's renewal finds another layout recorded: its lease is given back, it stops.
    await time.advance(LEASE / 3);
    expect(x.workerId).toBeUndefined();
    expect(x.readiness()).toEqual({
      ready: false,
      reason: expect.stringContaining(
        `the lease on worker 3 was given back: snowflake layout ${layoutFingerprint(L1)} differs from ${layoutFingerprint(L2)}`,
      ) as string,
    });
    expect(() => x.next()).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    expect(await leased()).toEqual([7]);
    expect(y.workerId).toBe(7);
    // Its claims from then on are refused, naming both layouts.
    await time.advance(LEASE / 3);
    expect(x.readiness()).toEqual({
      ready: false,
      reason: expect.stringContaining(refusal(L1, L2)) as string,
    });
  });
});
