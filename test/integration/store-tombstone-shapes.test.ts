/**
 * A tag deleted and created again under its name keeps the numbers of its shape
 * (docs/design.md §3, §13), in both stores: the tombstone keeps the deleted tag's kind,
 * width, key and region count beside its floor; a segment tag created over it with the
 * same ones starts above the floor, one with others is refused SHAPE_OF_DELETED naming
 * the old shape (never the key) and writes nothing — under another bijection its new
 * counter values could map onto IDs the deleted tag issued. Export and import carry the
 * tombstone's shape; a counter or floor of other numbers is an import conflict.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counterLimit, type TagShape } from '../../src/core/shape.js';
import type { Store, TagRecord } from '../../src/core/store-ports.js';
import { importTarget } from '../../src/store/transfer.js';
import { regionBackends } from '../support/region-backends.js';
import { segmentTag } from '../support/store.js';

const KEY = '00112233445566778899aabbccddeeff';
const OTHER_KEY = 'ffeeddccbbaa99887766554433221100';
const PERMUTE: TagShape = { kind: 'permute', width: 40, key: KEY };

for (const backend of regionBackends('idalloc-tomb-shapes-')) {
  describe(`a tag created again over its tombstone keeps its shape: ${backend.name}`, () => {
    let place: string;
    const opened: Store[] = [];
    const places: string[] = [];
    const open = (regions = 1, where = place) => {
      const s = backend.open(where, regions);
      opened.push(s);
      return s;
    };
    const fresh = () => {
      const p = backend.place();
      places.push(p);
      return p;
    };
    beforeEach(() => {
      place = fresh();
    });
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((s) => s.close()));
      for (const p of places.splice(0)) backend.cleanup(p);
    });

    it('allows the same shape again, starting above the floor', async () => {
      const node = open(2);
      const max = counterLimit(PERMUTE, 2);
      const shaped = { shape: { ...PERMUTE, prefix: 'ord' }, regions: 2, max };
      await node.createTag({ ...segmentTag('order'), ...shaped });
      await node.allocate('order', 50, false);
      await node.deleteTag('order');
      // Another prefix is allowed: it writes the same numbers another way.
      const { tag, raisedByTombstone } = await node.createTag({
        ...segmentTag('order'),
        shape: { ...PERMUTE, prefix: 'inv' },
        regions: 2,
        max,
      });
      expect(raisedByTombstone).toBe(true);
      expect(tag).toMatchObject({ next: 51n, first: 51n, regions: 2 });
      expect(await node.allocate('order', 1, false)).toMatchObject({ start: 51n });
    });

    it('refuses another kind, width, key or region count, naming the old shape without the key; nothing written', async () => {
      const node = open(2);
      const max = counterLimit(PERMUTE, 2);
      await node.createTag({ ...segmentTag('order'), shape: PERMUTE, regions: 2, max });
      await node.allocate('order', 50, false);
      await node.deleteTag('order');
      const before = await node.exportTags();
      const others: [string, TagShape, number][] = [
        ['kind', { kind: 'bitreverse' }, 2],
        ['width', { ...PERMUTE, width: 41 }, 2],
        ['key', { ...PERMUTE, key: OTHER_KEY }, 2],
        ['regions', PERMUTE, 3],
      ];
      for (const [what, shape, regions] of others) {
        const err: unknown = await node
          .createTag({
            ...segmentTag('order'),
            shape,
            regions,
            max: counterLimit(shape, regions),
          })
          .catch((e: unknown) => e);
        expect(err, what).toMatchObject({
          code: 'REFUSED',
          message: expect.stringContaining(
            "tag 'order' was deleted after issuing IDs as permute (width 40), 2 region(s)",
          ),
        });
        const message = (err as Error).message;
        expect(message, what).toContain('--shape permute --width 40 --regions 2');
        expect(message, what).toContain('passed with --key');
        expect(message, what).toContain('or pick another name');
        expect(message, what).not.toContain(KEY);
        expect(JSON.stringify(err), what).not.toContain(KEY);
      }
      expect(await node.getTag('order')).toBeUndefined();
      expect(await node.exportTags()).toEqual(before);
      // A snowflake tag has no counter shape: allowed over it, as before.
      await node.createTag({ ...segmentTag('order'), mode: 'snowflake' });
    });

    it('counts a plain tag’s tombstone as plain, one region', async () => {
      const node = open(1);
      await node.createTag(segmentTag('order'));
      await node.allocate('order', 5, false);
      await node.deleteTag('order');
      await expect(
        node.createTag({ ...segmentTag('order'), shape: { kind: 'bitreverse' } }),
      ).rejects.toMatchObject({
        code: 'REFUSED',
        message: expect.stringContaining('as plain, 1 region(s)'),
      });
      expect(await node.getTag('order')).toBeUndefined();
      expect(await node.createTag(segmentTag('order'))).toMatchObject({ tag: { next: 6n } });
    });

    it('keeps the shape through a snowflake tag created over the tombstone and deleted', async () => {
      const node = open(1);
      await node.createTag({ ...segmentTag('order'), shape: { kind: 'bitreverse' } });
      await node.allocate('order', 5, false);
      await node.deleteTag('order');
      await node.createTag({ ...segmentTag('order'), mode: 'snowflake' });
      await node.deleteTag('order');
      await expect(node.createTag(segmentTag('order'))).rejects.toMatchObject({
        code: 'REFUSED',
        message: expect.stringContaining('as bitreverse, 1 region(s)'),
      });
      expect(
        await node.createTag({ ...segmentTag('order'), shape: { kind: 'bitreverse' } }),
      ).toMatchObject({ tag: { next: 6n } });
    });

    it('exports the tombstone with its shape and key; imported elsewhere it keeps the guard', async () => {
      const node = open(2);
      const max = counterLimit(PERMUTE, 2);
      await node.createTag({ ...segmentTag('order'), shape: PERMUTE, regions: 2, max });
      await node.allocate('order', 50, false);
      await node.deleteTag('order');
      const { records } = await node.exportTags();
      const tomb = records.find((r) => r.state === 'tombstone' && r.name === 'order')!;
      expect(tomb).toMatchObject({ next: 51n, shape: PERMUTE, regions: 2 });

      const other = open(2, fresh());
      expect(await other.importTag(tomb, importTarget(tomb, 0n), false)).toMatchObject({
        outcome: 'created',
      });
      const bitreverse: TagShape = { kind: 'bitreverse' };
      await expect(
        other.createTag({
          ...segmentTag('order'),
          shape: bitreverse,
          regions: 2,
          max: counterLimit(bitreverse, 2),
        }),
      ).rejects.toMatchObject({ code: 'REFUSED' });
      expect(
        await other.createTag({ ...segmentTag('order'), shape: PERMUTE, regions: 2, max }),
      ).toMatchObject({ tag: { next: 51n } });
    });

    it('an export without the tombstone shape (an older file) imports as plain', async () => {
      const node = open(1);
      const old: TagRecord = { state: 'tombstone', name: 'order', next: 7n, deletedAt: 1 };
      await node.importTag(old, 7n, false);
      await expect(
        node.createTag({ ...segmentTag('order'), shape: { kind: 'bitreverse' } }),
      ).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringContaining('as plain') });
      expect(await node.createTag(segmentTag('order'))).toMatchObject({ tag: { next: 7n } });
    });

    it('imports a counter or floor of other numbers over a tombstone as a conflict, writing nothing', async () => {
      const node = open(1);
      await node.createTag({ ...segmentTag('order'), shape: { kind: 'bitreverse' } });
      await node.allocate('order', 5, false);
      await node.deleteTag('order');
      const before = await node.exportTags();
      const live: TagRecord = {
        state: 'live',
        tag: {
          ...segmentTag('order'),
          createdAt: 1,
          next: 100n,
          shape: { kind: 'plain' },
          regions: 1,
        },
      };
      const tomb: TagRecord = { state: 'tombstone', name: 'order', next: 100n, deletedAt: 1 };
      for (const record of [live, tomb]) {
        for (const dry of [true, false]) {
          expect(await node.importTag(record, 100n, dry)).toMatchObject({
            outcome: 'conflict',
            found: 'tombstone',
          });
        }
      }
      expect(await node.exportTags()).toEqual(before);
      // The same numbers (another prefix) raise the floor as before.
      const same: TagRecord = {
        state: 'live',
        tag: {
          ...segmentTag('order'),
          createdAt: 1,
          next: 100n,
          shape: { kind: 'bitreverse', prefix: 'ord' },
          regions: 1,
        },
      };
      expect(await node.importTag(same, 100n, false)).toMatchObject({
        outcome: 'raised',
        found: 'tombstone',
        after: 100n,
      });
    });
  });
}
