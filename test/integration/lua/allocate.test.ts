import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ID } from '../../../src/core/tags.js';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

const range = (g: { start: bigint; end: bigint }) => [g.start, g.end];

describe('allocate-1', () => {
  it('grants consecutive ranges from start, with the tag step and max, unbumped', async () => {
    await f.store.createTag(segmentTag('order', { step: 100, start: 500n, max: 100_000n }));
    const a = await f.store.allocate('order', 100, false);
    const b = await f.store.allocate('order', 30, true);
    expect(a).toEqual({
      start: 500n,
      end: 599n,
      step: 100,
      max: 100_000n,
      bumped: false,
      incarnation: await f.runId(),
      skipped: 0n,
      shape: { kind: 'plain' },
      regions: 1,
    });
    expect(range(b)).toEqual([600n, 629n]);
    expect(await f.raw.hget(f.key('order'), 'next')).toBe('630');
  });

  it('grants the configured step when asked for count 0', async () => {
    await f.store.createTag(segmentTag('order', { step: 250 }));
    expect(range(await f.store.allocate('order', 0, false))).toEqual([1n, 250n]);
  });

  it('grants what is left below max, then refuses with TAG_EXHAUSTED', async () => {
    await f.store.createTag(segmentTag('order', { start: 1n, max: 1005n }));
    expect(range(await f.store.allocate('order', 1000, false))).toEqual([1n, 1000n]);
    expect(range(await f.store.allocate('order', 1000, false))).toEqual([1001n, 1005n]);
    await expect(f.store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
    expect(await f.raw.hget(f.key('order'), 'next')).toBe('1006');
  });

  it('refuses an exact request larger than what is left, taking nothing', async () => {
    await f.store.createTag(segmentTag('order', { start: 1n, max: 10n }));
    await f.store.allocate('order', 5, true);
    await expect(f.store.allocate('order', 6, true)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
      message: expect.stringContaining("tag 'order' reached its max"),
    });
    expect(await f.raw.hget(f.key('order'), 'next')).toBe('6');
    expect(range(await f.store.allocate('order', 5, true))).toEqual([6n, 10n]);
  });

  it('hands out IDs near 2^63 exactly, up to 2^63 - 1', async () => {
    const start = 9223372036854770000n;
    await f.store.createTag(segmentTag('big', { start, max: MAX_ID }));
    const grants = [];
    for (let i = 0; i < 5; i++) grants.push(range(await f.store.allocate('big', 1000, false)));
    expect(grants[0]).toEqual([start, start + 999n]);
    expect(grants[4]).toEqual([start + 4000n, start + 4999n]);
    const last = await f.store.allocate('big', 1000, false);
    expect(range(last)).toEqual([9223372036854775000n, 9223372036854775807n]);
    expect(last.end).toBe(MAX_ID);
    await expect(f.store.allocate('big', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
    expect(await f.raw.hget(f.key('big'), 'next')).toBe('9223372036854775808');
  });

  it('returns -1 (TAG_NOT_FOUND) for a missing tag and for a tombstone', async () => {
    await expect(f.store.allocate('ghost', 1, false)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    await f.store.createTag(segmentTag('gone'));
    await f.store.allocate('gone', 10, false);
    await f.store.deleteTag('gone');
    expect(await f.raw.idallocAllocate(f.key('gone'), '1', '0')).toBe('-1');
    expect(await f.raw.hgetall(f.key('gone'))).toEqual({
      next: '11',
      deleted_at: expect.stringMatching(/^\d+$/),
      run_id: expect.stringMatching(/^[0-9a-f]{40}$/),
      gap: '1000000000',
    });
  });

  it('fails closed when the tag key vanishes under a running store: never restarts at 1', async () => {
    await f.store.createTag(segmentTag('order'));
    expect(range(await f.store.allocate('order', 1000, false))).toEqual([1n, 1000n]);
    await f.raw.del(f.key('order')); // as after a restart without persistence, or FLUSHALL
    await expect(f.store.allocate('order', 1000, false)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual({});
    expect(Number(await f.raw.exists(f.key('order')))).toBe(0);
  });

  it.each([
    ['next missing', (k: string, f: LuaFixture) => f.raw.hdel(k, 'next')],
    ['next not a number', (k: string, f: LuaFixture) => f.raw.hset(k, 'next', '12abc')],
    ['next negative', (k: string, f: LuaFixture) => f.raw.hset(k, 'next', '-5')],
    ['max missing', (k: string, f: LuaFixture) => f.raw.hdel(k, 'max')],
    ['step zero', (k: string, f: LuaFixture) => f.raw.hset(k, 'step', '0')],
    ['gap not a number', (k: string, f: LuaFixture) => f.raw.hset(k, 'gap', 'lots')],
    ['mode missing', (k: string, f: LuaFixture) => f.raw.hdel(k, 'mode')],
  ])('returns -2 (damaged, INTERNAL) when %s, writing nothing', async (_what, damage) => {
    await f.store.createTag(segmentTag('order'));
    await damage(f.key('order'), f);
    const before = await f.raw.hgetall(f.key('order'));
    expect(await f.raw.idallocAllocate(f.key('order'), '1', '0')).toBe('-2');
    await expect(f.store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('damaged'),
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
  });

  it('returns -3 (WRONG_MODE) for a snowflake tag', async () => {
    await f.store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
    expect(await f.raw.idallocAllocate(f.key('clock'), '1', '0')).toBe('-3');
    await expect(f.store.allocate('clock', 1, false)).rejects.toMatchObject({
      code: 'WRONG_MODE',
    });
  });

  it('refuses a malformed count or exact flag with an error reply, writing nothing', async () => {
    await f.store.createTag(segmentTag('order'));
    const before = await f.raw.hgetall(f.key('order'));
    for (const [count, exact] of [
      ['-1', '0'],
      ['1.5', '0'],
      ['4503599627370497', '0'],
      ['x', '0'],
      ['1', 'yes'],
    ] as const) {
      await expect(f.raw.idallocAllocate(f.key('order'), count, exact as '0')).rejects.toThrow(
        /idalloc script allocate-1/,
      );
    }
    await expect(f.store.allocate('order', -1, false)).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
  });
});

describe('allocate-1 incarnation guard', () => {
  it('skips the gap once when the stored run_id is another server, then records this one', async () => {
    await f.store.createTag(segmentTag('order', { gap: 1_000_000n }));
    await f.store.allocate('order', 100, false); // 1..100
    await f.raw.hset(f.key('order'), 'run_id', 'f'.repeat(40));
    const bumped = await f.store.allocate('order', 100, false);
    // The reply says how far the guard jumped and which server granted: the grant log's.
    expect(bumped).toMatchObject({
      start: 1_000_101n,
      end: 1_000_200n,
      bumped: true,
      skipped: 1_000_000n,
      incarnation: await f.runId(),
    });
    expect(await f.raw.hget(f.key('order'), 'run_id')).toBe(await f.runId());
    const after = await f.store.allocate('order', 100, false);
    expect(after).toMatchObject({ start: 1_000_201n, end: 1_000_300n, bumped: false, skipped: 0n });
  });

  it('treats a tag without a run_id as of an unknown incarnation and skips the gap', async () => {
    await f.store.createTag(segmentTag('order', { gap: 5000n }));
    await f.raw.hdel(f.key('order'), 'run_id');
    expect(await f.store.allocate('order', 10, false)).toMatchObject({
      start: 5001n,
      end: 5010n,
      bumped: true,
    });
    expect(await f.raw.hget(f.key('order'), 'run_id')).toBe(await f.runId());
  });

  it('does not bump a tag created on this server', async () => {
    await f.store.createTag(segmentTag('order', { gap: 5000n }));
    expect(await f.raw.hget(f.key('order'), 'run_id')).toBe(await f.runId());
    expect(await f.store.allocate('order', 10, false)).toMatchObject({
      start: 1n,
      bumped: false,
    });
  });

  it('exhausts the tag rather than overflow when the gap is larger than what is left', async () => {
    await f.store.createTag(segmentTag('order', { start: 1n, max: 10_000n, gap: 1_000_000n }));
    await f.raw.hset(f.key('order'), 'run_id', 'f'.repeat(40));
    await expect(f.store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
    expect(await f.raw.hmget(f.key('order'), 'next', 'run_id')).toEqual(['10001', await f.runId()]);
  });

  it('stays exact near 2^63: a gap past max stops at max + 1', async () => {
    await f.store.createTag(
      segmentTag('big', { start: 9223372036854775000n, max: MAX_ID, gap: 2n ** 52n }),
    );
    await f.raw.hset(f.key('big'), 'run_id', '0'.repeat(40));
    await expect(f.store.allocate('big', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
    expect(await f.raw.hget(f.key('big'), 'next')).toBe('9223372036854775808');
  });
});
