/**
 * docs/design.md §8.4 regression fence: someone lowers a tag's `next` behind the node's back
 * (`HSET … next 1`: a bad restore, a hand edit). The node refuses the grant that falls
 * at or below the highest ID it was given, counts it, raises the counter above its mark,
 * fetches again — and serves no ID twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger } from '../support/ledger.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { withClient } from '../support/wait.js';

let server: RedisServer;
let store: RedisStore;

beforeAll(async () => {
  server = await RedisServer.start();
  store = storeOn(standalone(server.port));
  await store.createTag(segmentTag('order', { step: 100 }));
});
afterAll(async () => {
  await store.close();
  await server.dispose();
});

describe('a counter lowered behind the node’s back', () => {
  it('is refused by the regression fence, counted, raised, and no ID repeats', async () => {
    const served = new IdLedger();
    const regressions: string[] = [];
    const outcomes: string[] = [];
    const trail = new GrantLogs();
    const ids = createAllocator({
      grants: trail.node('node-a'),
      store,
      observer: {
        storeRegression: (tag) => regressions.push(tag),
        segmentFetched: (_tag, outcome) => outcomes.push(outcome),
      },
      segment: { maxStep: 100 },
    });
    try {
      for (let i = 0; i < 350; i++) served.add('order', await ids.next('order'));
      const mark = ids.segmentState('order')!.highWater!;
      const servedBefore = served.max('order')!;
      expect(mark).toBeGreaterThanOrEqual(servedBefore);

      await withClient(server.port, (c) => c.hset(store.keys.tag('order'), 'next', '1'));

      let lowestAfter: bigint | undefined;
      for (let i = 0; i < 600; i++) {
        const id = await ids.next('order');
        if (lowestAfter === undefined || id < lowestAfter) lowestAfter = id;
        served.add('order', id);
      }
      // The lowered counter's range (1..100) never reached a caller.
      expect(lowestAfter).toBeGreaterThan(servedBefore);
      expect(served.max('order')).toBeGreaterThan(mark);
      expect(regressions).toEqual(['order']);
      expect(outcomes).toContain('discarded');
      expect((await store.getTag('order'))!.next).toBeGreaterThan(served.max('order')!);
    } finally {
      await ids.close();
    }
    expect(served.overlaps()).toEqual([]);
    expect(served.count()).toBe(950n);
    // The grant log shows the refused grant as a fence, and no accepted grant twice.
    const report = trail.expectNoOverlaps(3);
    const t = report.tags.find((x) => x.tag === 'order')!;
    expect(BigInt(t.skipped.fence)).toBeGreaterThan(0n);
  });
});
