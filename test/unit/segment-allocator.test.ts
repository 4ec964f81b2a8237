import { afterEach, describe, expect, it } from 'vitest';
import { SegmentAllocator, type SegmentOptions } from '../../src/allocator/segment.js';
import type { AllocatorObserver } from '../../src/allocator/types.js';
import { ErrorCode, IdAllocError, isIdAllocError } from '../../src/core/errors.js';
import type { GrantEvent } from '../../src/core/grant-log.js';
import { FakeSegmentStore, ManualClock, settle } from '../support/fake-segment-store.js';

const open: SegmentAllocator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function setup(options: Partial<SegmentOptions> = {}, step = 100, grants: GrantEvent[] = []) {
  const store = new FakeSegmentStore();
  store.step = step;
  const clock = new ManualClock();
  const events = { waits: 0, regressions: 0, fetches: [] as string[] };
  const observer: AllocatorObserver = {
    segmentWait: () => events.waits++,
    storeRegression: () => events.regressions++,
    segmentFetched: (_tag, outcome) => events.fetches.push(outcome),
  };
  const alloc = new SegmentAllocator({
    store,
    clock,
    observer,
    random: () => 0.5,
    grants: { record: (e) => grants.push(e) },
    options: { retryBaseMs: 1, retryMaxMs: 4, ...options },
  });
  open.push(alloc);
  return { store, clock, alloc, events };
}

/** Draws n IDs one by one, awaiting only when the allocator hands back a promise. */
async function draw(alloc: SegmentAllocator, tag: string, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const r = alloc.next(tag);
    out.push(typeof r === 'bigint' ? r : await r);
  }
  return out;
}

