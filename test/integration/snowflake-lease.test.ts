import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { createLayout, decodeSnowflake } from '../../src/allocator/snowflake/layout.js';
import type { RenewOutcome, RenewRequest } from '../../src/core/lease-port.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { createKeys, type Keys } from '../../src/store/redis/keys.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import { testPrefix } from '../support/prefix.js';
import { FakeTime } from '../support/snowflake-fakes.js';

const layout = createLayout();
const LEASE = 30_000;

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

/**
 * The Redis lease store, whose next renewal can be made to fail after its script ran, as
 * a replication ack (`WAIT`) that times out does: written in Redis, refused to the node.
 */
class AckFailsAfterWrite extends RedisWorkerLeaseStore {
  failNext = false;
  override async renew(workerId: number, req: RenewRequest): Promise<RenewOutcome> {
    const r = await super.renew(workerId, req);
    if (!this.failNext) return r;
    this.failNext = false;
    throw new IdAllocError(ErrorCode.UNAVAILABLE, 'the renewal is not confirmed on 1 replica');
  }
}

/** A node on `time` whose choice of worker ID starts at `start`. */
function node(
  time: FakeTime,
  start = 0,
  marginMs?: number,
  windowSize?: number,
  leaseStore: RedisWorkerLeaseStore = store,
) {
  const gen = new SnowflakeGenerator({
    layout,
    leaseStore,
    leaseMs: LEASE,
    clock: time.clock,
    sleep: time.sleep,
    schedule: time.schedule,
    lease: {
      random: () => start / layout.workerCount,
      ...(marginMs === undefined ? {} : { marginMs }),
      ...(windowSize === undefined ? {} : { windowSize }),
    },
  });
  open.push(gen);
  return gen;
}

const parts = (id: bigint) => decodeSnowflake(layout, id.toString(), Date.UTC(2100, 0, 1));

/**
 * Starts `gen` on worker `id`, mints once past its fence (`before`), then makes its
 * horizon look confirmed by another server, as a promoted replica that never saw the last
 * raises would; `h` is that horizon.
 */
async function servingThenServerChanged(gen: SnowflakeGenerator, time: FakeTime, id: number) {
  await gen.start();
  await time.advance(LEASE);
  const before = gen.next() as bigint;
  await client.hset(keys.workerHorizon(id), 'run_id', 'another-server');
  const h = Number(await client.hget(keys.workerHorizon(id), 'h'));
  return { before, h };
}

/** `gen` refuses until its fence one lease above `h`, then mints there, above `before`. */
async function expectFencedAbove(
  gen: SnowflakeGenerator,
  time: FakeTime,
  h: number,
  before: bigint,
) {
  expect(gen.readiness()).toMatchObject({
    ready: false,
    reason: expect.stringContaining('fenced until'),
  });
  expect(() => gen.next()).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
  time.t = h + 1 + LEASE;
  const after = gen.next() as bigint;
  expect(parts(after).timestamp).toBe(h + 1 + LEASE);
  expect(after > before).toBe(true);
}

