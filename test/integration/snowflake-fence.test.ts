import type { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { createLayout, decodeSnowflake } from '../../src/allocator/snowflake/layout.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { createKeys, type Keys } from '../../src/store/redis/keys.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { FakeTime } from '../support/snowflake-fakes.js';
import type { Log } from '../../src/core/time-and-log.js';

const layout = createLayout();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function client(url: string): Redis {
  const c = createRedisClient({ kind: 'redis', url }, 'general') as Redis;
  c.on('error', () => {}); // a stopped server is the point of some tests
  cleanup.push(() => c.quit().catch(() => c.disconnect()));
  return c;
}

function node(c: Redis, keys: Keys, time: FakeTime, start: number, leaseMs: number, log?: Log) {
  const gen = new SnowflakeGenerator({
    ...(log ? { log } : {}),
    layout,
    leaseStore: new RedisWorkerLeaseStore(c, keys),
    leaseMs,
    clock: time.clock,
    sleep: time.sleep,
    schedule: time.schedule,
    lease: { random: () => start / layout.workerCount },
  });
  cleanup.push(() => gen.close());
  return gen;
}

const ts = (id: bigint) => decodeSnowflake(layout, id.toString(), Date.UTC(2100, 0, 1)).timestamp;
const iso = (ms: number) => new Date(ms).toISOString();

describe('snowflake horizon fence', () => {
  it('a holder paused past its lease and the new holder of its worker ID mint no common ID', async () => {
    const LEASE = 30_000;
    const c = client(inject('redisUrl'));
    const keys = createKeys(testPrefix());
    const timeA = new FakeTime();
    const a = node(c, keys, timeA, 5, LEASE);
    await a.start();
    await timeA.advance(LEASE); // past the fresh-store fence, renewed on the way
    const fromA = [...(a.nextBatch(100) as bigint[])];
    const h = Number(await c.hget(keys.workerHorizon(5), 'h'));
    expect(h).toBe(timeA.t + LEASE - 1000);

    // A pauses (GC, a stopped VM): its timers stand still and its lease expires.
    await c.del(keys.worker(5));
    // B, on the same wall clock, takes worker 5 over while A sleeps.
    const timeB = new FakeTime(timeA.t);
    const b = node(c, keys, timeB, 5, LEASE);
    await b.start();
    expect(b.workerId).toBe(5);
    expect(b.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringContaining(`worker 5 is fenced until ${iso(h + 1)}`),
    });
    expect(() => b.next()).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));

    // A wakes up believing it still holds worker 5: it issues, but only up to its horizon.
    timeA.t = h - 1;
    fromA.push(...(a.nextBatch(50) as bigint[]));
    timeA.t = h;
    fromA.push(...(a.nextBatch(50) as bigint[]));
    timeA.t = h + 1;
    expect(() => a.next()).toThrow(
      expect.objectContaining({
        code: 'UNAVAILABLE',
        message: expect.stringContaining(`stopped issuing at its confirmed horizon ${iso(h)}`),
      }),
    );

    // B issues from just above it, in the same milliseconds A's clock reads now.
    timeB.t = h + 1;
    const fromB = b.nextBatch(200) as bigint[];
    expect(Math.max(...fromA.map(ts))).toBe(h);
    expect(Math.min(...fromB.map(ts))).toBe(h + 1);
    expect(new Set([...fromA, ...fromB]).size).toBe(fromA.length + fromB.length);

    // A's next renewal finds the lease not its own and claims another worker ID.
    await timeA.advance(10_000);
    expect(a.workerId).toBeDefined();
    expect(a.workerId).not.toBe(5);
    expect(await c.get(keys.worker(5))).not.toBeNull();
  });

  it('stops issuing before its lease could lapse when renewals fail (Redis stopped), then claims again', async () => {
    const LEASE = 3000; // renew every 1 s, guard 300 ms
    const server = await RedisServer.start();
    cleanup.push(() => server.dispose());
    const c = client(server.url);
    const keys = createKeys(testPrefix());
    const time = new FakeTime();
    const warnings: { obj: object; msg: string }[] = [];
    const log = {
      error() {},
      info() {},
      warn: (obj: object, msg: string) => warnings.push({ obj, msg }),
    };
    const gen = node(c, keys, time, 2, LEASE, log);
    await gen.start();
    await time.advance(LEASE);
    expect(gen.readiness()).toEqual({ ready: true });
    const lastRenewal = time.t; // the renewal timers fired at +1, +2 and +3 s
    const h = Number(await c.hget(keys.workerHorizon(2), 'h'));
    expect(h).toBe(lastRenewal + LEASE - 300);
    const before = gen.next() as bigint;

    await server.stop();
    await time.advance(1000); // this renewal fails
    expect(() => gen.next()).not.toThrow(); // within the confirmed horizon
    time.t = h;
    const atHorizon = gen.next() as bigint;
    expect(ts(atHorizon)).toBe(h);
    time.t = h + 1;
    expect(() => gen.next()).toThrow(
      expect.objectContaining({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('was not renewed'),
      }),
    );
    expect(gen.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringContaining('cannot renew the lease on worker 2'),
    });
    // The cause is known (the store is unreachable): one short line, its code and
    // message, not the error object with its stack and its cause's.
    const failed = warnings.filter((w) => w.msg.startsWith('cannot renew the lease on worker 2'));
    expect(failed.length).toBeGreaterThan(0);
    for (const w of failed) {
      expect(w.obj).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: expect.stringMatching(
            /^the store did not answer the renewal of snowflake worker 2 \(/,
          ),
          storeError: expect.any(String), // the client's own words: in the log only
        },
        attempts: expect.any(Number),
      });
      expect(JSON.stringify(w.obj).length).toBeLessThan(400);
    }
    // The last timestamp it used lies 300 ms before the lease could end in Redis (the
    // lease runs from when Redis executed the renewal, no earlier than it was sent).
    expect(lastRenewal + LEASE - ts(atHorizon)).toBe(300);

    // Redis comes back empty (no persistence): the lease is gone, so the node claims
    // again, above now + margin, since a missing horizon may be a lost one.
    await server.start();
    for (let i = 0; i < 20 && gen.readiness().reason?.includes('fenced') !== true; i++) {
      await time.advance(1000);
    }
    expect(gen.workerId).toBe(2);
    expect(gen.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringContaining('fenced'),
    });
    await time.advance(LEASE);
    const after = gen.next() as bigint;
    expect(ts(after)).toBeGreaterThan(h);
    expect(after > before && after > atHorizon).toBe(true);
  }, 60_000);
});
