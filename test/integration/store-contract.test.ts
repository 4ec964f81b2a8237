/**
 * One specification of the {@link Store} behaviours, and of the snowflake worker leases,
 * run against both stores: Redis (its Lua scripts) and the embedded SQLite store, so that
 * the two cannot drift.
 * Each store is looked at through the same raw view: the stored fields of a tag as
 * strings (the Redis hash; the SQLite row), without the incarnation (Redis's `run_id`, the
 * file's incarnation).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { WorkerLeaseStore } from '../../src/core/lease-port.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { createKeys } from '../../src/store/redis/keys.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import type { Store } from '../../src/core/store-ports.js';
import { MAX_ID } from '../../src/core/tags.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';

const NOW = 1_732_000_000_000;

const DAMAGES = [
  'next missing',
  'next not a number',
  'next negative',
  'max missing',
  'step zero',
  'gap not a number',
  'mode missing',
] as const;
type Damage = (typeof DAMAGES)[number];

interface Harness {
  readonly store: Store;
  /** The stored fields of a tag (tombstone included) as strings; {} when none. */
  fields(name: string): Promise<Record<string, string>>;
  /** Breaks a tag behind the store's back, as a hand edit or a damaged store would. */
  damage(name: string, how: Damage): Promise<void>;
  close(): Promise<void>;
}

interface Backend {
  readonly name: string;
  readonly kind: Store['kind'];
  open(): Harness;
}

const redisBackend: Backend = {
  name: 'RedisStore',
  kind: 'redis',
  open() {
    const url = inject('redisUrl');
    const store = testStore(url, undefined, () => NOW);
    const raw = createRedisClient({ kind: 'redis', url }, 'general') as Redis;
    const key = (name: string) => store.keys.tag(name);
    const damages: Record<Damage, (k: string) => Promise<unknown>> = {
      'next missing': (k) => raw.hdel(k, 'next'),
      'next not a number': (k) => raw.hset(k, 'next', '12abc'),
      'next negative': (k) => raw.hset(k, 'next', '-5'),
      'max missing': (k) => raw.hdel(k, 'max'),
      'step zero': (k) => raw.hset(k, 'step', '0'),
      'gap not a number': (k) => raw.hset(k, 'gap', 'lots'),
      'mode missing': (k) => raw.hdel(k, 'mode'),
    };
    return {
      store,
      async fields(name) {
        const { run_id: _runId, ...rest } = await raw.hgetall(key(name));
        return rest;
      },
      async damage(name, how) {
        await damages[how](key(name));
      },
      async close() {
        await Promise.allSettled([store.close(), raw.quit()]);
      },
    };
  },
};

