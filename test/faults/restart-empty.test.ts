/**
 * docs/design.md §8.2 fail closed: Redis restarted without its data forgets every counter. No
 * allocation may then start a tag again from 1: every one is refused (TAG_NOT_FOUND)
 * until the operator restores the tags from an export (`tag import`, README "Recovery
 * procedures"), which puts each above the exported next plus a gap in one atomic step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { importTarget } from '../../src/store/transfer.js';
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
      for (let i = 0; i < 150; i++) {
        for (const t of ['order', 'invoice']) served.add(t, await ids.next(t));
      }

      const backup = await store.exportTags(); // `tag export`, taken before the loss
      for (let i = 0; i < 100; i++) {
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

      // Restore as `tag import` does: each tag at its exported next + its own gap (10^9),
      // which must cover what the node took since the export: up to 2 × MAX_STEP (10^6).
      const grantedBefore = new Map(['order', 'invoice'].map((t) => [t, granted.max(t)!]));
      const exportedNext = new Map<string, bigint>();
      for (const r of backup.records) {
        if (r.state === 'live' && r.tag.next !== undefined)
          exportedNext.set(r.tag.name, r.tag.next);
        const gap = r.state === 'live' && r.tag.mode === 'segment' ? r.tag.gap : 0n;
        const result = await store.importTag(r, importTarget(r, gap), false);
        expect(result.outcome).toBe('created');
      }
      skew += 1000; // the node asks again once its refusal hold (20 ms) is over

      const firstOrder = await ids.next('order');
      const firstInvoice = await ids.next('invoice');
      expect(firstOrder).toBe(exportedNext.get('order')! + 1_000_000_000n);
      expect(firstInvoice).toBe(exportedNext.get('invoice')! + 1_000_000_000n);
      // Above every ID granted before the loss, those after the export included.
      expect(firstOrder).toBeGreaterThan(grantedBefore.get('order')!);
      expect(firstInvoice).toBeGreaterThan(grantedBefore.get('invoice')!);
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
