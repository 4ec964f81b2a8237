/**
 * The numeric shape a tombstone keeps (delete-1, create-1, import-1; docs/design.md §3):
 * the hash fields delete-1 leaves, create-1's -15 (SHAPE_OF_DELETED) with nothing
 * written, a tombstone of an older version (no shape fields) read as plain, one region,
 * and import-1 answering a floor of other numbers with a conflict.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture(() => 1_732_000_000_000);
});
afterEach(() => f.close());

const KEY = '00112233445566778899aabbccddeeff';
/** create-1's ARGV: a segment tag from 1 with the shape fields given. */
const create = (shape: string, prefix: string, width: string, key: string, regions: string) => [
  'segment',
  '100',
  '1',
  '1000000',
  '1000',
  '',
  '1732000000000',
  shape,
  prefix,
  width,
  key,
  regions,
];

describe('tombstones keep the numbers of the deleted tag’s shape', () => {
  it('delete-1 leaves kind, width, key and regions beside next (never the prefix)', async () => {
    const k = f.key('order');
    await f.raw.idallocCreate(k, ...create('permute', 'ord', '40', KEY, '3'));
    await f.store.deleteTag('order');
    expect(await f.raw.hgetall(k)).toEqual({
      next: '1',
      deleted_at: '1732000000000',
      run_id: await f.runId(),
      gap: '1000',
      shape: 'permute',
      width: '40',
      key: KEY,
      regions: '3',
    });
  });

  it('create-1 answers -15 for other numbers and writes nothing; the same numbers start above the floor', async () => {
    const k = f.key('order');
    await f.raw.idallocCreate(k, ...create('bitreverse', '', '', '', '2'));
    await f.raw.hset(k, 'next', '500');
    await f.store.deleteTag('order');
    const tomb = await f.raw.hgetall(k);
    for (const args of [
      create('plain', '', '', '', '2'),
      create('bitreverse', '', '', '', '1'),
      create('permute', '', '40', KEY, '2'),
    ]) {
      expect(await f.raw.idallocCreate(k, ...args), args.join(' ')).toBe('-15');
      expect(await f.raw.hgetall(k)).toEqual(tomb);
    }
    expect(await f.raw.idallocCreate(k, ...create('bitreverse', 'ord', '', '', '2'))).toEqual([
      '500',
      '1',
    ]);
  });

  it('reads a tombstone of an older version (no shape fields) as plain, one region', async () => {
    const k = f.key('order');
    await f.raw.hset(k, 'next', '42', 'deleted_at', '1', 'run_id', await f.runId());
    expect(await f.raw.idallocCreate(k, ...create('bitreverse', '', '', '', '1'))).toBe('-15');
    expect(await f.raw.idallocCreate(k, ...create('plain', 'ord', '', '', '1'))).toEqual([
      '42',
      '1',
    ]);
  });

  it('import-1 answers a record of other numbers over a tombstone with a conflict, and writes nothing', async () => {
    const k = f.key('order');
    await f.raw.hset(k, 'next', '42', 'deleted_at', '1', 'run_id', await f.runId());
    await f.raw.hset(k, 'shape', 'bitreverse');
    const tomb = await f.raw.hgetall(k);
    // what, target, step, max, gap, description, timestamp, dry run, shape fields
    const plainTomb = ['tombstone', '100', '1', '0', '', '', '1', '0'];
    const plainSeg = [
      'segment',
      '100',
      '1',
      '1000000',
      '1000',
      '',
      '1',
      '0',
      'plain',
      '',
      '',
      '',
      '1',
    ];
    for (const args of [plainTomb, plainSeg]) {
      expect(await f.raw.idallocImport(k, ...args), args[0]).toEqual([
        'conflict',
        'tombstone',
        '42',
        '42',
      ]);
      expect(await f.raw.hgetall(k)).toEqual(tomb);
    }
    const same = ['tombstone', '100', '1', '0', '', '', '1', '0', 'bitreverse', '', '', '', '1'];
    expect(await f.raw.idallocImport(k, ...same)).toEqual(['raised', 'tombstone', '42', '100']);
  });

  it('import-1 writes a created tombstone’s numbers', async () => {
    const k = f.key('gone');
    const args = ['tombstone', '7', '1', '0', '', '', '1', '0', 'permute', '', '40', KEY, '2'];
    expect(await f.raw.idallocImport(k, ...args)).toEqual(['created', 'none', '', '7']);
    expect(await f.raw.hgetall(k)).toMatchObject({
      shape: 'permute',
      width: '40',
      key: KEY,
      regions: '2',
    });
    expect(await f.store.createTag(segmentTag('gone')).catch((e: Error) => e.message)).toMatch(
      /deleted after issuing IDs as permute \(width 40\), 2 region\(s\)/,
    );
  });
});