describe('SegmentAllocator', () => {
  it('waits for the first segment, then serves synchronously from memory', async () => {
    const { alloc, store } = setup();
    const first = alloc.next('order');
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(1n);
    expect(store.calls[0]).toEqual({ tag: 'order', count: 0, exact: false });
    const second = alloc.next('order');
    expect(typeof second).toBe('bigint');
    expect(second).toBe(2n);
  });

  it('prefetches the next segment once 10% of the current one is used', async () => {
    const { alloc, store } = setup();
    await draw(alloc, 'order', 10); // IDs 1..10: 10% of a 100-ID segment used
    expect(store.calls).toHaveLength(1);
    await draw(alloc, 'order', 1); // the 11th passes the mark
    expect(store.calls).toHaveLength(2);
    await settle();
    expect(alloc.state('order')?.nextReady).toBe(true);
  });

  it('fetches once per tag at a time, however many requests pass the mark', async () => {
    const { alloc, store } = setup();
    await draw(alloc, 'order', 1);
    store.hold();
    await draw(alloc, 'order', 50);
    expect(store.calls).toHaveLength(2);
    expect(store.pending).toBe(1);
    store.release();
    await settle();
    expect(store.calls).toHaveLength(2);
  });

  it('switches to the prefetched buffer when the current one is spent, without a gap', async () => {
    const { alloc, store } = setup();
    await draw(alloc, 'order', 20);
    await settle();
    const ids = await draw(alloc, 'order', 180);
    expect(ids[0]).toBe(21n);
    expect(ids.at(-1)).toBe(200n);
    // The second segment starts right after the first: 101..200.
    expect(alloc.state('order')?.current?.start).toBe(101n);
    expect(store.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('makes requests that find both buffers empty wait on the one fetch, served in order', async () => {
    const { alloc, store, events } = setup({}, 100);
    await draw(alloc, 'order', 11); // passes the mark: 101..300 (doubled) is prefetched
    await settle();
    store.hold();
    await draw(alloc, 'order', 289); // drains both buffers; the third fetch is held
    const waiting = [alloc.next('order'), alloc.next('order'), alloc.next('order')];
    expect(waiting.every((w) => w instanceof Promise)).toBe(true);
    expect(events.waits).toBe(3);
    expect(store.pending).toBe(1);
    store.release();
    expect(await Promise.all(waiting)).toEqual([301n, 302n, 303n]);
  });

  it('fails a waiting request UNAVAILABLE after FETCH_TIMEOUT_MS, with Retry-After', async () => {
    const { alloc, store } = setup({ fetchTimeoutMs: 20 });
    store.hold();
    const err = await Promise.resolve(alloc.next('order')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.UNAVAILABLE)).toBe(true);
    expect((err as IdAllocError).retryAfterSeconds).toBeGreaterThan(0);
    expect(store.calls).toHaveLength(1); // waited on the one fetch, started no other
    store.release();
  });

  it('doubles the step at once when a request had to wait', async () => {
    const { alloc, store, clock } = setup({}, 100);
    await draw(alloc, 'order', 11);
    await settle();
    expect(store.calls[1]?.count).toBe(200); // 101..300
    clock.advance(1_000_000); // segments now last long enough to keep the step
    store.hold();
    await draw(alloc, 'order', 289); // third fetch (keeps 200: 301..500) held
    const waiting = alloc.next('order'); // starved: the fetch after this one doubles
    store.release();
    expect(await waiting).toBe(301n);
    await draw(alloc, 'order', 40); // past the mark of 301..500
    await settle();
    expect(store.calls[2]?.count).toBe(200);
    expect(store.calls[3]?.count).toBe(400);
  });

  it('applies the step rule on the injected clock', async () => {
    const { alloc, store, clock } = setup({ targetSeconds: 900 }, 100);
    await draw(alloc, 'order', 11); // first segment, prefetch of the second
    await settle();
    expect(store.calls[1]?.count).toBe(200); // lasted 0 s < 900 s: doubled
    clock.advance(1_000_000); // between 1x and 2x the target
    await draw(alloc, 'order', 90 + 21);
    await settle();
    expect(store.calls[2]?.count).toBe(200);
    clock.advance(2_000_000); // past 2x: halves, not below the configured 100
    await draw(alloc, 'order', 200);
    await settle();
    expect(store.calls[3]?.count).toBe(100);
  });

  it('serves a batch across both buffers, ascending', async () => {
    const { alloc } = setup();
    await draw(alloc, 'order', 90);
    await settle();
    const batch = alloc.nextBatch('order', 30);
    expect(Array.isArray(batch)).toBe(true);
    expect(batch).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(91 + i)));
  });

  it('gives a batch larger than the step its own range, and stays increasing after it', async () => {
    const { alloc, store } = setup({}, 100);
    await draw(alloc, 'order', 5);
    const batch = await alloc.nextBatch('order', 250);
    expect(store.calls.find((c) => c.exact)).toEqual({ tag: 'order', count: 250, exact: true });
    expect(batch).toHaveLength(250);
    for (let i = 1; i < batch.length; i++) expect(batch[i]! - batch[i - 1]!).toBe(1n);
    const after = await draw(alloc, 'order', 3);
    expect(after[0]! > batch.at(-1)!).toBe(true);
  });

  it('keeps serving buffered IDs while the store is down, then recovers by itself', async () => {
    const { alloc, store, events } = setup({ fetchTimeoutMs: 200 });
    await draw(alloc, 'order', 1);
    store.goDown();
    const buffered = await draw(alloc, 'order', 99); // current segment still serves
    expect(buffered.at(-1)).toBe(100n);
    const err = await Promise.resolve(alloc.next('order')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.UNAVAILABLE)).toBe(true);
    expect(events.fetches).toContain('error');
    const retriesWhileDown = store.calls.length;
    expect(retriesWhileDown).toBeGreaterThan(2); // retried with backoff
    store.comeBack();
    expect(await alloc.next('order')).toBeGreaterThan(100n);
  });

  it('refuses a grant at or below one it had (store regression), raises the counter, never repeats', async () => {
    const { alloc, store, events } = setup();
    const first = await draw(alloc, 'order', 100);
    await settle();
    store.counter = 50n; // the store lost writes: next went back
    const more = await draw(alloc, 'order', 400);
    const all = new Set([...first, ...more].map(String));
    expect(all.size).toBe(500);
    expect(events.regressions).toBeGreaterThanOrEqual(1);
    expect(events.fetches).toContain('discarded');
    expect(store.floors[0]).toBeGreaterThan(100n);
  });

  it('fails at once with the store refusal and keeps no state for an unknown tag', async () => {
    const { alloc, store } = setup();
    store.failure = new IdAllocError(ErrorCode.TAG_NOT_FOUND, "tag 'nope' does not exist");
    const err = await Promise.resolve(alloc.next('nope')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.TAG_NOT_FOUND)).toBe(true);
    await settle();
    expect(alloc.tags()).toEqual([]);
    expect(alloc.state('nope')).toBeUndefined();
    store.failure = undefined; // created meanwhile: usable at once
    expect(await alloc.next('nope')).toBe(1n);
  });

  it('logs a segment granted after close as a remainder, served to nobody', async () => {
    const grants: GrantEvent[] = [];
    const { alloc, store } = setup({}, 100, grants);
    store.hold();
    const waiting = alloc.next('order');
    await settle();
    // close() waits (up to a fetch timeout) for the fetch in flight: the waiting caller is
    // refused meanwhile, so its rejection is watched from before close() on.
    const refused = expect(waiting).rejects.toThrow(/shutting down/);
    await alloc.close();
    await refused;
    store.release();
    await settle();
    expect(
      grants.map((g) => [
        g.kind,
        'start' in g ? String(g.start) : '',
        'end' in g ? String(g.end) : '',
      ]),
    ).toEqual([
      ['segment', '1', '100'],
      ['remainder', '1', '100'],
    ]);
  });

  it('rejects a bad tag name or count with INVALID_ARGUMENT', async () => {
    const { alloc } = setup();
    const err = await Promise.resolve(alloc.next('no/slash')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.INVALID_ARGUMENT)).toBe(true);
    expect(() => alloc.nextBatch('order', 0)).toThrow(/count 0/);
  });

  it('reports exhaustion at once once the tag reached its max', async () => {
    const { alloc, store } = setup();
    store.max = 150n;
    const ids = await draw(alloc, 'order', 150);
    expect(ids.at(-1)).toBe(150n);
    const err = await Promise.resolve(alloc.next('order')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.TAG_EXHAUSTED)).toBe(true);
  });
});

describe('SegmentAllocator memory', () => {
  it('keeps no state for tags whose leases or IDs the store refused', async () => {
    const { alloc, store } = setup();
    store.failure = new IdAllocError(ErrorCode.TAG_NOT_FOUND, 'no such tag');
    for (let i = 0; i < 50; i++) {
      await expect(alloc.lease(`ghost${i}`, 10)).rejects.toMatchObject({
        code: ErrorCode.TAG_NOT_FOUND,
      });
      await expect(Promise.resolve(alloc.next(`phantom${i}`))).rejects.toMatchObject({
        code: ErrorCode.TAG_NOT_FOUND,
      });
    }
    await settle();
    expect((alloc as unknown as { buffers: Map<string, unknown> }).buffers.size).toBe(0);
  });
});
