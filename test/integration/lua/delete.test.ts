import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture(() => 1_732_000_000_000);
});
afterEach(() => f.close());

describe('delete-1', () => {
  it('leaves a tombstone of a segment tag: next, deleted_at, and the run_id and gap of its last writer', async () => {
    await f.store.createTag(segmentTag('order', { start: 10n }));
    await f.store.allocate('order', 90, false);
    await f.store.deleteTag('order');
    expect(await f.raw.hgetall(f.key('order'))).toEqual({
      next: '100',
      deleted_at: '1732000000000',
      run_id: expect.stringMatching(/^[0-9a-f]{40}$/),
      gap: '1000000000',
    });
    expect(await f.store.getTag('order')).toBeUndefined();
    expect((await f.store.listTags()).map((t) => t.name)).toEqual([]);
  });

  it('leaves nothing of a snowflake tag', async () => {
    await f.store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
    await f.store.deleteTag('clock');
    expect(Number(await f.raw.exists(f.key('clock')))).toBe(0);
  });

  it('returns -1 (TAG_NOT_FOUND) for a missing tag, and for a second delete', async () => {
    await expect(f.store.deleteTag('ghost')).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
      message: "tag 'ghost' does not exist",
    });
    expect(Number(await f.raw.exists(f.key('ghost')))).toBe(0);
    await f.store.createTag(segmentTag('order'));
    await f.store.deleteTag('order');
    const tombstone = await f.raw.hgetall(f.key('order'));
    await expect(f.store.deleteTag('order')).rejects.toMatchObject({ code: 'TAG_NOT_FOUND' });
    expect(await f.raw.idallocDelete(f.key('order'), '1')).toBe('-1');
    expect(await f.raw.hgetall(f.key('order'))).toEqual(tombstone);
  });

  it('stops every allocation of the tag at once', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.store.allocate('order', 10, false);
    await f.store.deleteTag('order');
    await expect(f.store.allocate('order', 10, false)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    await expect(f.store.bumpTag('order', 'by', 10n)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
  });
});
