/**
 * The export file's tombstones (and snowflake floors) carry the deleted tag's numeric
 * shape, key included, so a store move keeps the guard of docs/design.md §3; files of
 * older versions have none and read as plain, one region; a prefix is refused there
 * (a floor keeps only the numbers under it).
 */
import { describe, expect, it } from 'vitest';
import type { TagRecord } from '../../src/core/store-ports.js';
import { parseTagFile, tagFile } from '../../src/cli/tag-file.js';

const KEY = '00112233445566778899aabbccddeeff';
const origin = { kind: 'redis', keyPrefix: 'idalloc:' } as const;

const tomb: TagRecord = {
  state: 'tombstone',
  name: 'order',
  next: 51n,
  deletedAt: 1_700_000_000_000,
  shape: { kind: 'permute', width: 40, key: KEY },
  regions: 2,
};
const clock: TagRecord = {
  state: 'live',
  tag: { name: 'clock', mode: 'snowflake', description: '', createdAt: 1_700_000_000_000 },
  floor: 9n,
  floorShape: { kind: 'bitreverse' },
  floorRegions: 3,
};

const text = (records: TagRecord[]) =>
  JSON.stringify(tagFile({ records, consistency: 'snapshot' }, origin, 1_700_000_000_000));

describe('tag file: the numeric shape of a floor', () => {
  it('writes and reads a tombstone’s and a snowflake floor’s shape, key and regions', () => {
    const doc = JSON.parse(text([tomb, clock])) as Record<string, unknown[]>;
    expect(doc.tombstones).toEqual([
      expect.objectContaining({ shape: { kind: 'permute', width: 40, key: KEY }, regions: 2 }),
    ]);
    expect(doc.tags).toEqual([
      expect.objectContaining({ floorShape: { kind: 'bitreverse' }, floorRegions: 3 }),
    ]);
    expect(parseTagFile(text([tomb, clock]), 'f').records).toEqual([clock, tomb]);
  });

  it('reads a tombstone of an older file (no shape) as plain, one region: no fields', () => {
    const { shape: _s, regions: _r, ...old } = tomb as Extract<TagRecord, { state: 'tombstone' }>;
    const doc = JSON.parse(text([old])) as Record<string, Record<string, unknown>[]>;
    expect(doc.tombstones![0]).not.toHaveProperty('shape');
    expect(parseTagFile(text([old]), 'f').records).toEqual([old]);
  });

  it('refuses a prefix or a bad shape on a tombstone, naming the field', () => {
    const doc = JSON.parse(text([tomb])) as Record<string, Record<string, unknown>[]>;
    doc.tombstones![0]!.shape = { kind: 'bitreverse', prefix: 'ord' };
    expect(() => parseTagFile(JSON.stringify(doc), 'f')).toThrow(/shape\.prefix/);
    doc.tombstones![0]!.shape = { kind: 'permute', width: 40 };
    expect(() => parseTagFile(JSON.stringify(doc), 'f')).toThrow(/permute key is not allowed/);
    doc.tombstones![0]!.shape = { kind: 'plain' };
    doc.tombstones![0]!.regions = 0;
    expect(() => parseTagFile(JSON.stringify(doc), 'f')).toThrow(/regions 0 is not allowed/);
  });
});