describe('snowflake worker lease on Redis', () => {
  it('claims a worker ID on a fresh store, waits one lease for its fence, then issues', async () => {
    const time = new FakeTime();
    const gen = node(time, 5);
    const t0 = time.t;
    await gen.start();
    expect(gen.workerId).toBe(5);
    expect(await client.exists(keys.worker(5))).toBe('1');
    // A missing horizon may be a lost one: start one lease (the margin) above now.
    expect(gen.readiness()).toEqual({
      ready: false,
      reason: `worker 5 is fenced until ${new Date(t0 + LEASE).toISOString()} (30 s): an earlier holder may have used timestamps up to then`,
    });
    expect(() => gen.next()).toThrow(
      expect.objectContaining({ code: 'UNAVAILABLE', retryAfterSeconds: 30 }),
    );
    // Renewals every third of the lease.
    expect(time.pending()).toEqual([10_000]);
    await time.advance(LEASE);
    expect(gen.readiness()).toEqual({ ready: true });
    const id = gen.next() as bigint;
    expect(parts(id)).toMatchObject({ timestamp: t0 + LEASE, workerId: 5, sequence: 0 });
    // The horizon went ahead to the last renewal + lease - guard (1 s).
    expect(await client.hget(keys.workerHorizon(5), 'h')).toBe(String(t0 + LEASE + LEASE - 1000));
  });

  it('gives two nodes claiming at once different worker IDs', async () => {
    const time = new FakeTime();
    const a = node(time, 9);
    const b = node(time, 9);
    await Promise.all([a.start(), b.start()]);
    expect(a.workerId).toBeDefined();
    expect(b.workerId).toBeDefined();
    expect(a.workerId).not.toBe(b.workerId);
    expect([a.workerId!, b.workerId!].sort((x, y) => x - y)).toEqual([9, 10]);
    const tokens = await Promise.all([9, 10].map((id) => client.get(keys.worker(id))));
    expect(new Set(tokens).size).toBe(2);
  });

  it('exhausts a 10-bit space with 1 024 nodes; the 1 025th is not ready and says why', async () => {
    const time = new FakeTime();
    // Margin 0 and small windows keep 1 024 claims cheap: this test is about the space.
    const nodes = Array.from({ length: 1024 }, (_, i) => node(time, i, 0, 16));
    for (let i = 0; i < nodes.length; i += 64) {
      await Promise.all(nodes.slice(i, i + 64).map((g) => g.start()));
    }
    const ids = new Set(nodes.map((g) => g.workerId));
    expect(ids.size).toBe(1024);
    const last = node(time, 123, 0);
    await last.start();
    expect(last.workerId).toBeUndefined();
    expect(last.readiness()).toEqual({
      ready: false,
      reason: 'all 1024 worker IDs are leased; trying again every 10000 ms',
    });
    expect(() => last.next()).toThrow(
      expect.objectContaining({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('all 1024 worker IDs are leased'),
      }),
    );
    // One node shuts down: the waiting one claims the released ID at its next try.
    const leaving = nodes[700]!;
    await leaving.close();
    await time.advance(10_000);
    expect(last.workerId).toBe(700);
    expect(last.readiness()).toEqual({ ready: true });
  }, 60_000);

  it('lets the next holder of a released worker ID start right after the last ID used', async () => {
    const time = new FakeTime();
    const a = node(time, 3);
    await a.start();
    await time.advance(LEASE);
    const fromA = a.nextBatch(10) as bigint[];
    const lastTs = parts(fromA[9]!).timestamp;
    await a.close();
    expect(await client.exists(keys.worker(3))).toBe('0');
    expect(await client.hget(keys.workerHorizon(3), 'h')).toBe(String(lastTs));
    const b = node(time, 3);
    await b.start();
    expect(b.workerId).toBe(3);
    // Its fence ends 1 ms from now (within MAX_BACKWARD_MS): ready, the first ID waits.
    expect(b.readiness()).toEqual({ ready: true });
    const fromB = await b.next();
    expect(time.sleeps).toEqual([1]);
    expect(parts(fromB)).toMatchObject({ workerId: 3, timestamp: lastTs + 1 });
    expect(fromB > fromA[9]!).toBe(true);
  });

  it('prefers a worker ID usable at once over a fresh one that must wait', async () => {
    const time = new FakeTime();
    const a = node(time, 40);
    await a.start();
    await time.advance(LEASE);
    a.next();
    await a.close();
    time.t += 1;
    // Starting at 0, IDs 0..39 are fresh (fenced by the margin); 40 is settled.
    const b = node(time, 0);
    await b.start();
    expect(b.workerId).toBe(40);
    expect(b.readiness()).toEqual({ ready: true });
  });

  it('re-fences a holder whose store changed server (restart or failover), then goes on', async () => {
    const time = new FakeTime();
    const gen = node(time, 8);
    const { before, h } = await servingThenServerChanged(gen, time, 8);
    await time.advance(10_000);
    expect(gen.workerId).toBe(8);
    await expectFencedAbove(gen, time, h, before);
  });

  it('keeps a re-fence whose renewal failed after the store wrote it: the next renewal hands it over', async () => {
    const time = new FakeTime();
    const flaky = new AckFailsAfterWrite(client, keys);
    const gen = node(time, 9, undefined, undefined, flaky);
    const { before, h } = await servingThenServerChanged(gen, time, 9);
    // The renewal on the "new server" re-fences in Redis, and its ack fails; the ones
    // after it meet this server's own run_id and only the stored floor tells.
    flaky.failNext = true;
    // The renewal due in 10 s fails; its retry follows a second later.
    await time.advance(12_000);
    expect(flaky.failNext).toBe(false);
    expect(Number(await client.hget(keys.workerHorizon(9), 'floor'))).toBe(h + 1 + LEASE);
    await expectFencedAbove(gen, time, h, before);
  });

  it('claims again at once when its lease was lost', async () => {
    const time = new FakeTime();
    const gen = node(time, 12, 0);
    await gen.start();
    expect(gen.workerId).toBe(12);
    await client.set(keys.worker(12), 'someone-else');
    await time.advance(10_000);
    expect(gen.workerId).toBe(13);
    expect(await client.get(keys.worker(12))).toBe('someone-else');
  });
});
