import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

describe('update-1', () => {
  it('changes each field alone, leaving the others and the counter', async () => {
    await f.store.createTag(segmentTag('order', { step: 1000, max: 1_000_000n, gap: 100n }));
    await f.store.allocate('order', 10, false);
    expect(await f.store.updateTag('order', { step: 50 })).toMatchObject({ step: 50 });
    expect(await f.store.updateTag('order', { max: 20_000n })).toMatchObject({ max: 20_000n });
    expect(await f.store.updateTag('order', { gap: 0n })).toMatchObject({ gap: 0n });
    const last = await f.store.updateTag('order', { description: 'Orders, v2' });
    expect(last).toMatchObject({
      step: 50,
      max: 20_000n,
      gap: 0n,
      description: 'Orders, v2',
      next: 11n,
    });
  });

  it('changes several fields at once, and the next grant follows them', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.updateTag('order', { step: 7, max: 20n, description: 'x' });
    expect(await f.store.allocate('order', 0, false)).toMatchObject({
      start: 1n,
      end: 7n,
      step: 7,
      max: 20n,
    });
  });

  it('allows max down to next - 1 (exhausted), and returns -7 below it, writing nothing', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 100, false); // next is 101
    await expect(f.store.updateTag('order', { max: 99n, step: 5 })).rejects.toMatchObject({
      code: 'REFUSED',
      message: "max 99 for tag 'order' is below IDs already issued (next ID is 101)",
    });
    expect(await f.raw.hmget(f.key('order'), 'max', 'step')).toEqual([
      '9223372036854775807',
      '1000',
    ]);
    expect(await f.store.updateTag('order', { max: 100n })).toMatchObject({ max: 100n });
    await expect(f.store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
  });

  it('returns -3 (WRONG_MODE) for step, max or gap of a snowflake tag; description is fine', async () => {
    await f.store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
    for (const changes of [{ step: 5 }, { max: 10n }, { gap: 1n }]) {
      await expect(f.store.updateTag('clock', changes)).rejects.toMatchObject({
        code: 'WRONG_MODE',
      });
    }
    expect(await f.raw.idallocUpdate(f.key('clock'), 'description', 'a', 'step', '5')).toBe('-3');
    expect(await f.raw.hget(f.key('clock'), 'description')).toBe('');
    expect(await f.store.updateTag('clock', { description: 'time-ordered' })).toMatchObject({
      description: 'time-ordered',
    });
  });

  it('returns -1 (TAG_NOT_FOUND) for a missing tag and a tombstone, creating nothing', async () => {
    await expect(f.store.updateTag('ghost', { step: 5 })).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    await expect(f.store.updateTag('ghost', {})).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    expect(Number(await f.raw.exists(f.key('ghost')))).toBe(0);
    await f.store.createTag(segmentTag('gone'));
    await f.store.deleteTag('gone');
    expect(await f.raw.idallocUpdate(f.key('gone'), 'description', 'back?')).toBe('-1');
    expect(await f.raw.hget(f.key('gone'), 'description')).toBeNull();
  });

  it('returns -2 (damaged) for a max when next is not valid', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.raw.hdel(f.key('order'), 'next');
    expect(await f.raw.idallocUpdate(f.key('order'), 'max', '500')).toBe('-2');
    await expect(f.store.updateTag('order', { max: 500n })).rejects.toMatchObject({
      code: 'INTERNAL',
    });
  });

  it('refuses unknown fields and malformed values with an error reply, writing nothing', async () => {
    await f.store.createTag(segmentTag('order'));
    const before = await f.raw.hgetall(f.key('order'));
    for (const args of [
      ['next', '1'],
      ['run_id', 'x'],
      ['step', '0'],
      ['gap', '-1'],
      ['max', '1e9'],
      ['step'],
      [],
    ]) {
      await expect(f.raw.idallocUpdate(f.key('order'), ...args)).rejects.toThrow(
        /idalloc script update-1/,
      );
    }
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
    await expect(f.store.updateTag('order', { step: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