const embeddedBackend: Backend = {
  name: 'EmbeddedStore',
  kind: 'embedded',
  open() {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-contract-'));
    const store = new EmbeddedStore({ dataDir, now: () => NOW });
    // A second connection, as another process would have: the store caches nothing.
    const raw = new DatabaseSync(store.path);
    raw.exec('PRAGMA busy_timeout = 5000');
    const set = (name: string, column: string, value: string | number | null) =>
      raw.prepare(`UPDATE tags SET ${column} = ? WHERE name = ?`).run(value, name);
    const damages: Record<Damage, (n: string) => unknown> = {
      'next missing': (n) => set(n, 'next', null),
      'next not a number': (n) => set(n, 'next', '12abc'),
      'next negative': (n) => set(n, 'next', '-5'),
      'max missing': (n) => set(n, 'max', null),
      'step zero': (n) => set(n, 'step', 0),
      'gap not a number': (n) => set(n, 'gap', 'lots'),
      'mode missing': (n) => set(n, 'mode', null),
    };
    const select = raw.prepare('SELECT * FROM tags WHERE name = ?');
    select.setReadBigInts(true);
    return {
      store,
      async fields(name) {
        const row = select.get(name) ?? {};
        const out: Record<string, string> = {};
        // incarnation stands for Redis's run_id, left out on both.
        for (const [column, value] of Object.entries(row)) {
          if (column !== 'name' && column !== 'incarnation' && value !== null) {
            out[column] = String(value);
          }
        }
        return out;
      },
      async damage(name, how) {
        damages[how](name);
      },
      async close() {
        await store.close();
        raw.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

const range = (g: { start: bigint; end: bigint }) => [g.start, g.end];
const snowflake = (name: string) => ({ ...segmentTag(name), mode: 'snowflake' as const });

describe.each([redisBackend, embeddedBackend])('Store contract: $name', (backend) => {
  let h: Harness;
  let store: Store;
  beforeEach(() => {
    h = backend.open();
    store = h.store;
  });
  afterEach(() => h.close());

  describe('allocate', () => {
    it('grants consecutive ranges from start, with the tag step and max, never bumped', async () => {
      await store.createTag(segmentTag('order', { step: 100, start: 500n, max: 100_000n }));
      const a = await store.allocate('order', 100, false);
      const b = await store.allocate('order', 30, true);
      // The incarnation (run_id, or the embedded file's identity) is the same for both.
      const incarnation = expect.stringMatching(/^([0-9a-f]{40}|embedded:[0-9a-f]{16})$/);
      const same = {
        step: 100,
        max: 100_000n,
        bumped: false,
        incarnation,
        skipped: 0n,
        shape: { kind: 'plain' },
        regions: 1,
      };
      expect(a).toEqual({ start: 500n, end: 599n, ...same });
      expect(b).toEqual({ start: 600n, end: 629n, ...same });
      expect(a.incarnation).toBe(b.incarnation);
      expect((await h.fields('order')).next).toBe('630');
    });

    it('grants the configured step when asked for count 0', async () => {
      await store.createTag(segmentTag('order', { step: 250 }));
      expect(range(await store.allocate('order', 0, false))).toEqual([1n, 250n]);
    });

    it('grants what is left below max, then refuses with TAG_EXHAUSTED', async () => {
      await store.createTag(segmentTag('order', { start: 1n, max: 1005n }));
      expect(range(await store.allocate('order', 1000, false))).toEqual([1n, 1000n]);
      expect(range(await store.allocate('order', 1000, false))).toEqual([1001n, 1005n]);
      await expect(store.allocate('order', 1, false)).rejects.toMatchObject({
        code: 'TAG_EXHAUSTED',
        message: "tag 'order' reached its max",
      });
      expect((await h.fields('order')).next).toBe('1006');
    });

    it('refuses an exact request larger than what is left, taking nothing', async () => {
      await store.createTag(segmentTag('order', { start: 1n, max: 10n }));
      await store.allocate('order', 5, true);
      await expect(store.allocate('order', 6, true)).rejects.toMatchObject({
        code: 'TAG_EXHAUSTED',
      });
      expect((await h.fields('order')).next).toBe('6');
      expect(range(await store.allocate('order', 5, true))).toEqual([6n, 10n]);
    });

    it('hands out IDs near 2^63 exactly, up to 2^63 - 1, leaving next at 2^63', async () => {
      const start = 9223372036854770000n;
      await store.createTag(segmentTag('big', { start, max: MAX_ID }));
      for (let i = 0; i < 5; i++) {
        expect(range(await store.allocate('big', 1000, false))).toEqual([
          start + BigInt(i) * 1000n,
          start + BigInt(i) * 1000n + 999n,
        ]);
      }
      const last = await store.allocate('big', 1000, false);
      expect(range(last)).toEqual([9223372036854775000n, MAX_ID]);
      await expect(store.allocate('big', 1, false)).rejects.toMatchObject({
        code: 'TAG_EXHAUSTED',
      });
      expect((await h.fields('big')).next).toBe('9223372036854775808');
    });

    it('refuses TAG_NOT_FOUND for a missing tag and a tombstone, creating nothing', async () => {
      await expect(store.allocate('ghost', 1, false)).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
        message: "tag 'ghost' does not exist",
      });
      expect(await h.fields('ghost')).toEqual({});
      await store.createTag(segmentTag('gone'));
      await store.allocate('gone', 10, false);
      await store.deleteTag('gone');
      await expect(store.allocate('gone', 1, false)).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      // The Redis tombstone also keeps run_id and gap (test/integration/lua/delete.test.ts).
      expect(await h.fields('gone')).toMatchObject({ next: '11', deleted_at: String(NOW) });
    });

    it.each(DAMAGES)('fails closed with INTERNAL when %s, writing nothing', async (how) => {
      await store.createTag(segmentTag('order'));
      await h.damage('order', how);
      const before = await h.fields('order');
      await expect(store.allocate('order', 1, false)).rejects.toMatchObject({
        code: 'INTERNAL',
        message: expect.stringContaining("tag 'order' is damaged"),
      });
      expect(await h.fields('order')).toEqual(before);
    });

    it('refuses WRONG_MODE for a snowflake tag', async () => {
      await store.createTag(snowflake('clock'));
      await expect(store.allocate('clock', 1, false)).rejects.toMatchObject({
        code: 'WRONG_MODE',
        message: "tag 'clock' is a snowflake-mode tag; this needs a segment tag",
      });
    });

    it("names the tag's mode in the WRONG_MODE refusal (the allocator learns it from there)", async () => {
      await store.createTag(snowflake('clock'));
      await expect(store.allocate('clock', 1, false)).rejects.toMatchObject({
        code: 'WRONG_MODE',
        details: { tag: 'clock', mode: 'snowflake' },
      });
    });

    it('refuses a malformed count with INTERNAL, writing nothing', async () => {
      await store.createTag(segmentTag('order'));
      const before = await h.fields('order');
      for (const count of [-1, 1.5, 2 ** 52 + 1]) {
        await expect(store.allocate('order', count, false)).rejects.toMatchObject({
          code: 'INTERNAL',
        });
      }
      expect(await h.fields('order')).toEqual(before);
    });

    it('never grants one ID twice to concurrent callers', async () => {
      await store.createTag(segmentTag('order'));
      const grants = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.allocate('order', 1 + (i % 7), false)),
      );
      const sorted = grants.map(range).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
      let expected = 1n;
      for (const [start, end] of sorted) {
        expect(start).toBe(expected);
        expected = end! + 1n;
      }
      expect((await h.fields('order')).next).toBe(String(expected));
    });
  });

  describe('raiseFloor', () => {
    it('raises a lower next and leaves a higher one: it never lowers', async () => {
      await store.createTag(segmentTag('order', { start: 100n }));
      await store.raiseFloor('order', 50n);
      expect((await h.fields('order')).next).toBe('100');
      await store.raiseFloor('order', 900n);
      expect((await h.fields('order')).next).toBe('900');
      expect(await store.allocate('order', 1, false)).toMatchObject({ start: 900n });
    });

    it('refuses TAG_NOT_FOUND for a tombstone, leaving it as it was', async () => {
      await store.createTag(segmentTag('gone'));
      await store.deleteTag('gone');
      await expect(store.raiseFloor('gone', 10n)).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      expect((await h.fields('gone')).next).toBe('1');
    });
  });

  describe('createTag', () => {
    it('stores every setting and created_at', async () => {
      const { tag, raisedByTombstone } = await store.createTag({
        ...segmentTag('order', { step: 500, start: 42n, max: 10_000n, gap: 7000n }),
        description: 'Orders',
      });
      expect(raisedByTombstone).toBe(false);
      const expected = {
        name: 'order',
        mode: 'segment',
        step: 500,
        max: 10_000n,
        gap: 7000n,
        description: 'Orders',
        createdAt: NOW,
        next: 42n,
        first: 42n,
        shape: { kind: 'plain' },
        regions: 1,
      };
      expect(tag).toEqual(expected);
      expect(await store.getTag('order')).toEqual(expected);
      expect(await h.fields('order')).toEqual({
        mode: 'segment',
        next: '42',
        step: '500',
        max: '10000',
        gap: '7000',
        description: 'Orders',
        created_at: String(NOW),
        // Plain, one region: no shape fields, as before shapes; the first counter value.
        first: '42',
      });
    });

    it('refuses TAG_EXISTS for a live tag of either mode, leaving it as it was', async () => {
      await store.createTag(segmentTag('order', { start: 5n }));
      await store.allocate('order', 10, false);
      const before = await h.fields('order');
      await expect(store.createTag(segmentTag('order'))).rejects.toMatchObject({
        code: 'TAG_EXISTS',
        message: "tag 'order' already exists",
      });
      await expect(store.createTag(snowflake('order'))).rejects.toMatchObject({
        code: 'TAG_EXISTS',
      });
      expect(await h.fields('order')).toEqual(before);
    });

    it('starts above a deleted tag of the same name, and says so', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 1000, false);
      await store.deleteTag('order');
      const again = await store.createTag(segmentTag('order', { start: 1n }));
      expect(again).toMatchObject({ raisedByTombstone: true, tag: { next: 1001n } });
      expect(await store.allocate('order', 1, false)).toMatchObject({ start: 1001n });
      expect((await h.fields('order')).deleted_at).toBeUndefined();
    });

    it('keeps a start above the tombstone as given', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 10, false);
      await store.deleteTag('order');
      const again = await store.createTag(segmentTag('order', { start: 5000n }));
      expect(again).toMatchObject({ raisedByTombstone: false, tag: { next: 5000n } });
    });

    it('refuses when the tombstone already passes max, writing nothing; max at it leaves one ID', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 500, false);
      await store.deleteTag('order');
      const tombstone = await h.fields('order');
      await expect(
        store.createTag(segmentTag('order', { start: 1n, max: 500n })),
      ).rejects.toMatchObject({
        code: 'REFUSED',
        message:
          "max 500 for tag 'order' is below IDs already issued (next ID is 501, left by a deleted tag of this name)",
      });
      expect(await h.fields('order')).toEqual(tombstone);
      const ok = await store.createTag(segmentTag('order', { start: 1n, max: 501n }));
      expect(ok.tag.next).toBe(501n);
      expect(range(await store.allocate('order', 5, false))).toEqual([501n, 501n]);
    });

    it('creates a snowflake tag without a counter', async () => {
      const { tag } = await store.createTag(snowflake('clock'));
      expect(tag).toMatchObject({ name: 'clock', mode: 'snowflake' });
      expect(tag.next).toBeUndefined();
      expect((await h.fields('clock')).next).toBeUndefined();
    });

    it('passes a tombstone through a snowflake tag of the same name', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 700, false);
      await store.deleteTag('order');
      const clock = await store.createTag(snowflake('order'));
      expect(clock.tag.next).toBeUndefined();
      expect((await h.fields('order')).next).toBe('701');
      await store.deleteTag('order');
      const again = await store.createTag(segmentTag('order'));
      expect(again).toMatchObject({ raisedByTombstone: true, tag: { next: 701n } });
    });

    it('checks the settings before writing anything', async () => {
      for (const bad of [
        segmentTag('order', { start: 10n, max: 10n }),
        segmentTag('order', { step: 0 }),
        segmentTag('order', { gap: -1n }),
        segmentTag('order', { max: MAX_ID + 1n }),
        segmentTag('bad name'),
      ]) {
        await expect(store.createTag(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      expect(await h.fields('order')).toEqual({});
    });
  });

  describe('getTag and listTags', () => {
    it('list live tags of both modes by name, never tombstones', async () => {
      await store.createTag(segmentTag('zeta'));
      await store.createTag(snowflake('alpha'));
      await store.createTag(segmentTag('mid'));
      await store.createTag(segmentTag('gone'));
      await store.deleteTag('gone');
      const tags = await store.listTags();
      expect(tags.map((t) => [t.name, t.mode])).toEqual([
        ['alpha', 'snowflake'],
        ['mid', 'segment'],
        ['zeta', 'segment'],
      ]);
      expect(tags[1]).toEqual(await store.getTag('mid'));
      expect(await store.getTag('gone')).toBeUndefined();
      expect(await store.getTag('ghost')).toBeUndefined();
    });
  });

  describe('updateTag', () => {
    it('changes each field alone, leaving the others and the counter', async () => {
      await store.createTag(segmentTag('order', { step: 1000, max: 1_000_000n, gap: 100n }));
      await store.allocate('order', 10, false);
      expect(await store.updateTag('order', { step: 50 })).toMatchObject({ step: 50 });
      expect(await store.updateTag('order', { max: 20_000n })).toMatchObject({ max: 20_000n });
      expect(await store.updateTag('order', { gap: 0n })).toMatchObject({ gap: 0n });
      const last = await store.updateTag('order', { description: 'Orders, v2' });
      expect(last).toEqual({
        name: 'order',
        mode: 'segment',
        step: 50,
        max: 20_000n,
        gap: 0n,
        description: 'Orders, v2',
        createdAt: NOW,
        next: 11n,
        first: 1n,
        shape: { kind: 'plain' },
        regions: 1,
      });
      expect(await store.getTag('order')).toEqual(last);
    });

    it('changes several fields at once, and the next grant follows them', async () => {
      await store.createTag(segmentTag('order'));
      await store.updateTag('order', { step: 7, max: 20n, description: 'x' });
      expect(await store.allocate('order', 0, false)).toEqual({
        start: 1n,
        end: 7n,
        step: 7,
        max: 20n,
        bumped: false,
        incarnation: expect.any(String),
        skipped: 0n,
        shape: { kind: 'plain' },
        regions: 1,
      });
    });

    it('allows max down to next - 1 (exhausted), and refuses below it, writing nothing', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 100, false);
      const before = await h.fields('order');
      await expect(store.updateTag('order', { max: 99n, step: 5 })).rejects.toMatchObject({
        code: 'REFUSED',
        message: "max 99 for tag 'order' is below IDs already issued (next ID is 101)",
      });
      expect(await h.fields('order')).toEqual(before);
      expect(await store.updateTag('order', { max: 100n })).toMatchObject({ max: 100n });
      await expect(store.allocate('order', 1, false)).rejects.toMatchObject({
        code: 'TAG_EXHAUSTED',
      });
    });

    it('refuses step, max or gap of a snowflake tag with WRONG_MODE; description is fine', async () => {
      await store.createTag(snowflake('clock'));
      for (const changes of [
        { step: 5 },
        { max: 10n },
        { gap: 1n },
        { description: 'a', step: 5 },
      ]) {
        await expect(store.updateTag('clock', changes)).rejects.toMatchObject({
          code: 'WRONG_MODE',
        });
      }
      expect((await h.fields('clock')).description).toBe('');
      expect(await store.updateTag('clock', { description: 'time-ordered' })).toMatchObject({
        mode: 'snowflake',
        description: 'time-ordered',
      });
    });

    it('refuses TAG_NOT_FOUND for a missing tag and a tombstone, creating nothing', async () => {
      await expect(store.updateTag('ghost', { step: 5 })).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      await expect(store.updateTag('ghost', {})).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      expect(await h.fields('ghost')).toEqual({});
      await store.createTag(segmentTag('gone'));
      await store.deleteTag('gone');
      await expect(store.updateTag('gone', { description: 'back?' })).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      expect(await h.fields('gone')).toMatchObject({ next: '1', deleted_at: String(NOW) });
    });

    it('refuses a max with INTERNAL when next is damaged', async () => {
      await store.createTag(segmentTag('order'));
      await h.damage('order', 'next missing');
      await expect(store.updateTag('order', { max: 500n })).rejects.toMatchObject({
        code: 'INTERNAL',
      });
      expect((await h.fields('order')).max).toBe(String(MAX_ID));
    });

    it('checks the changes before writing anything', async () => {
      await store.createTag(segmentTag('order'));
      const before = await h.fields('order');
      for (const changes of [{ step: 0 }, { gap: -1n }, { max: MAX_ID + 1n }]) {
        await expect(store.updateTag('order', changes)).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      expect(await h.fields('order')).toEqual(before);
    });
  });

  describe('bumpTag', () => {
    it("'to' raises next, and the next grant starts there; 'to' next changes nothing", async () => {
      await store.createTag(segmentTag('order'));
      expect(await store.bumpTag('order', 'to', 5000n)).toEqual({
        previous: 1n,
        next: 5000n,
        clamped: false,
      });
      expect(await store.bumpTag('order', 'to', 5000n)).toEqual({
        previous: 5000n,
        next: 5000n,
        clamped: false,
      });
      expect(await store.allocate('order', 1, false)).toMatchObject({ start: 5000n });
    });

    it("'by' adds exactly, also near 2^63, and clamps at max + 1", async () => {
      await store.createTag(segmentTag('order', { start: 9223372036854770000n }));
      expect(await store.bumpTag('order', 'by', 5007n)).toEqual({
        previous: 9223372036854770000n,
        next: 9223372036854775007n,
        clamped: false,
      });
      expect(await store.bumpTag('order', 'by', 12_345n)).toEqual({
        previous: 9223372036854775007n,
        next: MAX_ID + 1n,
        clamped: true,
      });
      expect((await h.fields('order')).next).toBe('9223372036854775808');
      await store.createTag(segmentTag('small'));
      expect(await store.bumpTag('small', 'by', 2n ** 52n)).toEqual({
        previous: 1n,
        next: 2n ** 52n + 1n,
        clamped: false,
      });
    });

    it('refuses to lower next (WOULD_LOWER), naming both, writing nothing', async () => {
      await store.createTag(segmentTag('order'));
      await store.allocate('order', 1000, false);
      await expect(store.bumpTag('order', 'to', 10n)).rejects.toMatchObject({
        code: 'REFUSED',
        message: "bump would lower tag 'order': its next ID is 1001, above 10; bump only raises",
      });
      expect((await h.fields('order')).next).toBe('1001');
    });

    it('stops at max + 1 and says clamped: the tag is then exhausted', async () => {
      await store.createTag(segmentTag('order', { max: 1000n }));
      expect(await store.bumpTag('order', 'to', 5000n)).toEqual({
        previous: 1n,
        next: 1001n,
        clamped: true,
      });
      await expect(store.allocate('order', 1, false)).rejects.toMatchObject({
        code: 'TAG_EXHAUSTED',
      });
      expect(await store.bumpTag('order', 'by', 1n)).toEqual({
        previous: 1001n,
        next: 1001n,
        clamped: true,
      });
    });

    it('refuses TAG_NOT_FOUND, INTERNAL (damaged) and WRONG_MODE (snowflake)', async () => {
      await expect(store.bumpTag('ghost', 'by', 10n)).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
      });
      expect(await h.fields('ghost')).toEqual({});
      await store.createTag(segmentTag('order'));
      await h.damage('order', 'next not a number');
      await expect(store.bumpTag('order', 'by', 1n)).rejects.toMatchObject({ code: 'INTERNAL' });
      expect((await h.fields('order')).next).toBe('12abc');
      await store.createTag(snowflake('clock'));
      await expect(store.bumpTag('clock', 'to', 10n)).rejects.toMatchObject({
        code: 'WRONG_MODE',
      });
    });

    it('checks the value before writing anything', async () => {
      await store.createTag(segmentTag('order'));
      for (const [how, value] of [
        ['by', 0n],
        ['by', 2n ** 52n + 1n],
        ['to', -1n],
        ['to', MAX_ID + 1n],
      ] as const) {
        await expect(store.bumpTag('order', how, value)).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      expect((await h.fields('order')).next).toBe('1');
    });
  });

  describe('deleteTag', () => {
    it('leaves a tombstone of a segment tag keeping its next', async () => {
      await store.createTag(segmentTag('order', { start: 10n }));
      await store.allocate('order', 90, false);
      await store.deleteTag('order');
      expect(await h.fields('order')).toMatchObject({ next: '100', deleted_at: String(NOW) });
      expect(await store.getTag('order')).toBeUndefined();
      expect(await store.listTags()).toEqual([]);
    });

    it('leaves nothing of a snowflake tag', async () => {
      await store.createTag(snowflake('clock'));
      await store.deleteTag('clock');
      expect(await h.fields('clock')).toEqual({});
    });

    it('refuses TAG_NOT_FOUND for a missing tag and a second delete, keeping the tombstone', async () => {
      await expect(store.deleteTag('ghost')).rejects.toMatchObject({
        code: 'TAG_NOT_FOUND',
        message: "tag 'ghost' does not exist",
      });
      await store.createTag(segmentTag('order'));
      await store.deleteTag('order');
      const tombstone = await h.fields('order');
      await expect(store.deleteTag('order')).rejects.toMatchObject({ code: 'TAG_NOT_FOUND' });
      expect(await h.fields('order')).toEqual(tombstone);
    });
  });

  describe('ping, close and kind', () => {
    it(`answers ping while open and not once closed, and is of kind '${backend.kind}'`, async () => {
      expect(store.kind).toBe(backend.kind);
      expect(await store.ping()).toBe(true);
      await store.close();
      expect(await store.ping()).toBe(false);
    });
  });
});

