/**
 * Shapes and region counts in both stores (docs/design.md §13): stored at creation with
 * the tag's first counter value, changed only before the first ID, `max` held to the
 * shape's limit, an allocation refused when the node's region count is not the tag's
 * (nothing written), grants carrying the shape, and export/import keeping shape, key
 * and region count — a differing one is a conflict, never a silent change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counterLimit, PLAIN, type TagShape } from '../../src/core/shape.js';
import type { Store } from '../../src/core/store-ports.js';
import { MAX_ID } from '../../src/core/tags.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { importTarget } from '../../src/store/transfer.js';
import { regionBackends } from '../support/region-backends.js';
import { segmentTag } from '../support/store.js';

const KEY = '00112233445566778899aabbccddeeff';
const PERMUTE: TagShape = { kind: 'permute', width: 40, key: KEY };
const BITREVERSE: TagShape = { kind: 'bitreverse', prefix: 'ord' };

for (const backend of regionBackends('idalloc-shapes-')) {
  describe(`shapes and regions: ${backend.name}`, () => {
    let place: string;
    const opened: Store[] = [];
    const open = (regions = 1, where = place) => {
      const s = backend.open(where, regions);
      opened.push(s);
      return s;
    };
    const places: string[] = [];
    beforeEach(() => {
      place = backend.place();
      places.push(place);
    });
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((s) => s.close()));
      for (const p of places.splice(0)) backend.cleanup(p);
    });

    it('stores each shape with its region count and first counter value; the grant carries them', async () => {
      const node3 = open(3);
      const limit = counterLimit(PERMUTE, 3);
      const shapes: [string, TagShape, number, bigint][] = [
        ['p', { kind: 'plain', prefix: 'usr' }, 3, counterLimit(PLAIN, 3)],
        ['b', BITREVERSE, 3, counterLimit(BITREVERSE, 3)],
        ['k', PERMUTE, 3, limit],
      ];
      for (const [name, shape, regions, max] of shapes) {
        const { tag } = await node3.createTag({ ...segmentTag(name), shape, regions, max });
        expect(tag).toMatchObject({ shape, regions, first: 1n, next: 1n });
        expect(await node3.getTag(name)).toEqual(tag);
        const grant = await node3.allocate(name, 10, false);
        expect(grant).toMatchObject({ start: 1n, end: 10n, shape, regions });
      }
      // A plain tag of one region: the grant says so too.
      const node1 = open(1);
      await node1.createTag(segmentTag('plain'));
      expect(await node1.allocate('plain', 1, false)).toMatchObject({
        shape: { kind: 'plain' },
        regions: 1,
      });
    });

    it('refuses an allocation from a node of another region count, naming both, writing nothing', async () => {
      const node1 = open(1);
      const max = counterLimit(PLAIN, 3);
      await node1.createTag({ ...segmentTag('order'), regions: 3, max });
      await expect(node1.allocate('order', 10, false)).rejects.toMatchObject({
        code: 'WRONG_REGION',
        message: expect.stringMatching(/shared by 3 region\(s\), and this node is set to 1/),
        details: { tagRegions: expect.anything(), nodeRegions: 1 },
      });
      expect((await node1.getTag('order'))?.next).toBe(1n);
      // And the other way round: a node of 2 regions, a tag of one.
      const node2 = open(2);
      await node1.createTag(segmentTag('single'));
      await expect(node2.allocate('single', 1, false)).rejects.toMatchObject({
        code: 'WRONG_REGION',
        message: expect.stringMatching(/shared by 1 region\(s\), and this node is set to 2/),
      });
      expect((await node1.getTag('single'))?.next).toBe(1n);
      expect(await open(3).allocate('order', 10, false)).toMatchObject({ start: 1n, regions: 3 });
    });

    it('changes the shape and region count before the first ID, and refuses it after (SHAPE_FIXED)', async () => {
      const node = open(2);
      await node.createTag({ ...segmentTag('order'), max: 1_000_000n });
      const changed = await node.updateTag('order', { shape: PERMUTE, regions: 2 });
      expect(changed).toMatchObject({ shape: PERMUTE, regions: 2, next: 1n, first: 1n });
      // Back to plain: width and key go with the permute shape.
      const back = await node.updateTag('order', { shape: { kind: 'bitreverse' } });
      expect(back.mode === 'segment' && back.shape).toEqual({ kind: 'bitreverse' });
      await node.allocate('order', 5, false);
      const before = await node.getTag('order');
      await expect(node.updateTag('order', { shape: PERMUTE })).rejects.toMatchObject({
        code: 'REFUSED',
        message:
          "tag 'order' has issued IDs (next 6 is past its first 1): its shape and region count are fixed, since another would map new counter values onto IDs already issued",
      });
      await expect(node.updateTag('order', { regions: 3, step: 7 })).rejects.toMatchObject({
        code: 'REFUSED',
      });
      expect(await node.getTag('order')).toEqual(before);
      // The same shape again is no change, and other settings still change.
      expect(
        await node.updateTag('order', { shape: { kind: 'bitreverse' }, regions: 2, step: 9 }),
      ).toMatchObject({ step: 9 });
    });

    it('holds max to the limit of the shape and region count, at create and at update', async () => {
      const node = open(1);
      await expect(
        node.createTag({ ...segmentTag('order'), regions: 4, max: MAX_ID }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `max ${MAX_ID} is not allowed for the plain shape over 4 region(s): the largest is ${counterLimit(PLAIN, 4)}, so that every region's IDs stay below 2^63`,
      });
      expect(await node.getTag('order')).toBeUndefined();
      await node.createTag(segmentTag('order'));
      // More regions with the old max: over the limit; with a max within it: allowed.
      await expect(node.updateTag('order', { regions: 4 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(node.updateTag('order', { shape: PERMUTE })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('the largest is 1099511627775'),
      });
      const limit = counterLimit(PERMUTE, 4);
      expect(
        await node.updateTag('order', { shape: PERMUTE, regions: 4, max: limit }),
      ).toMatchObject({ max: limit, regions: 4 });
      await expect(node.updateTag('order', { max: limit + 1n })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('refuses a shaped snowflake tag, naming why', async () => {
      const node = open(1);
      const snowflake = { ...segmentTag('clock'), mode: 'snowflake' as const };
      await expect(
        node.createTag({ ...snowflake, shape: { kind: 'bitreverse' } }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('not allowed for a snowflake tag'),
      });
      await expect(node.createTag({ ...snowflake, regions: 2 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('worker IDs are split between regions'),
      });
      await node.createTag(snowflake);
      await expect(node.updateTag('clock', { regions: 2 })).rejects.toMatchObject({
        code: 'WRONG_MODE',
      });
    });

    it('exports and imports the shape, key and region count; another shape is a conflict', async () => {
      const node = open(2);
      const max = counterLimit(PERMUTE, 2);
      await node.createTag({ ...segmentTag('order'), shape: PERMUTE, regions: 2, max });
      await node.allocate('order', 100, false);
      const { records } = await node.exportTags();
      const record = records.find((r) => r.state === 'live' && r.tag.name === 'order')!;
      expect(record).toMatchObject({ tag: { shape: PERMUTE, regions: 2 } });

      // Into another region's store: created with the same shape and count.
      const elsewhere = backend.place();
      places.push(elsewhere);
      const other = open(2, elsewhere);
      const target = importTarget(record, 1000n);
      expect(await other.importTag(record, target, false)).toMatchObject({ outcome: 'created' });
      const imported = await other.getTag('order');
      expect(imported).toMatchObject({ shape: PERMUTE, regions: 2, next: 1101n, max });
      // Its shape is fixed: nothing records where its counter started.
      await expect(
        other.updateTag('order', { shape: PLAIN, max: 10n ** 6n }),
      ).rejects.toMatchObject({ code: 'REFUSED' });
      expect(await other.allocate('order', 1, false)).toMatchObject({ shape: PERMUTE, regions: 2 });

      // A live tag of another key: a conflict, left alone (dry run and real).
      const third = backend.place();
      places.push(third);
      const thirdStore = open(2, third);
      const otherKey = { ...PERMUTE, key: 'ffeeddccbbaa99887766554433221100' };
      await thirdStore.createTag({ ...segmentTag('order'), shape: otherKey, regions: 2, max });
      const before = await thirdStore.getTag('order');
      for (const dry of [true, false]) {
        expect(await thirdStore.importTag(record, target, dry)).toMatchObject({
          outcome: 'conflict',
          found: 'segment',
        });
      }
      expect(await thirdStore.getTag('order')).toEqual(before);
    });
  });
}

describe('the embedded store file of an older idalloc (schema 2, no shape columns)', () => {
  it('gets the columns at open: its tags read as plain, one region, shape fixed, and serve', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idalloc-schema2-'));
    try {
      const first = new EmbeddedStore({ dataDir: dir });
      await first.createTag(segmentTag('order'));
      await first.allocate('order', 5, false);
      const path = first.path;
      await first.close();
      // As idalloc before shapes left it: no shape columns, schema version 2.
      const raw = new DatabaseSync(path);
      for (const column of ['shape', 'prefix', 'width', 'key', 'regions', 'first']) {
        raw.exec(`ALTER TABLE tags DROP COLUMN ${column}`);
      }
      raw.exec('PRAGMA user_version = 2');
      raw.close();

      const again = new EmbeddedStore({ dataDir: dir });
      try {
        const tag = await again.getTag('order');
        expect(tag).toMatchObject({ shape: { kind: 'plain' }, regions: 1, next: 6n });
        expect(tag).not.toHaveProperty('first');
        expect(await again.allocate('order', 1, false)).toMatchObject({ start: 6n, regions: 1 });
        await expect(
          again.updateTag('order', { regions: 2, max: 10n ** 6n }),
        ).rejects.toMatchObject({
          code: 'REFUSED',
        });
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
