import { describe, expect, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { createLayout, decodeSnowflake } from '../../src/allocator/snowflake/layout.js';
import type { AllocatorObserver } from '../../src/allocator/types.js';
import type { Log } from '../../src/core/time-and-log.js';
import { isIdAllocError } from '../../src/core/errors.js';
import { FakeTime } from '../support/snowflake-fakes.js';

const layout = createLayout();

function pinned(opts: { workerId?: number; time?: FakeTime; maxBackwardMs?: number } = {}) {
  const time = opts.time ?? new FakeTime();
  const backwards: string[] = [];
  const warnings: string[] = [];
  const observer: AllocatorObserver = { clockBackwards: (o) => backwards.push(o) };
  const log: Log = { error() {}, info() {}, warn: (_o, msg) => warnings.push(msg) };
  const gen = new SnowflakeGenerator({
    layout,
    workerId: opts.workerId ?? 7,
    clock: time.clock,
    sleep: time.sleep,
    observer,
    log,
    ...(opts.maxBackwardMs === undefined ? {} : { maxBackwardMs: opts.maxBackwardMs }),
  });
  return { gen, time, backwards, warnings };
}

const parts = (id: bigint) => decodeSnowflake(layout, id.toString(), Date.UTC(2100, 0, 1));

async function take(gen: SnowflakeGenerator): Promise<bigint> {
  return await gen.next();
}

describe('SnowflakeGenerator (pinned worker)', () => {
  it('answers synchronously with timestamp | worker | sequence from the clock', async () => {
    const { gen, time } = pinned();
    await gen.start();
    const a = gen.next();
    const b = gen.next();
    expect(typeof a).toBe('bigint');
    expect(parts(a as bigint)).toMatchObject({ timestamp: time.t, workerId: 7, sequence: 0 });
    expect(parts(b as bigint)).toMatchObject({ timestamp: time.t, workerId: 7, sequence: 1 });
    time.t += 1;
    expect(parts(gen.next() as bigint)).toMatchObject({ timestamp: time.t, sequence: 0 });
    expect(gen.workerId).toBe(7);
    expect(gen.readiness()).toEqual({ ready: true });
  });

  it('issues 4 096 IDs in one millisecond, then the 4 097th from the next', async () => {
    const { gen, time } = pinned();
    await gen.start();
    const t0 = time.t;
    const ids = gen.nextBatch(4096) as bigint[];
    expect(Array.isArray(ids)).toBe(true);
    expect(ids.map((id) => parts(id).sequence)).toEqual([...Array(4096).keys()]);
    expect(ids.every((id) => parts(id).timestamp === t0)).toBe(true);
    const next = gen.next();
    expect(next).toBeInstanceOf(Promise); // the fake clock stands still: it has to sleep
    const id = await next;
    expect(time.sleeps).toEqual([1]);
    expect(parts(id)).toMatchObject({ timestamp: t0 + 1, sequence: 0 });
    expect(id > ids[4095]!).toBe(true);
  });

  it('spins into the next millisecond when the clock turns over after 20 000 reads', async () => {
    // Like a real clock, this one turns over 1.9 ms (monotonic) after the sequence ran
    // out; each look at the monotonic time advances it 1 µs, so that takes 121 600 clock
    // reads, long after a fixed count of reads would have given up and slept for 1 ms.
    const time = new FakeTime();
    let mono = 0;
    let turnAt = Infinity;
    const clock = { now: () => (mono >= turnAt ? time.t + 1 : time.t) };
    const gen = new SnowflakeGenerator({
      layout,
      workerId: 7,
      clock,
      sleep: time.sleep,
      monotonic: () => (mono += 0.001),
    });
    await gen.start();
    const ids = gen.nextBatch(4096) as bigint[];
    turnAt = mono + 1.9; // within the spin limit (2 ms)
    const next = gen.next();
    expect(typeof next).toBe('bigint'); // answered without sleeping
    expect(time.sleeps).toEqual([]);
    expect(parts(next as bigint)).toMatchObject({ timestamp: time.t + 1, sequence: 0 });
    expect((next as bigint) > ids[4095]!).toBe(true);
  });

  it('sleeps 1 ms when the clock stands still for the whole spin limit', async () => {
    const time = new FakeTime();
    let mono = 0;
    const gen = new SnowflakeGenerator({
      layout,
      workerId: 7,
      clock: time.clock,
      sleep: time.sleep,
      monotonic: () => (mono += 0.001),
    });
    await gen.start();
    gen.nextBatch(4096);
    const next = gen.next();
    expect(next).toBeInstanceOf(Promise);
    expect(parts(await next)).toMatchObject({ sequence: 0 });
    expect(time.sleeps).toEqual([1]);
    expect(mono).toBeGreaterThanOrEqual(2); // it spun the whole limit first
  });

  it('waits out a clock moved back by 2 ms, counts it, and keeps IDs increasing', async () => {
    const { gen, time, backwards } = pinned();
    await gen.start();
    const before = gen.next() as bigint;
    time.t -= 2;
    const after = await take(gen);
    expect(time.sleeps).toEqual([2]);
    expect(backwards).toEqual(['waited']);
    expect(after > before).toBe(true);
    expect(parts(after)).toMatchObject({ timestamp: parts(before).timestamp, sequence: 1 });
  });

  it('refuses a clock moved back by 1 s with UNAVAILABLE and a Retry-After, and counts it', async () => {
    const { gen, time, backwards } = pinned();
    await gen.start();
    const before = gen.next() as bigint;
    time.t -= 1000;
    let error: unknown;
    try {
      gen.next();
    } catch (err) {
      error = err;
    }
    expect(isIdAllocError(error, 'UNAVAILABLE')).toBe(true);
    expect(error).toMatchObject({
      retryAfterSeconds: 1,
      message: expect.stringContaining(
        'the clock moved backwards by 1000 ms (more than MAX_BACKWARD_MS=5)',
      ),
    });
    expect(backwards).toEqual(['refused']);
    expect(time.sleeps).toEqual([]);
    time.t += 1000;
    expect((gen.next() as bigint) > before).toBe(true);
  });

  it('holds MAX_BACKWARD_MS exactly: 5 ms is waited, 6 ms refused', async () => {
    const { gen, time, backwards } = pinned({ maxBackwardMs: 5 });
    await gen.start();
    gen.next();
    time.t -= 5;
    await take(gen);
    time.t -= 6;
    expect(() => gen.next()).toThrow(/moved backwards by 6 ms/);
    expect(backwards).toEqual(['waited', 'refused']);
  });

  it('serves a batch across a millisecond boundary, ascending', async () => {
    const { gen, time } = pinned();
    await gen.start();
    gen.nextBatch(4000);
    const batch = await gen.nextBatch(200);
    expect(batch).toHaveLength(200);
    for (let i = 1; i < batch.length; i++) expect(batch[i]! > batch[i - 1]!).toBe(true);
    expect(parts(batch[199]!).timestamp).toBe(time.t);
    expect(time.sleeps).toEqual([1]);
  });

  it('decodes its own IDs, and refuses bad ones with INVALID_ARGUMENT', async () => {
    const { gen, time } = pinned({ workerId: 1023 });
    await gen.start();
    const id = (gen.nextBatch(3) as bigint[])[2]!.toString();
    expect(gen.decode(id)).toEqual({
      id,
      timestamp: time.t,
      time: new Date(time.t).toISOString(),
      workerId: 1023,
      sequence: 2,
    });
    expect(() => gen.decode('abc')).toThrow(/snowflake ID 'abc' is not valid/);
    time.t -= 120_000; // the ID now lies two minutes in this clock's future
    expect(gen.decode(id)).toMatchObject({
      id,
      workerId: 1023,
      note: expect.stringMatching(/^timestamp is 120000 ms ahead of this node's clock/),
    });
  });

  it('refuses before start and after close, and says so in readiness', async () => {
    const { gen } = pinned();
    expect(gen.readiness()).toEqual({
      ready: false,
      reason: 'the snowflake generator has not started',
    });
    expect(() => gen.next()).toThrow(/has not started/);
    await gen.start();
    await gen.close();
    expect(() => gen.next()).toThrow(/is closed/);
    expect(gen.readiness().ready).toBe(false);
  });

  it('warns at start when the timestamp field runs out within a year', async () => {
    const time = new FakeTime(layout.lastTimestampMs - 100 * 86_400_000);
    const { gen, warnings } = pinned({ time });
    await gen.start();
    expect(warnings).toEqual([
      expect.stringContaining('runs out at 2093-09-06T15:47:35.552Z, in 101 days'),
    ]);
    time.t = layout.lastTimestampMs + 1;
    expect(() => gen.next()).toThrow(/ran out at 2093-09-06T15:47:35.552Z/);
    expect(gen.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringContaining('ran out'),
    });
  });

  it('refuses a pinned worker ID outside the layout, and a generator with no worker source', () => {
    expect(() => pinned({ workerId: 1024 })).toThrow(
      'snowflake worker ID 1024 is not allowed: expected an integer from 0 to 1023 (10 worker bits)',
    );
    expect(() => new SnowflakeGenerator({ layout })).toThrow(
      /needs a pinned workerId or a leaseStore/,
    );
    const { gen } = pinned();
    expect(() => gen.nextBatch(0)).toThrow(/count 0 is not allowed/);
  });
});