// ── snowflake worker leases ─────────────────────────────────────────────────────────

const LEASE = 30_000;
const AHEAD = 29_000;
const MARGIN = 30_000;
/** The claimant's clock in these cases (Unix ms). */
const T = Date.UTC(2025, 0, 1);

interface LeaseHarness {
  readonly leases: WorkerLeaseStore;
  /** The horizon of a worker ID as stored: h and floor, or undefined for none. */
  horizon(id: number): Promise<{ h: number; floor?: number } | undefined>;
  /** Makes the lease on `id` run out, as time passing on the store's clock would. */
  expire(id: number): Promise<void>;
  /** Deletes the horizon, as a wiped or replaced store would. */
  dropHorizon(id: number): Promise<void>;
  /** Puts a horizon these stores never write. */
  damageHorizon(id: number): Promise<void>;
  close(): Promise<void>;
}

interface LeaseBackend {
  readonly name: string;
  /**
   * How far above now a worker ID with no horizon is fenced: the margin on Redis, where a
   * missing horizon may be a lost one; 0 on the embedded store, whose file commits every
   * horizon with synchronous=FULL, so no horizon means no holder ever used the ID there.
   */
  readonly freshMargin: number;
  open(): LeaseHarness;
}

const redisLeases: LeaseBackend = {
  name: 'RedisWorkerLeaseStore',
  freshMargin: MARGIN,
  open() {
    const raw = createRedisClient({ kind: 'redis', url: inject('redisUrl') }, 'general') as Redis;
    const keys = createKeys(testPrefix());
    return {
      leases: new RedisWorkerLeaseStore(raw, keys),
      async horizon(id) {
        const f = await raw.hgetall(keys.workerHorizon(id));
        if (f.h === undefined) return undefined;
        return { h: Number(f.h), ...(f.floor === undefined ? {} : { floor: Number(f.floor) }) };
      },
      async expire(id) {
        await raw.del(keys.worker(id));
      },
      async dropHorizon(id) {
        await raw.del(keys.workerHorizon(id));
      },
      async damageHorizon(id) {
        await raw.hset(keys.workerHorizon(id), 'h', 'soon');
      },
      async close() {
        await raw.quit();
      },
    };
  },
};

