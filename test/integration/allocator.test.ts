import { afterEach, describe, expect, inject, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, isIdAllocError } from '../../src/core/errors.js';
import { createKeys } from '../../src/store/redis/keys.js';
import { Redis } from 'ioredis';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';

const url = inject('redisUrl');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

function node(prefix: string, options = {}) {
  const store = testStore(url, prefix);
  const alloc = createAllocator({ store, segment: { fetchTimeoutMs: 5000, ...options } });
  cleanup.push(async () => {
    await alloc.close();
    await store.close();
  });
  return { store, alloc };
}

function rawClient(): Redis {
  const c = new Redis(url);
  cleanup.push(async () => void (await c.quit()));
  return c;
}

async function take(alloc: ReturnType<typeof node>['alloc'], tag: string): Promise<bigint> {
  const r = alloc.next(tag);
  return typeof r === 'bigint' ? r : await r;
}

describe('segment allocator on Redis', () => {
  it('draws 200 000 IDs across 8 nodes concurrently: all unique, each node strictly increasing', async () => {
    const prefix = testPrefix();
    const nodes = Array.from({ length: 8 }, () => node(prefix));
    await nodes[0]!.store.createTag(segmentTag('order', { step: 1000 }));
    const perNode = 25_000;
    const drawn = await Promise.all(
      nodes.map(async ({ alloc }) => {
        const ids: bigint[] = [];
        while (ids.length < perNode) {
          // A mix of single IDs and batches, yielding now and then so nodes interleave.
          if (ids.length % 7 === 0) {
            const r = alloc.nextBatch('order', Math.min(50, perNode - ids.length));
            ids.push(...(Array.isArray(r) ? r : await r));
          } else {
            ids.push(await take(alloc, 'order'));
          }
          if (ids.length % 500 === 0) await new Promise((r) => setImmediate(r));
        }
        return ids;
      }),
    );
    const all = new Set<bigint>();
    for (const ids of drawn) {
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      for (const id of ids) all.add(id);
    }
    expect(all.size).toBe(8 * perNode);
  });

  it('starts a node on the tag configured step and serves a new tag at once', async () => {
    const { store, alloc } = node(testPrefix());
    await store.createTag(segmentTag('invoice', { step: 250, start: 1000n }));
    expect(await take(alloc, 'invoice')).toBe(1000n);
    expect(alloc.segmentState('invoice')?.current?.end).toBe(1249n);
    // A tag created while the node runs is usable at once.
    await expect(Promise.resolve(alloc.next('later'))).rejects.toMatchObject({
      code: ErrorCode.TAG_NOT_FOUND,
    });
    await store.createTag(segmentTag('later', { step: 10 }));
    expect(await take(alloc, 'later')).toBe(1n);
  });

  it('skips the safety gap before allocating when the stored run_id is another server', async () => {
    const prefix = testPrefix();
    const { store, alloc } = node(prefix);
    await store.createTag(segmentTag('order', { step: 100, gap: 1_000_000n }));
    expect(await take(alloc, 'order')).toBe(1n);
    await alloc.close();
    // As after a failover: the tag was last written by a server with another run_id.
    const raw = rawClient();
    await raw.hset(createKeys(prefix).tag('order'), 'run_id', 'f'.repeat(40));
    const fresh = node(prefix);
    const id = await take(fresh.alloc, 'order');
    // 2..100 went back at close (hand-back): the gap is skipped from there.
    expect(id).toBe(2n + 1_000_000n);
  });

  it('fails closed when the tag key is deleted under a running allocator', async () => {
    const prefix = testPrefix();
    const { store, alloc } = node(prefix);
    await store.createTag(segmentTag('order', { step: 10 }));
    const seen: bigint[] = [await take(alloc, 'order')];
    const raw = rawClient();
    await raw.del(createKeys(prefix).tag('order'));
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) {
      try {
        seen.push(await take(alloc, 'order'));
      } catch (err) {
        refusal = err;
      }
    }
    expect(isIdAllocError(refusal, ErrorCode.TAG_NOT_FOUND)).toBe(true);
    expect(new Set(seen.map(String)).size).toBe(seen.length);
    expect(await raw.exists(createKeys(prefix).tag('order'))).toBe(0); // no counter recreated
  });
});
