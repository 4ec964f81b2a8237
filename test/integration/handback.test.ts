/**
 * Hand-back on a clean stop against real stores (docs/design.md §5 "Hand-back"): the
 * compare-and-set of handback-1.lua and of the embedded store's transaction — taken when
 * the counter stands right after the caller's last grant and the store is the incarnation
 * that granted it, refused otherwise with nothing written — and two allocators on Redis:
 * the one that holds the last grant gives its tail back at close, the other does not, and
 * the audit of their grant logs with a third node's re-grant is clean.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, isIdAllocError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/store-ports.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';

interface Opened {
  readonly store: Store & Required<Pick<Store, 'handBack' | 'allocateKeyed'>>;
  close(): Promise<void>;
}

const backends: { name: string; open: () => Opened }[] = [
  {
    name: 'RedisStore',
    open: () => {
      const store = testStore(inject('redisUrl'));
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'EmbeddedStore',
    open: () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-handback-'));
      const store = new EmbeddedStore({ dataDir });
      return {
        store,
        close: async () => {
          await store.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.each(backends)('$name hand-back', ({ open }) => {
  let o: Opened;
  beforeAll(async () => {
    o = open();
    await o.store.createTag(segmentTag('t', { step: 100 }));
  });
  afterAll(() => o.close());

  const nextOf = async () => (await o.store.getTag('t'))!.next!;

  it('takes back the tail of the last grant: the next grant starts at the first ID returned', async () => {
    const g = await o.store.allocate('t', 0, false);
    const outcome = await o.store.handBack('t', {
      from: g.start + 30n,
      end: g.end,
      incarnation: g.incarnation!,
    });
    expect(outcome).toEqual({ returned: true });
    expect(await nextOf()).toBe(g.start + 30n);
    const again = await o.store.allocate('t', 0, false);
    expect(again.start).toBe(g.start + 30n);
    expect(again.bumped).toBe(false);
  });

  it('refuses, writing nothing, when something was granted after the grant', async () => {
    const g = await o.store.allocate('t', 0, false);
    const later = await o.store.allocate('t', 0, false);
    const outcome = await o.store.handBack('t', {
      from: g.start,
      end: g.end,
      incarnation: g.incarnation!,
    });
    expect(outcome).toEqual({ returned: false, reason: 'moved', now: String(later.end + 1n) });
    expect(await nextOf()).toBe(later.end + 1n);
  });

  it('refuses, writing nothing, a grant of another incarnation', async () => {
    const g = await o.store.allocate('t', 0, false);
    const outcome = await o.store.handBack('t', { from: g.start, end: g.end, incarnation: 'abc' });
    expect(outcome).toMatchObject({ returned: false, reason: 'incarnation' });
    expect(await nextOf()).toBe(g.end + 1n);
  });

  it("deletes a keyed grant's Idempotency-Key record with a hand-back taken, and only then", async () => {
    const record = (n: string) => createHash('sha256').update(n).digest('hex');
    const req = (r: string) => ({
      record: r,
      params: 'range:20',
      count: 20,
      region: 0,
      ttlMs: 60_000,
    });
    // Taken: the counter comes down and the key is spent (no replay of returned IDs).
    const g = await o.store.allocateKeyed('t', req(record('k1')));
    const back = {
      from: g.start + 5n,
      end: g.end,
      incarnation: g.incarnation!,
      record: record('k1'),
    };
    expect(await o.store.handBack('t', back)).toEqual({ returned: true });
    const after = await o.store.allocateKeyed('t', req(record('k1')));
    expect(after.replay).toBe(false);
    expect(after.start).toBe(g.start + 5n);
    // Refused (something granted after the lease): the record stays, the replay stands.
    const later = await o.store.allocate('t', 0, false);
    const refused = await o.store.handBack('t', {
      from: after.start,
      end: after.end,
      incarnation: after.incarnation!,
      record: record('k1'),
    });
    expect(refused).toEqual({ returned: false, reason: 'moved', now: String(later.end + 1n) });
    const replay = await o.store.allocateKeyed('t', req(record('k1')));
    expect(replay).toMatchObject({ replay: true, start: after.start, end: after.end });
    // Refused for the incarnation: the record stays too.
    const k2 = await o.store.allocateKeyed('t', req(record('k2')));
    const other = await o.store.handBack('t', {
      from: k2.start,
      end: k2.end,
      incarnation: 'abc',
      record: record('k2'),
    });
    expect(other).toMatchObject({ returned: false, reason: 'incarnation' });
    expect(await o.store.allocateKeyed('t', req(record('k2')))).toMatchObject({
      replay: true,
      start: k2.start,
    });
  });

  it("never lowers a deleted tag's tombstone", async () => {
    await o.store.createTag(segmentTag('gone', { step: 100 }));
    const g = await o.store.allocate('gone', 0, false);
    await o.store.deleteTag('gone');
    const err: unknown = await o.store
      .handBack('gone', { from: g.start, end: g.end, incarnation: g.incarnation! })
      .catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.TAG_NOT_FOUND)).toBe(true);
    await o.store.createTag(segmentTag('gone', { step: 100 }));
    expect((await o.store.allocate('gone', 0, false)).start).toBe(g.end + 1n);
  });
});

describe('hand-back after a Redis restart', () => {
  let server: RedisServer;
  let store: RedisStore;
  beforeAll(async () => {
    server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    store = testStore(server.url);
    await store.createTag(segmentTag('t', { step: 100, gap: 1000n }));
  });
  afterAll(async () => {
    await store?.close();
    await server?.dispose();
  });

  it('refuses a grant of the run_id before the restart: the IDs stay skipped', async () => {
    const g = await store.allocate('t', 0, false);
    await server.restart();
    const back = { from: g.start, end: g.end, incarnation: g.incarnation! };
    let outcome: unknown;
    for (let i = 0; i < 50 && outcome === undefined; i++) {
      outcome = await store.handBack('t', back).catch(async () => {
        await new Promise((r) => setTimeout(r, 100)); // the connection comes back
        return undefined;
      });
    }
    expect(outcome).toMatchObject({ returned: false, reason: 'incarnation' });
    expect((await store.getTag('t'))!.next).toBe(g.end + 1n);
  });
});

describe('two allocators on Redis, closing one after the other', () => {
  const stores: RedisStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('only the holder of the last grant gives back; a third node re-grants its IDs; audit clean', async () => {
    const url = inject('redisUrl');
    const setup = testStore(url);
    stores.push(setup);
    await setup.createTag(segmentTag('t', { step: 100 }));
    const logs = new GrantLogs();
    const node = (id: string) => {
      const store = testStore(url, setup.keys.prefix);
      stores.push(store);
      return createAllocator({ store, grants: logs.node(id) });
    };
    const a = node('a');
    const b = node('b');
    const served: bigint[] = [];
    for (let i = 0; i < 5; i++) served.push(await a.next('t')); // a: 1..100
    for (let i = 0; i < 5; i++) served.push(await b.next('t')); // b: 101..200, the last grant
    await a.close(); // 6..100 stay skipped: b was granted after
    await b.close(); // 106..200 go back
    expect((await setup.getTag('t'))!.next).toBe(106n);

    const c = node('c');
    for (let i = 0; i < 5; i++) served.push(await c.next('t'));
    await c.close();
    expect(served.slice(10)).toEqual([106n, 107n, 108n, 109n, 110n]);
    expect(new Set(served).size).toBe(served.length);

    const report = logs.expectNoOverlaps(3);
    const t = report.tags.find((x) => x.tag === 't')!;
    // b's 106..200 and c's 111..205 went back; a's 6..100 stay skipped.
    expect(t.handedBack).toBe('190');
    expect(t.handbacksIgnored).toBe(0);
    expect(t.skipped.shutdown_remainder).toBe('95');
    expect((await setup.getTag('t'))!.next).toBe(111n);
  });
});
