/**
 * A keyed grant the regression fence refuses must never be served later under the same
 * key: the node deletes its record before answering, and, should that fail, refuses the
 * record's replay itself (issue 20 with the fence of docs/design.md §8.4).
 */
import { describe, expect, it } from 'vitest';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import { ErrorCode } from '../../src/core/errors.js';
import type { Grant, KeyedGrant, KeyedRequest, SegmentStore } from '../../src/core/store-ports.js';
import { failure } from '../support/draw.js';

/** A store whose counter the test can set back (a restore), with keyed records. */
class RegressingStore implements SegmentStore {
  next = 1n;
  readonly records = new Map<string, { start: bigint; end: bigint; params: string }>();
  forgets = 0;
  failForget = false;

  async allocate(_tag: string, count: number): Promise<Grant> {
    const start = this.next;
    this.next += BigInt(count === 0 ? 100 : count); // 0: the tag's step
    return {
      start,
      end: this.next - 1n,
      step: 100,
      max: 10n ** 18n,
      bumped: false,
      incarnation: 'r1',
    };
  }

  async allocateKeyed(tag: string, req: KeyedRequest): Promise<KeyedGrant> {
    const found = this.records.get(req.record);
    if (found !== undefined) {
      return { ...found, step: 100, max: 10n ** 18n, bumped: false, replay: true, region: 0 };
    }
    const g = await this.allocate(tag, req.count);
    this.records.set(req.record, { start: g.start, end: g.end, params: req.params });
    return { ...g, replay: false, region: 0 };
  }

  async forgetKeyed(_tag: string, record: string): Promise<void> {
    this.forgets++;
    if (this.failForget) throw new Error('store unreachable');
    this.records.delete(record);
  }

  async raiseFloor(_tag: string, floor: bigint): Promise<void> {
    if (this.next < floor) this.next = floor;
  }
}

const req = (record: string): KeyedRequest => ({
  record,
  params: 'ids:5',
  count: 5,
  region: 0,
  ttlMs: 60_000,
});

async function regressedNode(failForget: boolean) {
  const store = new RegressingStore();
  store.failForget = failForget;
  const node = new SegmentAllocator({ store, options: { retryBaseMs: 1, retryMaxMs: 1 } });
  // The node is granted 1..100, then the store goes back (a restore) to 50.
  expect(await node.next('t')).toBe(1n);
  store.next = 50n;
  return { store, node };
}

describe('a keyed grant refused by the regression fence', () => {
  it('is answered 503, its record deleted, and the retry under the same key gets IDs above the fence', async () => {
    const { store, node } = await regressedNode(false);
    const err = await failure(node.keyed('t', req('k1'), { kind: 'batch' }));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(store.forgets).toBe(1);
    expect(store.records.has('k1')).toBe(false);
    const retry = await node.keyed('t', req('k1'), { kind: 'batch' });
    expect(retry.replay).toBe(false);
    expect(retry.start).toBeGreaterThan(100n);
    await node.close();
  });

  it('is never replayed by this node when its record could not be deleted', async () => {
    const { store, node } = await regressedNode(true);
    expect((await failure(node.keyed('t', req('k2'), { kind: 'batch' }))).code).toBe(
      ErrorCode.UNAVAILABLE,
    );
    // The record of 50..54 is still in the store; this node refuses to serve it again.
    expect(store.records.get('k2')?.start).toBe(50n);
    const again = await failure(node.keyed('t', req('k2'), { kind: 'batch' }));
    expect(again.code).toBe(ErrorCode.UNAVAILABLE);
    expect(again.message).toMatch(/regression/);
    await node.close();
  });
});