const embeddedLeases: LeaseBackend = {
  name: 'EmbeddedWorkerLeaseStore',
  // The next millisecond: a process on a deleted file may still mint in this one.
  freshMargin: 1,
  open() {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-contract-'));
    let storeNow = Date.now();
    const store = new EmbeddedStore({ dataDir, now: () => storeNow });
    const raw = new DatabaseSync(store.path);
    raw.exec('PRAGMA busy_timeout = 5000');
    const select = raw.prepare('SELECT h, floor FROM worker_horizons WHERE id = ?');
    return {
      leases: store.workerLeases(),
      async horizon(id) {
        const row = select.get(id);
        if (!row) return undefined;
        return { h: Number(row.h), ...(row.floor === null ? {} : { floor: Number(row.floor) }) };
      },
      async expire() {
        storeNow += LEASE + 1;
      },
      async dropHorizon(id) {
        raw.prepare('DELETE FROM worker_horizons WHERE id = ?').run(id);
      },
      async damageHorizon(id) {
        raw
          .prepare('INSERT OR REPLACE INTO worker_horizons (id, h, floor) VALUES (?, ?, NULL)')
          .run(id, 'soon');
      },
      async close() {
        await store.close();
        raw.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

describe.each([redisLeases, embeddedLeases])('WorkerLeaseStore contract: $name', (backend) => {
  let h: LeaseHarness;
  let leases: WorkerLeaseStore;
  beforeEach(() => {
    h = backend.open();
    leases = h.leases;
  });
  afterEach(() => h.close());
  const FRESH = backend.freshMargin;

  const claim = (token: string, maxWaitMs = 10 ** 12, now = T, id = 7) =>
    leases.claim(id, {
      token,
      leaseMs: LEASE,
      now,
      aheadMs: AHEAD,
      marginMs: MARGIN,
      maxWaitMs,
    });
  /** A renewal by a holder whose floor is `floor` (by default, a first claim's at T). */
  const renew = (token: string, target: number, now = T, id = 7, floor = T + FRESH) =>
    leases.renew(id, { token, leaseMs: LEASE, now, target, marginMs: MARGIN, floor });

  it(`leases a fresh worker ID at now + ${backend.freshMargin} ms (its fresh margin)`, async () => {
    expect(await leases.inspect([7], T, MARGIN)).toEqual([
      { id: 7, state: 'free', floor: T + FRESH },
    ]);
    expect(await claim('a')).toEqual({
      kind: 'claimed',
      incarnation: expect.any(String),
      floor: T + FRESH,
      horizon: Math.max(T + FRESH, T + AHEAD),
      margin: FRESH === MARGIN,
    });
    expect(await leases.inspect([7, 8], T, MARGIN)).toEqual([
      { id: 7, state: 'held' },
      { id: 8, state: 'free', floor: T + FRESH },
    ]);
    expect(await h.horizon(7)).toEqual({ h: Math.max(T + FRESH, T + AHEAD), floor: T + FRESH });
  });

  it('refuses a held worker ID to anyone, its holder included, changing nothing', async () => {
    await claim('a');
    const before = await h.horizon(7);
    expect(await claim('b')).toEqual({ kind: 'taken' });
    expect(await claim('a')).toEqual({ kind: 'taken' });
    expect(await h.horizon(7)).toEqual(before);
  });

  it('refuses (fenced) when the floor lies beyond the wait allowed, writing nothing', async () => {
    await claim('a');
    const settled = T + FRESH + 40_000;
    expect(await leases.release(7, 'a', settled)).toBe('released');
    const before = await h.horizon(7);
    expect(await claim('b', settled - T)).toEqual({ kind: 'fenced' });
    expect(await h.horizon(7)).toEqual(before);
    expect(await leases.inspect([7], T, MARGIN)).toEqual([
      { id: 7, state: 'free', floor: settled + 1 },
    ]);
    expect(await claim('b', settled + 1 - T)).toMatchObject({
      kind: 'claimed',
      floor: settled + 1,
    });
  });

  it('renews for the holder only, raising the horizon and never lowering it', async () => {
    await claim('a');
    expect(await renew('b', T + 50_000)).toEqual({ kind: 'lost' });
    expect(await renew('a', T + 50_000)).toEqual({
      kind: 'renewed',
      incarnation: expect.any(String),
      horizon: T + 50_000,
      floor: undefined,
    });
    expect(await renew('a', T + 10)).toEqual({
      kind: 'renewed',
      incarnation: expect.any(String),
      horizon: T + 50_000,
      floor: undefined,
    });
    expect(await h.horizon(7)).toEqual({ h: T + 50_000, floor: T + FRESH });
  });

  it('re-fences a renewal above now + margin when the horizon is gone', async () => {
    await claim('a');
    await h.dropHorizon(7);
    expect(await renew('a', T + 1000, T + 5)).toEqual({
      kind: 'renewed',
      incarnation: expect.any(String),
      horizon: T + 5 + MARGIN,
      floor: T + 5 + MARGIN,
    });
    expect(await h.horizon(7)).toEqual({ h: T + 5 + MARGIN, floor: T + 5 + MARGIN });
  });

  it('hands a re-fence its holder did not take up to its next renewal, and only once', async () => {
    await claim('a');
    await h.dropHorizon(7);
    const floor = T + 5 + MARGIN;
    expect(await renew('a', T + 1000, T + 5)).toMatchObject({ floor });
    // The answer never reached the holder (a replication ack that failed after it, a
    // reply lost with its connection): it renews again from its old floor.
    for (const now of [T + 10, T + 20]) {
      expect(await renew('a', T + 2000, now)).toEqual({
        kind: 'renewed',
        incarnation: expect.any(String),
        horizon: floor,
        floor,
      });
    }
    // Taken up: a plain renewal again.
    expect(await renew('a', floor + 3000, T + 30, 7, floor)).toEqual({
      kind: 'renewed',
      incarnation: expect.any(String),
      horizon: floor + 3000,
      floor: undefined,
    });
    expect(await h.horizon(7)).toEqual({ h: floor + 3000, floor });
  });

  it('releases for the holder only, settling the horizon; the next holder starts right above', async () => {
    const first = await claim('a');
    const floor = T + FRESH;
    expect(first).toMatchObject({ floor });
    expect(await leases.release(7, 'b', floor + 1234)).toBe('lost');
    expect(await leases.release(7, 'a', floor + 1234)).toBe('released');
    expect(await h.horizon(7)).toEqual({ h: floor + 1234, floor });
    expect(await leases.release(7, 'a', floor + 1234)).toBe('lost');
    expect(await leases.inspect([7], floor + 2000, MARGIN)).toEqual([
      { id: 7, state: 'free', floor: floor + 1235 },
    ]);
    expect(await claim('b', 0, floor + 2000)).toEqual({
      kind: 'claimed',
      incarnation: expect.any(String),
      floor: floor + 1235,
      horizon: floor + 2000 + AHEAD,
      margin: false,
    });
  });

  it('never settles a release below floor - 1, which covers every earlier holder', async () => {
    await claim('a');
    expect(await leases.release(7, 'a', 0)).toBe('released');
    expect(await h.horizon(7)).toMatchObject({ h: T + FRESH - 1 });
    expect(await claim('b', FRESH)).toMatchObject({ kind: 'claimed', floor: T + FRESH });
  });

  it('frees an expired lease: a new holder starts above its horizon, the old one has lost it', async () => {
    await claim('a');
    await renew('a', T + 40_000);
    await h.expire(7);
    expect(await leases.inspect([7], T, MARGIN)).toEqual([
      { id: 7, state: 'free', floor: T + 40_001 },
    ]);
    expect(await claim('b')).toMatchObject({ kind: 'claimed', floor: T + 40_001, margin: false });
    expect(await renew('a', T + 50_000)).toEqual({ kind: 'lost' });
    expect(await leases.release(7, 'a', T)).toBe('lost');
    expect(await renew('b', T + 50_000, T, 7, T + 40_001)).toEqual({
      kind: 'renewed',
      incarnation: expect.any(String),
      horizon: T + 50_000,
      floor: undefined,
    });
  });

  it('refuses a horizon it did not write (damaged), taking no lease', async () => {
    await h.damageHorizon(7);
    expect(await leases.inspect([7], T, MARGIN)).toEqual([{ id: 7, state: 'damaged' }]);
    expect(await claim('a')).toEqual({ kind: 'damaged' });
    expect(await leases.inspect([7], T, MARGIN)).toEqual([{ id: 7, state: 'damaged' }]);
  });
});
