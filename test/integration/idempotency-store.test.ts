/**
 * Idempotency-Key records in the stores (docs/design.md §5 "Idempotency keys"):
 * allocate-keyed-2.lua and the embedded store's transaction record a grant with its key
 * in one step; the same record with the same params gets the same range back without
 * moving the counter, other params are refused IDEMPOTENCY_MISMATCH with nothing
 * written, another record gets a new range, and a record expires with its retention.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../src/core/errors.js';
import type { KeyedRequest, Store } from '../../src/core/store-ports.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { segmentTag, testStore } from '../support/store.js';

interface Opened {
  readonly store: Store & Required<Pick<Store, 'allocateKeyed'>>;
  /** Moves the store's clock on (embedded) or waits (Redis: PX is the server's clock). */
  readonly pass: (ms: number) => Promise<void>;
  close(): Promise<void>;
}

const backends: { name: string; open: () => Opened }[] = [
  {
    name: 'RedisStore',
    open: () => {
      const store = testStore(inject('redisUrl'));
      return {
        store,
        pass: (ms) => new Promise((r) => setTimeout(r, ms)),
        close: () => store.close(),
      };
    },
  },
  {
    name: 'EmbeddedStore',
    open: () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-idem-'));
      let now = Date.now();
      const store = new EmbeddedStore({ dataDir, now: () => now });
      return {
        store,
        pass: async (ms) => {
          now += ms;
        },
        close: async () => {
          await store.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

const req = (record: string, params: string, count: number, ttlMs = 60_000): KeyedRequest => ({
  record: record.padEnd(64, '0'),
  params,
  count,
  region: 0,
  ttlMs,
});

describe.each(backends)('$name keyed grants', ({ open }) => {
  let o: Opened;
  beforeAll(async () => {
    o = open();
    await o.store.createTag(segmentTag('t', { step: 100 }));
  });
  afterAll(() => o.close());

  const nextOf = async () => (await o.store.getTag('t'))!.next!;

  it('grants exactly count IDs and records them; the same request again gets them back, the counter unmoved', async () => {
    const first = await o.store.allocateKeyed('t', req('a1', 'ids:5', 5));
    expect(first.replay).toBe(false);
    expect(first.end - first.start).toBe(4n);
    expect(first.region).toBe(0);
    const after = await nextOf();
    expect(after).toBe(first.end + 1n);

    const again = await o.store.allocateKeyed('t', req('a1', 'ids:5', 5));
    expect(again).toMatchObject({
      replay: true,
      start: first.start,
      end: first.end,
      region: 0,
      incarnation: first.incarnation,
      bumped: false,
      skipped: 0n,
    });
    expect(await nextOf()).toBe(after);
  });

  it('refuses the same record with other params, writing nothing', async () => {
    const first = await o.store.allocateKeyed('t', req('b1', 'ids:5', 5));
    const before = await nextOf();
    await expect(o.store.allocateKeyed('t', req('b1', 'ids:6', 6))).rejects.toMatchObject({
      code: ErrorCode.IDEMPOTENCY_MISMATCH,
      message: expect.stringContaining('ids:6'),
    });
    await expect(o.store.allocateKeyed('t', req('b1', 'range:5', 5))).rejects.toMatchObject({
      code: ErrorCode.IDEMPOTENCY_MISMATCH,
    });
    expect(await nextOf()).toBe(before);
    // The record is still the first request's.
    const again = await o.store.allocateKeyed('t', req('b1', 'ids:5', 5));
    expect(again.start).toBe(first.start);
  });

  it('gives another record a range of its own, after the first', async () => {
    const a = await o.store.allocateKeyed('t', req('c1', 'range:3', 3));
    const b = await o.store.allocateKeyed('t', req('c2', 'range:3', 3));
    expect(b.replay).toBe(false);
    expect(b.start).toBe(a.end + 1n);
  });

  it('keeps the region index of the node that granted it', async () => {
    // A node of region 0 of 1 is the only kind a one-region tag has: the record says 0.
    const g = await o.store.allocateKeyed('t', { ...req('d1', 'id:1', 1), region: 0 });
    expect(g.region).toBe(0);
    expect(g.start).toBe(g.end);
  });

  it('forgets a record after its retention: the same key then gets new IDs', async () => {
    const first = await o.store.allocateKeyed('t', req('e1', 'ids:2', 2, 40));
    await o.pass(120);
    const later = await o.store.allocateKeyed('t', req('e1', 'ids:2', 2, 40));
    expect(later.replay).toBe(false);
    expect(later.start).toBeGreaterThan(first.end);
  });

  it('refuses a key on a tag it does not know, or of the other mode', async () => {
    await expect(o.store.allocateKeyed('nope', req('f1', 'ids:1', 1))).rejects.toMatchObject({
      code: ErrorCode.TAG_NOT_FOUND,
    });
    await o.store.createTag({ ...segmentTag('sf'), mode: 'snowflake' });
    await expect(o.store.allocateKeyed('sf', req('f2', 'ids:1', 1))).rejects.toMatchObject({
      code: ErrorCode.WRONG_MODE,
    });
  });
});
