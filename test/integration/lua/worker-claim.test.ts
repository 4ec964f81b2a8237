import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOW, workerFixture, type WorkerFixture } from './worker-fixture.js';

let f: WorkerFixture;
beforeEach(() => {
  f = workerFixture();
});
afterEach(() => f.close());

const LEASE = 30_000;
const AHEAD = 29_000;
const MARGIN = 30_000;

/** Claims worker 7 with token `token` at `now`, accepting a wait of `maxWait` ms. */
function claim(token: string, now = NOW, maxWait = 10 ** 12, id = 7) {
  return f.raw.idallocWorkerClaim(
    ...f.pair(id),
    token,
    String(LEASE),
    String(now),
    String(AHEAD),
    String(MARGIN),
    String(maxWait),
  );
}

describe('worker-claim-2', () => {
  it('leases a fresh worker ID above now + margin (a missing horizon may be a lost one)', async () => {
    expect(await claim('a')).toEqual([
      String(NOW + MARGIN),
      String(NOW + MARGIN),
      '1',
      await f.runId(),
    ]);
    const [lease, horizon] = f.pair(7);
    expect(await f.raw.get(lease)).toBe('a');
    const ttl = Number(await f.raw.pttl(lease));
    expect(ttl).toBeGreaterThan(LEASE - 5000);
    expect(ttl).toBeLessThanOrEqual(LEASE);
    expect(await f.raw.pttl(horizon)).toBe('-1');
    expect(await f.horizon(7)).toEqual({
      h: String(NOW + MARGIN),
      run_id: await f.runId(),
      floor: String(NOW + MARGIN),
    });
  });

  it('starts strictly above a horizon this server confirmed, and fences to now + ahead', async () => {
    await f.raw.hset(f.pair(7)[1], 'h', String(NOW - 10), 'run_id', await f.runId());
    expect(await claim('a')).toEqual([String(NOW - 9), String(NOW + AHEAD), '0', await f.runId()]);
    expect((await f.horizon(7)).h).toBe(String(NOW + AHEAD));
  });

  it('never lowers the horizon: a floor above now + ahead becomes the horizon', async () => {
    const h = NOW + 100_000;
    await f.raw.hset(f.pair(7)[1], 'h', String(h), 'run_id', await f.runId());
    expect(await claim('a')).toEqual([String(h + 1), String(h + 1), '0', await f.runId()]);
  });

  it('adds the margin above both horizon and now when another server confirmed the horizon', async () => {
    await f.raw.hset(f.pair(7)[1], 'h', String(NOW + 5), 'run_id', 'another-server');
    expect(await claim('a')).toEqual([
      String(NOW + 6 + MARGIN),
      String(NOW + 6 + MARGIN),
      '1',
      await f.runId(),
    ]);
    expect((await f.horizon(7)).run_id).toBe(await f.runId());
  });

  it('returns -10 WORKER_TAKEN while the lease is held, by anyone, and changes nothing', async () => {
    await claim('a');
    const before = await f.horizon(7);
    expect(await claim('b')).toBe('-10');
    expect(await claim('a')).toBe('-10');
    expect(await f.raw.get(f.pair(7)[0])).toBe('a');
    expect(await f.horizon(7)).toEqual(before);
  });

  it('returns -9 HORIZON_BEHIND when the floor lies beyond max wait, writing nothing', async () => {
    await f.raw.hset(f.pair(7)[1], 'h', String(NOW + 500), 'run_id', await f.runId());
    expect(await claim('a', NOW, 500)).toBe('-9');
    expect(await f.raw.exists(f.pair(7)[0])).toBe('0');
    expect((await f.horizon(7)).h).toBe(String(NOW + 500));
    expect(await claim('a', NOW, 501)).toEqual([
      String(NOW + 501),
      String(NOW + AHEAD),
      '0',
      await f.runId(),
    ]);
  });

  it('returns -11 WORKER_DAMAGED for a horizon it did not write, writing nothing', async () => {
    const horizon = f.pair(7)[1];
    for (const damage of [
      ['h', 'soon'],
      ['h', '1e15'],
      ['run_id', 'x'],
      ['h', '1', 'floor', '-3'],
    ]) {
      await f.raw.del(horizon);
      await f.raw.hset(horizon, ...damage);
      expect(await claim('a')).toBe('-11');
      expect(await f.raw.exists(f.pair(7)[0])).toBe('0');
    }
  });

  it('answers malformed arguments with an error reply', async () => {
    await expect(
      f.raw.idallocWorkerClaim(...f.pair(7), 'a', 'x', String(NOW), '1', '1', '1'),
    ).rejects.toThrow(/worker-claim: expected token/);
    await expect(
      f.raw.idallocWorkerClaim(...f.pair(7), '', '1000', String(NOW), '1', '1', '1'),
    ).rejects.toThrow(/worker-claim/);
    expect(await f.raw.exists(...f.pair(7))).toBe('0');
  });
});
