import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ID } from '../../../src/core/tags.js';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

const next = async (name: string) => f.raw.hget(f.key(name), 'next');

describe('bump-1', () => {
  it("'to' raises next to the value, and the next grant starts there", async () => {
    await f.store.createTag(segmentTag('order'));
    expect(await f.store.bumpTag('order', 'to', 5000n)).toEqual({
      previous: 1n,
      next: 5000n,
      clamped: false,
    });
    expect(await f.store.allocate('order', 1, false)).toMatchObject({ start: 5000n });
  });

  it("'to' the current next changes nothing", async () => {
    await f.store.createTag(segmentTag('order', { start: 70n }));
    expect(await f.store.bumpTag('order', 'to', 70n)).toEqual({
      previous: 70n,
      next: 70n,
      clamped: false,
    });
  });

  it("'by' adds to next exactly, also near 2^63", async () => {
    await f.store.createTag(segmentTag('order', { start: 9223372036854770000n }));
    expect(await f.store.bumpTag('order', 'by', 5007n)).toEqual({
      previous: 9223372036854770000n,
      next: 9223372036854775007n,
      clamped: false,
    });
    expect(await f.store.bumpTag('order', 'by', 12_345n)).toEqual({
      previous: 9223372036854775007n,
      next: MAX_ID + 1n,
      clamped: true,
    });
    await f.store.createTag(segmentTag('small'));
    expect(await f.store.bumpTag('small', 'by', 2n ** 52n)).toEqual({
      previous: 1n,
      next: 2n ** 52n + 1n,
      clamped: false,
    });
  });

  it("returns -5 (WOULD_LOWER) for 'to' below next, naming both, writing nothing", async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 1000, false);
    await expect(f.store.bumpTag('order', 'to', 10n)).rejects.toMatchObject({
      code: 'REFUSED',
      message: "bump would lower tag 'order': its next ID is 1001, above 10; bump only raises",
    });
    expect(await next('order')).toBe('1001');
  });

  it("'atleast' (the regression fence) raises a lower next and leaves a higher one", async () => {
    await f.store.createTag(segmentTag('order', { start: 100n }));
    await f.store.raiseFloor('order', 50n);
    expect(await next('order')).toBe('100');
    await f.store.raiseFloor('order', 900n);
    expect(await next('order')).toBe('900');
    expect(await f.raw.idallocBump(f.key('order'), 'atleast', '10')).toEqual(['900', '900', '0']);
  });

  it('stops at max + 1 and says clamped: the tag is then exhausted', async () => {
    await f.store.createTag(segmentTag('order', { max: 1000n }));
    expect(await f.store.bumpTag('order', 'to', 5000n)).toEqual({
      previous: 1n,
      next: 1001n,
      clamped: true,
    });
    await expect(f.store.allocate('order', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
    expect(await f.store.bumpTag('order', 'by', 1n)).toEqual({
      previous: 1001n,
      next: 1001n,
      clamped: true,
    });
  });

  it('returns -1 (TAG_NOT_FOUND) for a missing tag and a tombstone, creating nothing', async () => {
    await expect(f.store.bumpTag('ghost', 'by', 10n)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    expect(Number(await f.raw.exists(f.key('ghost')))).toBe(0);
    await f.store.createTag(segmentTag('gone'));
    await f.store.deleteTag('gone');
    await expect(f.store.raiseFloor('gone', 10n)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    expect(await next('gone')).toBe('1');
  });

  it('returns -2 (damaged) when next is not a number', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.raw.hset(f.key('order'), 'next', 'oops');
    expect(await f.raw.idallocBump(f.key('order'), 'by', '1')).toBe('-2');
    await expect(f.store.bumpTag('order', 'by', 1n)).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('returns -3 (WRONG_MODE) for a snowflake tag', async () => {
    await f.store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
    await expect(f.store.bumpTag('clock', 'by', 10n)).rejects.toMatchObject({
      code: 'WRONG_MODE',
    });
    expect(await f.raw.idallocBump(f.key('clock'), 'to', '10')).toBe('-3');
  });

  it('refuses a malformed how or value with an error reply, writing nothing', async () => {
    await f.store.createTag(segmentTag('order'));
    for (const [how, value] of [
      ['by', '-3'],
      ['by', '4503599627370497'],
      ['to', 'abc'],
      ['to', '007'],
      ['atleast', ''],
      ['set', '5'],
    ] as const) {
      await expect(f.raw.idallocBump(f.key('order'), how as 'to', value)).rejects.toThrow(
        /idalloc script bump-1/,
      );
    }
    expect(await next('order')).toBe('1');
    await expect(f.store.bumpTag('order', 'by', 0n)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
