import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOW, workerFixture, type WorkerFixture } from './worker-fixture.js';

let f: WorkerFixture;
/** The floor held() stored: the holder's own. */
let heldAt = 0;
beforeEach(() => {
  f = workerFixture();
  heldAt = 0;
});
afterEach(() => f.close());

const MARGIN = 30_000;

/** A renewal by a holder that starts at `heldFloor` (by default the floor held() stored). */
function renew(token: string, now: number, target: number, leaseMs = 30_000, heldFloor = heldAt) {
  return f.raw.idallocWorkerRenew(
    ...f.pair(3),
    token,
    String(leaseMs),
    String(now),
    String(target),
    String(MARGIN),
    String(heldFloor),
  );
}

/** Worker 3 held by `token`, with a horizon this server confirmed. */
async function held(token: string, h: number, pttl = 1000) {
  const [lease, horizon] = f.pair(3);
  await f.raw.set(lease, token, 'PX', pttl);
  heldAt = h - 100;
  await f.raw.hset(horizon, 'h', String(h), 'run_id', await f.runId(), 'floor', String(heldAt));
}

/**
 * Worker 3 held by 'a' on a horizon another server confirmed (NOW + 100), renewed here at
 * NOW: the renewal re-fences above the margin. Returns that floor.
 */
async function refencedHere(): Promise<number> {
  await held('a', NOW + 100);
  await f.raw.hset(f.pair(3)[1], 'run_id', 'another-server');
  const floor = NOW + 101 + MARGIN;
  expect(await renew('a', NOW, NOW + 29_000)).toEqual([
    String(floor),
    String(floor),
    await f.runId(),
  ]);
  return floor;
}

describe('worker-renew-2', () => {
  it('extends the lease and raises the horizon to the target, floor unchanged', async () => {
    await held('a', NOW + 100);
    expect(await renew('a', NOW + 50, NOW + 29_000, 60_000)).toEqual([
      String(NOW + 29_000),
      '0',
      await f.runId(),
    ]);
    expect(Number(await f.raw.pttl(f.pair(3)[0]))).toBeGreaterThan(50_000);
    expect(await f.horizon(3)).toMatchObject({ h: String(NOW + 29_000), floor: String(NOW) });
  });

  it('never lowers the horizon: a target below it keeps it', async () => {
    await held('a', NOW + 100_000);
    expect(await renew('a', NOW, NOW + 29_000)).toEqual([
      String(NOW + 100_000),
      '0',
      await f.runId(),
    ]);
    expect((await f.horizon(3)).h).toBe(String(NOW + 100_000));
  });

  it('re-fences above the margin when another server confirmed the horizon', async () => {
    const floor = await refencedHere();
    expect(await f.horizon(3)).toEqual({
      h: String(floor),
      run_id: await f.runId(),
      floor: String(floor),
    });
  });

  it('hands a stored floor above the held one back (a re-fence whose answer was lost), once taken up no more', async () => {
    const floor = await refencedHere();
    // Same server now: only the stored floor, above the holder's, says it was re-fenced.
    expect(await renew('a', NOW + 10, NOW + 29_010)).toEqual([
      String(floor),
      String(floor),
      await f.runId(),
    ]);
    expect(await renew('a', NOW + 20, NOW + 29_020, 30_000, floor)).toEqual([
      String(floor),
      '0',
      await f.runId(),
    ]);
    expect(await f.horizon(3)).toEqual({
      h: String(floor),
      run_id: await f.runId(),
      floor: String(floor),
    });
  });

  it('re-fences above now + margin when the horizon is gone', async () => {
    await f.raw.set(f.pair(3)[0], 'a', 'PX', 1000);
    const floor = NOW + MARGIN;
    expect(await renew('a', NOW, NOW + 29_000)).toEqual([
      String(floor),
      String(floor),
      await f.runId(),
    ]);
  });

  it('returns -8 NOT_HOLDER for another token or an expired lease, changing nothing', async () => {
    await held('a', NOW + 100);
    const before = await f.horizon(3);
    expect(await renew('b', NOW, NOW + 29_000)).toBe('-8');
    expect(Number(await f.raw.pttl(f.pair(3)[0]))).toBeLessThanOrEqual(1000);
    await f.raw.del(f.pair(3)[0]);
    expect(await renew('a', NOW, NOW + 29_000)).toBe('-8');
    expect(await f.horizon(3)).toEqual(before);
    expect(await f.raw.exists(f.pair(3)[0])).toBe('0');
  });

  it('returns -11 WORKER_DAMAGED for a horizon it did not write, changing nothing', async () => {
    await held('a', NOW + 100);
    await f.raw.hset(f.pair(3)[1], 'h', 'later');
    expect(await renew('a', NOW, NOW + 29_000)).toBe('-11');
    expect(Number(await f.raw.pttl(f.pair(3)[0]))).toBeLessThanOrEqual(1000);
    expect((await f.horizon(3)).h).toBe('later');
  });

  it('answers malformed arguments with an error reply', async () => {
    await held('a', NOW + 100);
    await expect(
      f.raw.idallocWorkerRenew(...f.pair(3), 'a', '30000', 'now', '1', '1', '0'),
    ).rejects.toThrow(/worker-renew: expected token/);
    await expect(
      f.raw.idallocWorkerRenew(...f.pair(3), 'a', '30000', String(NOW), '1', '1', ''),
    ).rejects.toThrow(/worker-renew: expected token, lease ms, now, target, margin, held floor/);
    for (const heldFloor of ['nan', 'inf', '-1', '1e3']) {
      await expect(
        f.raw.idallocWorkerRenew(...f.pair(3), 'a', '30000', String(NOW), '1', '1', heldFloor),
      ).rejects.toThrow(/held floor/);
    }
  });
});
