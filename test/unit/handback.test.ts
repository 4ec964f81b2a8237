/**
 * Hand-back on a clean stop, the node's side (src/allocator/handback.ts): which unused IDs a
 * closing allocator offers back to the store, and when it offers none; what it counts and
 * logs for each outcome. The store's compare-and-set is tested on real stores in
 * test/integration/handback.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  GrantTrail,
  handBackTail,
  type TagTrail,
  type Unserved,
} from '../../src/allocator/handback.js';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import type { AllocatorObserver } from '../../src/allocator/types.js';
import { unavailable } from '../../src/core/errors.js';
import type { GrantEvent, SkipReason } from '../../src/core/grant-log.js';
import type { Grant, HandBack, HandBackOutcome } from '../../src/core/store-ports.js';
import { FakeSegmentStore, settle } from '../support/fake-segment-store.js';

const seg = (start: bigint, end: bigint, incarnation = 'a') => ({ start, end, incarnation });
const buf = (start: bigint, cursor: bigint, end: bigint): Unserved => ({ start, cursor, end });

describe('handBackTail', () => {
  function trailOf(...segments: ReturnType<typeof seg>[]): TagTrail | undefined {
    const t = new GrantTrail();
    for (const s of segments) t.granted('t', s, true);
    return t.get('t');
  }

  it('offers the unserved part of the current segment when no next one was fetched', () => {
    const d = handBackTail(trailOf(seg(1n, 100n)), [buf(1n, 31n, 100n), null], false);
    expect(d.back).toEqual({ from: 31n, end: 100n, incarnation: 'a' });
  });

  it('offers the spare segment and the unserved part of the current one when they are contiguous', () => {
    const trail = trailOf(seg(1n, 100n), seg(101n, 200n));
    const d = handBackTail(trail, [buf(1n, 31n, 100n), buf(101n, 101n, 200n)], false);
    expect(d.back).toEqual({ from: 31n, end: 200n, incarnation: 'a' });
  });

  it('offers only the spare segment when another node was granted between the two', () => {
    const trail = trailOf(seg(1n, 100n), seg(301n, 400n));
    const d = handBackTail(trail, [buf(1n, 31n, 100n), buf(301n, 301n, 400n)], false);
    expect(d.back).toEqual({ from: 301n, end: 400n, incarnation: 'a' });
  });

  it('offers only the spare segment when the two came from different incarnations', () => {
    const trail = trailOf(seg(1n, 100n, 'a'), seg(101n, 200n, 'b'));
    const d = handBackTail(trail, [buf(1n, 31n, 100n), buf(101n, 101n, 200n)], false);
    expect(d.back).toEqual({ from: 101n, end: 200n, incarnation: 'b' });
  });

  it('offers nothing while a store call of the tag is in flight', () => {
    const d = handBackTail(trailOf(seg(1n, 100n)), [buf(1n, 31n, 100n)], true);
    expect(d).toEqual({ why: 'a store call of the tag is in flight' });
  });

  it('offers nothing after a failed, discarded or fenced store call', () => {
    const trail = new GrantTrail();
    trail.granted('t', seg(1n, 100n), true);
    trail.uncertain('t');
    expect(handBackTail(trail.get('t'), [buf(1n, 31n, 100n)], false).back).toBeUndefined();
    // A later grant is where the counter stands again.
    trail.granted('t', seg(201n, 300n), true);
    expect(handBackTail(trail.get('t'), [buf(201n, 201n, 300n)], false).back?.from).toBe(201n);
  });

  it("offers nothing when the last grant was a batch's or a client's range", () => {
    const trail = new GrantTrail();
    trail.granted('t', seg(1n, 100n), true);
    trail.granted('t', seg(101n, 5000n), false);
    const d = handBackTail(trail.get('t'), [buf(1n, 31n, 100n)], false);
    expect(d).toEqual({ why: 'the last grant was not a buffered segment' });
  });

  it('offers nothing when the last segment is served out or the store names no incarnation', () => {
    expect(handBackTail(trailOf(seg(1n, 100n)), [null, null], false).back).toBeUndefined();
    const bare = new GrantTrail();
    bare.granted('t', { start: 1n, end: 100n }, true);
    expect(handBackTail(bare.get('t'), [buf(1n, 5n, 100n)], false)).toEqual({
      why: 'the store names no incarnation',
    });
  });
});

/** The fake store with a counter incarnation and handback-1.lua's compare-and-set. */
class HandBackStore extends FakeSegmentStore {
  incarnation = 'inc-1';
  answer: 'cas' | 'hang' | 'fail' = 'cas';
  readonly offers: HandBack[] = [];

  override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    return { ...(await super.allocate(tag, count, exact)), incarnation: this.incarnation };
  }

  async handBack(_tag: string, back: HandBack): Promise<HandBackOutcome> {
    this.offers.push(back);
    if (this.answer === 'hang') return new Promise(() => {});
    if (this.answer === 'fail') throw unavailable('store unreachable (test)');
    if (back.incarnation !== this.incarnation) {
      return { returned: false, reason: 'incarnation', now: this.incarnation };
    }
    if (this.counter !== back.end + 1n) {
      return { returned: false, reason: 'moved', now: `${this.counter}` };
    }
    this.counter = back.from;
    return { returned: true };
  }
}

