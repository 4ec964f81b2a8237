/**
 * `exportTags` and `importTag` (the admin script's `tag export` / `tag import`) as one
 * specification run against both stores: Redis (import-1.lua) and the embedded SQLite
 * store. Each import is looked at through the stored fields (without Redis's run_id),
 * so a dry run can be shown to write nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { importTarget } from '../../src/store/transfer.js';
import type { Store, TagRecord } from '../../src/core/store-ports.js';
import { MAX_ID } from '../../src/core/tags.js';
import { PLAIN } from '../../src/core/shape.js';
import { segmentTag, testStore } from '../support/store.js';

const NOW = 1_732_000_000_000;

interface Harness {
  readonly store: Store;
  /** Every stored tag's fields as strings (run_id left out), by name. */
  dump(): Promise<Record<string, Record<string, string>>>;
  /** Sets one stored field behind the store's back. */
  set(name: string, field: string, value: string): Promise<void>;
  close(): Promise<void>;
}

const backends: { name: string; open(): Harness }[] = [
  {
    name: 'RedisStore',
    open() {
      const url = inject('redisUrl');
      const store = testStore(url, undefined, () => NOW);
      const raw = createRedisClient({ kind: 'redis', url }, 'general') as Redis;
      return {
        store,
        async dump() {
          const out: Record<string, Record<string, string>> = {};
          for (const key of (await raw.keys(`${store.keys.prefix}tag:*`)).sort()) {
            const { run_id: _r, ...rest } = await raw.hgetall(key);
            out[store.keys.tagName(key)!] = rest;
          }
          return out;
        },
        async set(name, field, value) {
          await raw.hset(store.keys.tag(name), field, value);
        },
        async close() {
          await Promise.allSettled([store.close(), raw.quit()]);
        },
      };
    },
  },
  {
    name: 'EmbeddedStore',
    open() {
      const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-transfer-'));
      const store = new EmbeddedStore({ dataDir, now: () => NOW });
      const raw = new DatabaseSync(store.path);
      raw.exec('PRAGMA busy_timeout = 5000');
      const all = raw.prepare('SELECT * FROM tags ORDER BY name');
      all.setReadBigInts(true);
      return {
        store,
        async dump() {
          const out: Record<string, Record<string, string>> = {};
          for (const row of all.all()) {
            const fields: Record<string, string> = {};
            for (const [k, v] of Object.entries(row)) {
              if (k !== 'name' && v !== null) fields[k] = String(v);
            }
            out[String(row.name)] = fields;
          }
          return out;
        },
        async set(name, field, value) {
          raw.prepare(`UPDATE tags SET ${field} = ? WHERE name = ?`).run(value, name);
        },
        async close() {
          await store.close();
          raw.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

const snowflake = (name: string) => ({ ...segmentTag(name), mode: 'snowflake' as const });

/** A live segment tag's record as an export holds it. */
function segmentRecord(name: string, next: bigint, over: { gap?: bigint; max?: bigint } = {}) {
  return {
    state: 'live',
    tag: {
      name,
      mode: 'segment',
      step: 250,
      max: over.max ?? MAX_ID,
      gap: over.gap ?? 1000n,
      description: 'restored',
      createdAt: NOW - 5000,
      next,
      shape: PLAIN,
      regions: 1,
    },
  } satisfies TagRecord;
}

/** Imports a record at its own gap. */
function restore(store: Store, record: TagRecord, dryRun = false) {
  const gap =
    record.state === 'live' && record.tag.mode === 'segment' ? record.tag.gap : (record.gap ?? 0n);
  return store.importTag(record, importTarget(record, gap), dryRun);
}

describe.each(backends)('tag export and import: $name', (backend) => {
  let h: Harness;
  let store: Store;
  beforeEach(() => {
    h = backend.open();
    store = h.store;
  });
  afterEach(() => h.close());

  it('exports every tag of both modes and every tombstone, with its configuration and next', async () => {
    await store.createTag({
      ...segmentTag('order', { step: 100, gap: 5000n }),
      description: 'Orders',
    });
    await store.allocate('order', 0, false);
    await store.createTag(snowflake('events'));
    await store.createTag(segmentTag('gone'));
    await store.bumpTag('gone', 'to', 42n);
    await store.deleteTag('gone');
    await store.createTag(segmentTag('floored'));
    await store.bumpTag('floored', 'to', 900n);
    await store.deleteTag('floored');
    await store.createTag(snowflake('floored')); // a snowflake tag keeps the floor

    const exp = await store.exportTags();
    expect(exp.consistency).toBe(backend.name === 'EmbeddedStore' ? 'snapshot' : 'per-tag');
    const byName = Object.fromEntries(
      exp.records.map((r) => [r.state === 'live' ? r.tag.name : r.name, r]),
    );
    expect(Object.keys(byName).sort()).toEqual(['events', 'floored', 'gone', 'order']);
    expect(byName.order).toEqual({
      state: 'live',
      tag: {
        name: 'order',
        mode: 'segment',
        step: 100,
        max: MAX_ID,
        gap: 5000n,
        description: 'Orders',
        createdAt: NOW,
        next: 101n,
        shape: { kind: 'plain' },
        regions: 1,
      },
    });
    expect(byName.events).toMatchObject({ state: 'live', tag: { mode: 'snowflake' } });
    expect(byName.events).not.toHaveProperty('floor');
    expect(byName.floored).toMatchObject({
      state: 'live',
      tag: { mode: 'snowflake' },
      floor: 900n,
    });
    expect(byName.gone).toMatchObject({
      state: 'tombstone',
      name: 'gone',
      next: 42n,
      deletedAt: NOW,
    });
  });

  it('refuses to export a damaged tag, naming it and the field', async () => {
    await store.createTag(segmentTag('fine'));
    await store.createTag(segmentTag('broken'));
    await h.set('broken', 'next', '12abc');
    await expect(store.exportTags()).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/tag 'broken' is damaged .*next '12abc'/),
    });
  });

  it('creates a missing tag at next + gap with its configuration; allocation starts there', async () => {
    const record = segmentRecord('order', 5001n);
    expect(await restore(store, record)).toEqual({
      outcome: 'created',
      found: 'none',
      after: 6001n,
    });
    expect(await store.getTag('order')).toEqual({ ...record.tag, next: 6001n });
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 6001n, end: 6250n });
  });

  it('stops a created tag at max + 1 (exhausted) rather than past it', async () => {
    const record = segmentRecord('small', 95n, { max: 100n, gap: 1000n });
    expect(await restore(store, record)).toMatchObject({ outcome: 'created', after: 101n });
    await expect(store.allocate('small', 1, false)).rejects.toMatchObject({
      code: 'TAG_EXHAUSTED',
    });
  });

  it('raises a tag that stands lower, leaves one above, and never lowers', async () => {
    await store.createTag(segmentTag('low', { step: 10 }));
    await store.createTag(segmentTag('high', { step: 10 }));
    await store.bumpTag('high', 'to', 1_000_000n);
    expect(await restore(store, segmentRecord('low', 5001n))).toEqual({
      outcome: 'raised',
      found: 'segment',
      before: 1n,
      after: 6001n,
    });
    const before = await h.dump();
    expect(await restore(store, segmentRecord('high', 5001n))).toEqual({
      outcome: 'unchanged',
      found: 'segment',
      before: 1_000_000n,
      after: 1_000_000n,
    });
    expect(await h.dump()).toEqual(before);
    // The existing tag keeps its own configuration: only next moves.
    expect(await store.getTag('low')).toMatchObject({ step: 10, description: '', next: 6001n });
    // Importing the same file again changes nothing.
    expect(await restore(store, segmentRecord('low', 5001n))).toMatchObject({
      outcome: 'unchanged',
      after: 6001n,
    });
  });

  it('restores a tombstone at next + gap, never lower than one that exists; a tag created again starts above it', async () => {
    const tomb = {
      state: 'tombstone',
      name: 'old',
      next: 700n,
      gap: 300n,
      deletedAt: NOW,
    } as const;
    expect(await restore(store, tomb)).toEqual({ outcome: 'created', found: 'none', after: 1000n });
    expect(await store.getTag('old')).toBeUndefined();
    expect(await store.exportTags()).toMatchObject({
      records: [{ state: 'tombstone', name: 'old', next: 1000n }],
    });
    expect(await restore(store, { ...tomb, next: 100n })).toMatchObject({
      outcome: 'unchanged',
      found: 'tombstone',
      after: 1000n,
    });
    expect(await restore(store, { ...tomb, next: 5000n })).toMatchObject({
      outcome: 'raised',
      before: 1000n,
      after: 5300n,
    });
    const { tag, raisedByTombstone } = await store.createTag(segmentTag('old'));
    expect([tag.next, raisedByTombstone]).toEqual([5300n, true]);
  });

  it('leaves a tag deleted since the export deleted, raising its tombstone', async () => {
    await store.createTag(segmentTag('dropped'));
    await store.deleteTag('dropped');
    const result = await restore(store, segmentRecord('dropped', 400n));
    expect(result).toEqual({ outcome: 'raised', found: 'tombstone', before: 1n, after: 1400n });
    expect(await store.getTag('dropped')).toBeUndefined();
  });

  it('raises a tag created again since the export above the exported tombstone', async () => {
    await store.createTag(segmentTag('again'));
    const tomb = {
      state: 'tombstone',
      name: 'again',
      next: 800n,
      gap: 200n,
      deletedAt: NOW,
    } as const;
    expect(await restore(store, tomb)).toEqual({
      outcome: 'raised',
      found: 'segment',
      before: 1n,
      after: 1000n,
    });
    expect(await store.allocate('again', 1, true)).toMatchObject({ start: 1000n });
  });

  it('recreates a missing snowflake tag (mode only) and leaves an existing one', async () => {
    const record = {
      state: 'live',
      tag: { ...snowflake('events'), step: 0, createdAt: NOW - 1, description: 'clock' },
    } as const;
    expect(await store.importTag(record, undefined, false)).toEqual({
      outcome: 'created',
      found: 'none',
    });
    expect(await store.getTag('events')).toMatchObject({ mode: 'snowflake', description: 'clock' });
    expect(await store.importTag(record, undefined, false)).toEqual({
      outcome: 'unchanged',
      found: 'snowflake',
    });
    await expect(store.allocate('events', 1, false)).rejects.toMatchObject({ code: 'WRONG_MODE' });
  });

  it('reports a tag whose mode differs from the export as a conflict and leaves it alone', async () => {
    await store.createTag(snowflake('clash'));
    await store.createTag(segmentTag('other'));
    const before = await h.dump();
    expect(await restore(store, segmentRecord('clash', 10n))).toEqual({
      outcome: 'conflict',
      found: 'snowflake',
    });
    const asSnowflake = {
      state: 'live',
      tag: { ...snowflake('other'), step: 0, createdAt: NOW },
    } as const;
    expect(await store.importTag(asSnowflake, undefined, false)).toMatchObject({
      outcome: 'conflict',
      found: 'segment',
    });
    expect(await h.dump()).toEqual(before);
  });

  it('decides the same on a dry run and writes nothing', async () => {
    await store.createTag(segmentTag('low'));
    await store.createTag(segmentTag('dropped'));
    await store.deleteTag('dropped');
    const records: TagRecord[] = [
      segmentRecord('low', 9000n),
      segmentRecord('missing', 10n),
      segmentRecord('dropped', 10n),
      { state: 'tombstone', name: 'tomb', next: 5n, gap: 5n, deletedAt: NOW },
    ];
    const before = await h.dump();
    const dry = [];
    for (const r of records) dry.push(await restore(store, r, true));
    expect(await h.dump()).toEqual(before);
    expect(dry.map((r) => r.outcome)).toEqual(['raised', 'created', 'raised', 'created']);
    const wet = [];
    for (const r of records) wet.push(await restore(store, r, false));
    expect(wet).toEqual(dry);
    expect(await h.dump()).not.toEqual(before);
  });

  it('refuses to import over a damaged tag, writing nothing', async () => {
    await store.createTag(segmentTag('broken'));
    await h.set('broken', 'max', 'lots');
    const before = await h.dump();
    await expect(restore(store, segmentRecord('broken', 5n))).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining("tag 'broken' is damaged"),
    });
    expect(await h.dump()).toEqual(before);
  });

  it('round-trips: an export imported into an empty store gives the same tags above their next', async () => {
    await store.createTag(segmentTag('a', { step: 7, gap: 10n }));
    await store.allocate('a', 0, false);
    await store.createTag(snowflake('b'));
    await store.createTag(segmentTag('c', { gap: 0n }));
    await store.deleteTag('c');
    const first = await store.exportTags();
    const other = backends.find((b) => b.name !== backend.name)!.open();
    try {
      for (const r of first.records) await restore(other.store, r);
      const second = await other.store.exportTags();
      expect(
        second.records.map((r) =>
          r.state === 'live' ? [r.tag.name, r.tag.next] : [r.name, r.next],
        ),
      ).toEqual([
        ['a', 18n],
        ['b', undefined],
        ['c', 1n],
      ]);
    } finally {
      await other.close();
    }
  });
});
