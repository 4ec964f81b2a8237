/**
 * docs/design.md §8.3 on a node: with REDIS_MIN_REPLICAS=1 and the only replica stopped, every
 * fetched segment is discarded (fetch outcome `discarded`), none of its IDs is served,
 * the node runs dry to UNAVAILABLE, and recovers by itself once the replica is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger } from '../support/ledger.js';
import { startReplicated, type ReplicatedSet } from '../support/replication.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { waitUntil } from '../support/wait.js';

let set: ReplicatedSet;
let store: RedisStore;

beforeAll(async () => {
  set = await startReplicated({ replicas: 1 });
  store = storeOn(standalone(set.master.port), { minReplicas: 1, waitTimeoutMs: 500 });
  await store.createTag(segmentTag('order', { step: 50 }));
});
afterAll(async () => {
  await store.close();
  await set.dispose();
});

describe('a replication ack that cannot be satisfied', () => {
  it('discards every grant, serves none of its IDs, and recovers when the replica returns', async () => {
    const served = new IdLedger();
    const discarded = new IdLedger();
    const outcomes = { ok: 0, error: 0, discarded: 0 };
    const trail = new GrantLogs();
    const ids = createAllocator({
      grants: trail.node('node-a'),
      // Spy on the store: remember each discarded range the store reports.
      store: new Proxy(store, {
        get(target, prop, receiver) {
          if (prop !== 'allocate') {
            const v: unknown = Reflect.get(target, prop, receiver);
            return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
          }
          return async (tag: string, count: number, exact: boolean) => {
            try {
              return await target.allocate(tag, count, exact);
            } catch (err) {
              if (err instanceof IdAllocError && err.details.discarded === true) {
                discarded.addRange(
                  tag,
                  BigInt(String(err.details.start)),
                  BigInt(String(err.details.end)),
                );
              }
              throw err;
            }
          };
        },
      }),
      observer: {
        segmentFetched: (_tag, outcome) => {
          outcomes[outcome] += 1;
        },
      },
      segment: { fetchTimeoutMs: 2000, retryBaseMs: 20, retryMaxMs: 100, maxStep: 50 },
    });
    try {
      for (let i = 0; i < 120; i++) served.add('order', await ids.next('order'));
      expect(outcomes.discarded).toBe(0);

      await set.replicas[0]!.kill('SIGKILL');
      let unavailable: IdAllocError | undefined;
      for (let i = 0; i < 1000 && !unavailable; i++) {
        try {
          served.add('order', await ids.next('order'));
        } catch (err) {
          if (!(err instanceof IdAllocError)) throw err;
          unavailable = err;
        }
      }
      expect(unavailable?.code).toBe(ErrorCode.UNAVAILABLE);
      expect(outcomes.discarded).toBeGreaterThan(0);
      expect(discarded.count()).toBeGreaterThan(0n);

      await set.replicas[0]!.start();
      await set.waitInSync();
      await waitUntil(async () => {
        try {
          served.add('order', await ids.next('order'));
          return true;
        } catch {
          return false;
        }
      }, 'the node to serve again');
      for (let i = 0; i < 100; i++) served.add('order', await ids.next('order'));
    } finally {
      await ids.close();
    }
    // No discarded ID was served, and no ID twice.
    expect(new IdLedger().merge(served).merge(discarded).overlaps()).toEqual([]);
    expect(served.overlaps()).toEqual([]);
    expect(served.count()).toBeGreaterThanOrEqual(220n);
    // The grant log names every discarded range: audit counts exactly what was discarded.
    const report = trail.expectNoOverlaps(3);
    const order = report.tags.find((t) => t.tag === 'order')!;
    expect(order.skipped.discarded_grant).toBe(discarded.count().toString());
  });
});