const open: SegmentAllocator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function setup(store = new HandBackStore()) {
  const grants: GrantEvent[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  let handedBack = 0;
  const observer: AllocatorObserver = {
    idsSkipped: (_t, reason, n) => (skipped[reason] = (skipped[reason] ?? 0) + n),
    idsHandedBack: (_t, n) => (handedBack += n),
  };
  const alloc = new SegmentAllocator({
    store,
    observer,
    random: () => 0.5,
    grants: { record: (e) => grants.push(e) },
    options: { retryBaseMs: 1, retryMaxMs: 4, fetchTimeoutMs: 50 },
  });
  open.push(alloc);
  return { store, alloc, grants, skipped, handedBack: () => handedBack };
}

async function draw(alloc: SegmentAllocator, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const r = alloc.next('t');
    out.push(typeof r === 'bigint' ? r : await r);
  }
  return out;
}

describe('SegmentAllocator.close, with a store that takes IDs back', () => {
  it('gives the unused tail back: the next node starts right after the last ID served', async () => {
    const { store, alloc, grants, skipped, handedBack } = setup();
    await draw(alloc, 30); // 1..30 served; 101..300 prefetched (the step doubled)
    await settle();
    expect(store.counter).toBe(301n);
    await alloc.close();
    expect(store.offers).toEqual([{ from: 31n, end: 300n, incarnation: 'inc-1' }]);
    expect(store.counter).toBe(31n);
    expect(handedBack()).toBe(270);
    expect(skipped.shutdown_remainder).toBeUndefined();
    const kinds = grants.map((g) => g.kind);
    // The remainders first (unserved, written before the store is asked), then the hand-back.
    expect(kinds).toEqual(['segment', 'segment', 'remainder', 'remainder', 'handback']);
    expect(grants.at(-1)).toMatchObject({ start: 31n, end: 300n, incarnation: 'inc-1' });
  });

  it('gives nothing back when the counter moved on (another node was granted after)', async () => {
    const { store, alloc, grants, skipped, handedBack } = setup();
    await draw(alloc, 30);
    await settle();
    store.counter += 100n; // another node's grant
    await alloc.close();
    expect(store.counter).toBe(401n);
    expect(handedBack()).toBe(0);
    expect(skipped.shutdown_remainder).toBe(270);
    expect(grants.some((g) => g.kind === 'handback')).toBe(false);
  });

  it('gives nothing back when the store restarted (another incarnation)', async () => {
    const { store, alloc, skipped } = setup();
    await draw(alloc, 30);
    await settle();
    store.incarnation = 'inc-2';
    await alloc.close();
    expect(store.counter).toBe(301n);
    expect(skipped.shutdown_remainder).toBe(270);
  });

  it('counts the IDs as skipped when the store fails or does not answer in time', async () => {
    for (const answer of ['fail', 'hang'] as const) {
      const { store, alloc, skipped, grants } = setup();
      store.answer = answer;
      await draw(alloc, 30);
      await settle();
      await alloc.close();
      expect(skipped.shutdown_remainder, answer).toBe(270);
      expect(grants.some((g) => g.kind === 'handback')).toBe(false);
    }
  });

  it('asks nothing of the store when a fetch in flight does not end within the fetch timeout', async () => {
    const { store, alloc, skipped } = setup();
    await draw(alloc, 1);
    store.hold();
    await draw(alloc, 10); // past the mark: the prefetch waits in the store
    await alloc.close();
    expect(store.offers).toEqual([]);
    expect(skipped.shutdown_remainder).toBe(89);
    store.release();
  });

  it('waits for a fetch in flight, then gives back its segment with the rest', async () => {
    const { store, alloc, grants, skipped, handedBack } = setup();
    await draw(alloc, 1);
    store.hold();
    await draw(alloc, 10); // past the mark: the prefetch waits in the store
    const closed = alloc.close();
    store.release();
    await closed;
    expect(store.offers).toEqual([{ from: 12n, end: 300n, incarnation: 'inc-1' }]);
    expect(store.counter).toBe(12n);
    expect(handedBack()).toBe(289);
    expect(skipped.shutdown_remainder).toBeUndefined();
    expect(grants.filter((g) => g.kind === 'remainder').map((g) => [g.start, g.end])).toEqual([
      [12n, 100n],
      [101n, 300n],
    ]);
  });

  it('asks nothing when the grant log cannot be written', async () => {
    const store = new HandBackStore();
    const alloc = new SegmentAllocator({
      store,
      grants: {
        record: () => {},
        ensureWritable: () => {
          if (store.offers.length === 0 && closing) throw new Error('disk full');
        },
      },
    });
    let closing = false;
    await draw(alloc, 5);
    closing = true;
    await alloc.close();
    expect(store.offers).toEqual([]);
    expect(store.counter).toBeGreaterThan(100n);
  });

  it('with handBack off, skips as before', async () => {
    const store = new HandBackStore();
    const alloc = new SegmentAllocator({ store, options: { handBack: false } });
    await draw(alloc, 5);
    await alloc.close();
    expect(store.offers).toEqual([]);
  });
});
