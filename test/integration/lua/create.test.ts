import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ID } from '../../../src/core/tags.js';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture(() => 1_732_000_000_000);
});
afterEach(() => f.close());

const snowflake = (name: string) => ({ ...segmentTag(name), mode: 'snowflake' as const });

describe('create-1', () => {
  it('stores every setting, the server run_id and created_at', async () => {
    const { tag, raisedByTombstone } = await f.store.createTag({
      ...segmentTag('order', { step: 500, start: 42n, max: 10_000n, gap: 7000n }),
      description: 'Orders',
    });
    expect(raisedByTombstone).toBe(false);
    expect(tag).toEqual({
      name: 'order',
      mode: 'segment',
      step: 500,
      max: 10_000n,
      gap: 7000n,
      description: 'Orders',
      createdAt: 1_732_000_000_000,
      next: 42n,
      first: 42n,
      shape: { kind: 'plain' },
      regions: 1,
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual({
      mode: 'segment',
      next: '42',
      step: '500',
      max: '10000',
      gap: '7000',
      run_id: await f.runId(),
      description: 'Orders',
      created_at: '1732000000000',
      first: '42',
    });
  });

  it('returns -6 (TAG_EXISTS) for a live tag, leaving it as it was', async () => {
    await f.store.createTag(segmentTag('order', { start: 5n }));
    await f.store.allocate('order', 10, false);
    const before = await f.raw.hgetall(f.key('order'));
    await expect(f.store.createTag(segmentTag('order'))).rejects.toMatchObject({
      code: 'TAG_EXISTS',
      message: "tag 'order' already exists",
    });
    await expect(f.store.createTag(snowflake('order'))).rejects.toMatchObject({
      code: 'TAG_EXISTS',
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
  });

  it('starts above a deleted tag of the same name, and says so', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 1000, false);
    await f.store.deleteTag('order');
    const again = await f.store.createTag(segmentTag('order', { start: 1n }));
    expect(again.raisedByTombstone).toBe(true);
    expect(again.tag.next).toBe(1001n);
    expect(await f.store.allocate('order', 1, false)).toMatchObject({ start: 1001n });
    expect(await f.raw.hget(f.key('order'), 'deleted_at')).toBeNull();
  });

  it('keeps a start above the tombstone as given', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 10, false);
    await f.store.deleteTag('order');
    const again = await f.store.createTag(segmentTag('order', { start: 5000n }));
    expect(again).toMatchObject({ raisedByTombstone: false, tag: { next: 5000n } });
  });

  it('returns -7 (refused) when the tombstone already reaches max, writing nothing', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 500, false);
    await f.store.deleteTag('order');
    const tombstone = await f.raw.hgetall(f.key('order'));
    await expect(
      f.store.createTag(segmentTag('order', { start: 1n, max: 500n })),
    ).rejects.toMatchObject({
      code: 'REFUSED',
      message: expect.stringMatching(/max 500 .*'order'.* 501, left by a deleted tag/),
    });
    expect(await f.raw.hgetall(f.key('order'))).toEqual(tombstone);
    // max exactly at the tombstone's next leaves one ID
    const ok = await f.store.createTag(segmentTag('order', { start: 1n, max: 501n }));
    expect(ok.tag.next).toBe(501n);
  });

  it('creates a snowflake tag without a counter', async () => {
    const { tag } = await f.store.createTag(snowflake('clock'));
    expect(tag).toMatchObject({ name: 'clock', mode: 'snowflake' });
    expect(tag.next).toBeUndefined();
    expect(await f.raw.hget(f.key('clock'), 'next')).toBeNull();
    expect(await f.raw.hget(f.key('clock'), 'run_id')).toBe(await f.runId());
  });

  it('passes a tombstone through a snowflake tag of the same name', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 700, false);
    await f.store.deleteTag('order');
    await f.store.createTag(snowflake('order'));
    await f.store.deleteTag('order');
    const again = await f.store.createTag(segmentTag('order'));
    expect(again).toMatchObject({ raisedByTombstone: true, tag: { next: 701n } });
  });

  it('refuses malformed arguments with an error reply, writing nothing', async () => {
    const good = ['segment', '1000', '1', String(MAX_ID), '0', '', '1'];
    const bad: [number, string][] = [
      [0, 'counter'],
      [1, '0'],
      [2, '-1'],
      [3, '9e18'],
      [4, '4503599627370497'],
      [6, 'now'],
    ];
    for (const [i, value] of bad) {
      const args = [...good];
      args[i] = value;
      await expect(f.raw.idallocCreate(f.key('bad'), ...args)).rejects.toThrow(
        /idalloc script create-1/,
      );
    }
    expect(Number(await f.raw.exists(f.key('bad')))).toBe(0);
    expect(await f.raw.idallocCreate(f.key('bad'), ...good)).toEqual(['1', '0']);
  });

  it('checks settings in the store before any script runs', async () => {
    await expect(
      f.store.createTag(segmentTag('order', { start: 10n, max: 10n })),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('max 10'),
    });
    await expect(f.store.createTag(segmentTag('order', { step: 0 }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(f.store.createTag(segmentTag('bad name'))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(Number(await f.raw.exists(f.key('order')))).toBe(0);
  });
});
