/**
 * The shape fields in the tag scripts (create-1, update-1, allocate-1, import-1): the
 * codes and error replies the stores do not let through, and older callers and older
 * tags (no shape fields: plain, one region).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

const KEY = '00112233445566778899aabbccddeeff';

describe('shape fields in the tag scripts', () => {
  it('allocate-1: an older caller (no region count) is one region; another count is -13, nothing written', async () => {
    await f.store.createTag(segmentTag('order'));
    const before = await f.raw.hgetall(f.key('order'));
    expect(await f.raw.idallocAllocate(f.key('order'), '5', '0', '2')).toBe('-13');
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
    const reply = await f.raw.idallocAllocate(f.key('order'), '5', '0');
    expect(reply).toEqual([
      '1',
      '5',
      '1000',
      expect.any(String),
      '0',
      await f.runId(),
      '0',
      '',
      '',
      '',
      '',
      '',
    ]);
    await expect(f.raw.idallocAllocate(f.key('order'), '5', '0', '0')).rejects.toThrow(
      /allocate-1: regions '0' is not 1\.\.1024/,
    );
  });

  it('allocate-1: a tag written before shapes (no shape fields, no first) is plain, one region', async () => {
    await f.store.createTag(segmentTag('old'));
    await f.raw.hdel(f.key('old'), 'first');
    expect(await f.store.getTag('old')).toMatchObject({ shape: { kind: 'plain' }, regions: 1 });
    expect(await f.store.getTag('old')).not.toHaveProperty('first');
    expect(await f.store.allocate('old', 1, false)).toMatchObject({ start: 1n, regions: 1 });
    // Its shape is fixed: nothing says where its counter started.
    expect(
      await f.raw.idallocUpdate(
        f.key('old'),
        'shape',
        'bitreverse',
        'prefix',
        '',
        'width',
        '',
        'key',
        '',
        'regions',
        '1',
      ),
    ).toBe('-14');
  });

  it('create-1 stores the non-default shape fields; update-1 clears what the new shape has not', async () => {
    await f.raw.idallocCreate(
      f.key('order'),
      'segment',
      '10',
      '1',
      '1000',
      '0',
      '',
      '1',
      'permute',
      'ord',
      '40',
      KEY,
      '3',
    );
    expect(await f.raw.hgetall(f.key('order'))).toMatchObject({
      shape: 'permute',
      prefix: 'ord',
      width: '40',
      key: KEY,
      regions: '3',
      first: '1',
      next: '1',
    });
    expect(
      await f.raw.idallocUpdate(
        f.key('order'),
        'shape',
        'plain',
        'prefix',
        '',
        'width',
        '',
        'key',
        '',
        'regions',
        '1',
      ),
    ).toBe('1');
    const fields = await f.raw.hgetall(f.key('order'));
    for (const gone of ['shape', 'prefix', 'width', 'key', 'regions'])
      expect(fields).not.toHaveProperty(gone);
  });

  it('refuses malformed shape fields and a shaped snowflake tag with an error reply, writing nothing', async () => {
    const create = (...shape: string[]) =>
      f.raw.idallocCreate(f.key('x'), 'segment', '10', '1', '1000', '0', '', '1', ...shape);
    await expect(create('rot13', '', '', '', '1')).rejects.toThrow(/shape field 'shape'/);
    await expect(create('permute', '', '15', KEY, '1')).rejects.toThrow(/shape field 'width'/);
    await expect(create('permute', '', '40', 'xyz', '1')).rejects.toThrow(/shape field 'key'/);
    await expect(create('plain', '', '', '', '1025')).rejects.toThrow(/shape field 'regions'/);
    await expect(
      f.raw.idallocCreate(
        f.key('x'),
        'snowflake',
        '1',
        '0',
        '1',
        '0',
        '',
        '1',
        'bitreverse',
        '',
        '',
        '',
        '1',
      ),
    ).rejects.toThrow(/a snowflake tag has no shape or regions/);
    expect(Number(await f.raw.exists(f.key('x')))).toBe(0);
  });

  it('update-1 refuses a stale expect and a max over limit with an error reply, writing nothing', async () => {
    await f.store.createTag(segmentTag('order', { max: 1000n }));
    const before = await f.raw.hgetall(f.key('order'));
    await expect(
      f.raw.idallocUpdate(f.key('order'), 'expect', 'bitreverse||||1', 'step', '5'),
    ).rejects.toThrow(/shape changed since it was read/);
    await expect(f.raw.idallocUpdate(f.key('order'), 'limit', '999', 'step', '5')).rejects.toThrow(
      /max 1000 is above the limit 999/,
    );
    expect(await f.raw.hgetall(f.key('order'))).toEqual(before);
  });
});
