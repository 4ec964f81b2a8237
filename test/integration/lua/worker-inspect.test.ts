import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOW, workerFixture, type WorkerFixture } from './worker-fixture.js';

let f: WorkerFixture;
beforeEach(() => {
  f = workerFixture();
});
afterEach(() => f.close());

const inspect = (id: number, margin = 30_000) =>
  f.raw.idallocWorkerInspect(...f.pair(id), String(NOW), String(margin));

describe('worker-inspect-2', () => {
  it('reports a held lease as held', async () => {
    await f.raw.set(f.pair(1)[0], 'someone', 'PX', 10_000);
    expect(await inspect(1)).toEqual(['1', '0']);
  });

  it('reports where a claim would start, as worker-claim-2 computes it', async () => {
    // fresh: now + margin
    expect(await inspect(1)).toEqual(['0', String(NOW + 30_000)]);
    expect(await inspect(1, 0)).toEqual(['0', String(NOW)]);
    // confirmed by this server: just above the horizon
    await f.raw.hset(f.pair(2)[1], 'h', String(NOW - 50), 'run_id', await f.runId());
    expect(await inspect(2)).toEqual(['0', String(NOW - 49)]);
    // confirmed by another server: above horizon and now, plus the margin
    await f.raw.hset(f.pair(3)[1], 'h', String(NOW + 50), 'run_id', 'another-server');
    expect(await inspect(3)).toEqual(['0', String(NOW + 51 + 30_000)]);
  });

  it('changes nothing', async () => {
    await f.raw.hset(f.pair(2)[1], 'h', String(NOW - 50), 'run_id', 'another-server');
    await inspect(2);
    expect(await f.raw.exists(f.pair(2)[0])).toBe('0');
    expect(await f.horizon(2)).toEqual({ h: String(NOW - 50), run_id: 'another-server' });
  });

  it('returns -11 WORKER_DAMAGED for a horizon these scripts did not write', async () => {
    await f.raw.hset(f.pair(4)[1], 'h', '12x');
    expect(await inspect(4)).toBe('-11');
  });

  it('answers malformed arguments with an error reply', async () => {
    await expect(f.raw.idallocWorkerInspect(...f.pair(1), 'x', '0')).rejects.toThrow(
      /worker-inspect: now and margin/,
    );
  });
});
