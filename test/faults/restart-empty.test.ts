/**
 * SPEC §8.2 fail closed: Redis restarted without its data forgets every counter. No
 * allocation may then start a tag again from 1: every one is refused (TAG_NOT_FOUND)
 * until the operator restores the tags above a floor, as `tag create` + `tag bump` do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger, recordingStore } from '../support/ledger.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';

let server: RedisServer;
let store: RedisStore;
const served = new IdLedger();
const granted = new IdLedger();
const trail = new GrantLogs();

beforeAll(async () => {
  server = await RedisServer.start(); // --save '' --appendonly no: nothing survives
  store = storeOn(standalone(server.port), { readyTimeoutMs: 2000 });
});
afterAll(async () => {
  await store.close();
  await server.dispose();
});

async function errorOf(p: Promise<unknown> | unknown): Promise<IdAllocError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof IdAllocError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('Redis restarted empty', () => {
  it('refuses every allocation until the tags are restored above a floor, and never repeats an ID', async () => {
    for (const t of ['order', 'invoice']) await store.createTag(segmentTag(t, { step: 100 }));
    // Real time, plus a skew the test moves forward past the node's refusal hold.
    let skew = 0;
    const ids = createAllocator({
      clock: { now: () => Date.now() + skew },
      store: recordingStore(store, (tag, g) => granted.addRange(tag, g.start, g.end)),
      segment: { refusalHoldMs: 20, retryBaseMs: 20, retryMaxMs: 200, fetchTimeoutMs: 3000 },
      grants: trail.node('node-a'),
    });
    try {
      for (let i = 0; i < 250; i++) {
        for (const t of ['order', 'invoice']) served.add(t, await ids.next(t));
      }

      await server.kill('SIGKILL');
      await server.start(); // same port, no data

      // The store refuses; nothing is invented.
      for (const t of ['order', 'invoice']) {
        expect((await errorOf(store.allocate(t, 100, false))).code).toBe(ErrorCode.TAG_NOT_FOUND);
      }
      // The node serves what it holds, then passes the refusal on, never an ID from 1.
      const refusals = new Map<string, IdAllocError>();
      for (const t of ['order', 'invoice']) {
        for (let i = 0; i < 1000 && !refusals.has(t); i++) {
          try {
            served.add(t, await ids.next(t));
          } catch (err) {
            if (!(err instanceof IdAllocError)) throw err;
            refusals.set(t, err);
          }
        }
      }
      expect([...refusals.values()].map((e) => e.code)).toEqual([
        ErrorCode.TAG_NOT_FOUND,
        ErrorCode.TAG_NOT_FOUND,
      ]);
      expect(served.overlaps()).toEqual([]);

      // Restore as the admin script would: create, then bump above everything granted.
      const orderFloor = granted.max('order')! + 1n;
      const invoiceBefore = granted.max('invoice')!;
      expect(invoiceBefore).toBeLessThan(1_000_000n);
      await store.createTag(segmentTag('order', { step: 100 }));
      await store.bumpTag('order', 'to', orderFloor);
      await store.createTag(segmentTag('invoice', { step: 100 }));
      await store.bumpTag('invoice', 'by', 1_000_000n); // `tag bump --all --by N`
      skew += 1000; // the node asks again once its refusal hold (20 ms) is over

      const firstOrder = await ids.next('order');
      const firstInvoice = await ids.next('invoice');
      expect(firstOrder).toBe(orderFloor);
      expect(firstInvoice).toBe(1_000_001n); // 1 + 1 000 000, above all granted before
      served.add('order', firstOrder);
      served.add('invoice', firstInvoice);
      for (let i = 0; i < 300; i++) {
        for (const t of ['order', 'invoice']) served.add(t, await ids.next(t));
      }
    } finally {
      await ids.close();
    }
    expect(served.count()).toBeGreaterThanOrEqual(1100n);
    expect(served.overlaps()).toEqual([]);
    expect(granted.overlaps()).toEqual([]);
    // The grant log says the same; the restore's bump is a gap no node explains.
    const report = trail.expectNoOverlaps(4);
    const invoice = report.tags.find((t) => t.tag === 'invoice')!;
    expect(BigInt(invoice.gapCauses.unexplained)).toBeGreaterThanOrEqual(1_000_000n - 1000n);
  });
});
