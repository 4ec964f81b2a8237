import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOW, workerFixture, type WorkerFixture } from './worker-fixture.js';

let f: WorkerFixture;
beforeEach(() => {
  f = workerFixture();
});
afterEach(() => f.close());

const release = (token: string, settle: number) =>
  f.raw.idallocWorkerRelease(...f.pair(5), token, String(settle));

/** Worker 5 held by `token`: floor, and a horizon h confirmed by `runId`. */
async function held(token: string, floor: number, h: number, runId?: string) {
  const [lease, horizon] = f.pair(5);
  await f.raw.set(lease, token, 'PX', 10_000);
  await f.raw.hset(
    horizon,
    'h',
    String(h),
    'run_id',
    runId ?? (await f.runId()),
    'floor',
    String(floor),
  );
}

describe('worker-release-2', () => {
  it('deletes the lease and settles the horizon down at the last timestamp used', async () => {
    await held('a', NOW, NOW + 29_000);
    expect(await release('a', NOW + 1234)).toBe('1');
    expect(await f.raw.exists(f.pair(5)[0])).toBe('0');
    expect(await f.horizon(5)).toMatchObject({ h: String(NOW + 1234), run_id: await f.runId() });
  });

  it('never settles below floor - 1, which covers every earlier holder', async () => {
    await held('a', NOW, NOW + 29_000);
    expect(await release('a', 0)).toBe('1');
    expect((await f.horizon(5)).h).toBe(String(NOW - 1));
  });

  it('only raises the horizon when another server confirmed it, keeping that run_id', async () => {
    await held('a', NOW, NOW + 29_000, 'another-server');
    expect(await release('a', NOW + 5)).toBe('1');
    expect(await f.horizon(5)).toMatchObject({ h: String(NOW + 29_000), run_id: 'another-server' });
    await held('a', NOW, NOW + 29_000, 'another-server');
    expect(await release('a', NOW + 40_000)).toBe('1');
    expect((await f.horizon(5)).h).toBe(String(NOW + 40_000));
  });

  it('records the settle point when the horizon was missing (the next holder adds the margin)', async () => {
    await f.raw.set(f.pair(5)[0], 'a', 'PX', 10_000);
    expect(await release('a', NOW + 7)).toBe('1');
    expect(await f.horizon(5)).toEqual({ h: String(NOW + 7) });
  });

  it('returns -8 NOT_HOLDER for another token or an expired lease, changing nothing', async () => {
    await held('a', NOW, NOW + 29_000);
    expect(await release('b', NOW)).toBe('-8');
    expect(await f.raw.get(f.pair(5)[0])).toBe('a');
    await f.raw.del(f.pair(5)[0]);
    expect(await release('a', NOW)).toBe('-8');
    expect((await f.horizon(5)).h).toBe(String(NOW + 29_000));
  });

  it('returns -11 WORKER_DAMAGED for a horizon it did not write, keeping the lease', async () => {
    await held('a', NOW, NOW + 29_000);
    await f.raw.hset(f.pair(5)[1], 'floor', 'x');
    expect(await release('a', NOW)).toBe('-11');
    expect(await f.raw.get(f.pair(5)[0])).toBe('a');
  });

  it('answers malformed arguments with an error reply', async () => {
    await held('a', NOW, NOW + 29_000);
    await expect(f.raw.idallocWorkerRelease(...f.pair(5), 'a', '-1')).rejects.toThrow(
      /worker-release: expected token/,
    );
    expect(await f.raw.get(f.pair(5)[0])).toBe('a');
  });
});
