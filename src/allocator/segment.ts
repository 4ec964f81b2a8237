/**
 * The segment allocator (SPEC §5): a Leaf double buffer per tag on a {@link SegmentStore}.
 *
 * - IDs come from memory; the next segment is fetched in the background once
 *   `prefetchAt` of the current one is used; one fetch per tag at a time.
 * - Requests that find both buffers empty queue (FIFO, no spinning) on that fetch, up to
 *   `fetchTimeoutMs`, then fail UNAVAILABLE.
 * - Store calls of one tag run one after another, so grants arrive in the order asked
 *   and the regression fence (SPEC §8.4) can compare each with the last.
 * - While the store is down: serve what is buffered, retry with backoff while anyone
 *   needs a segment, recover by itself.
 */
import {
  ErrorCode,
  IdAllocError,
  invalidArgument,
  isIdAllocError,
  unavailable,
} from '../errors.js';
import { jitteredBackoff } from '../backoff.js';
import type { Grant, SegmentStore } from '../store/types.js';
import { checkTagName } from '../tags.js';
import { DiscardLog } from './discard-log.js';
import { Segment, nextStep, starvedStep, type StepRule } from './step.js';
import {
  silentLog,
  systemClock,
  type AllocatorObserver,
  type Clock,
  type IdRange,
  type Log,
  type SegmentState,
} from './types.js';

export interface SegmentOptions {
  /** Fraction of a segment used before the next is fetched (`PREFETCH_AT`). @default 0.1 */
  readonly prefetchAt: number;
  /** `SEGMENT_TARGET_SECONDS`. @default 900 */
  readonly targetSeconds: number;
  /** `MAX_STEP`. @default 1_000_000 */
  readonly maxStep: number;
  /** Longest a request waits for a segment (`FETCH_TIMEOUT_MS`). @default 2000 */
  readonly fetchTimeoutMs: number;
  /** First retry delay after a failed fetch; doubles up to {@link retryMaxMs}. @default 50 */
  readonly retryBaseMs: number;
  /** @default 2000 */
  readonly retryMaxMs: number;
  /** After a refusal (tag missing, exhausted…), how long before asking again. @default 1000 */
  readonly refusalHoldMs: number;
}

export const defaultSegmentOptions: SegmentOptions = Object.freeze({
  prefetchAt: 0.1,
  targetSeconds: 900,
  maxStep: 1_000_000,
  fetchTimeoutMs: 2000,
  retryBaseMs: 50,
  retryMaxMs: 2000,
  refusalHoldMs: 1000,
});

export interface SegmentDeps {
  readonly store: SegmentStore;
  readonly options?: Partial<SegmentOptions>;
  readonly clock?: Clock;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  /** For retry jitter. @default Math.random */
  readonly random?: () => number;
}

/** A request waiting for IDs: it collects `want` IDs, in order, into `ids`. */
interface Waiter {
  readonly want: number;
  readonly ids: bigint[];
  readonly resolve: (ids: bigint[]) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** One tag's double buffer and bookkeeping. */
class TagBuffer {
  current: Segment | null = null;
  next: Segment | null = null;
  fetching = false;
  readonly waiters: Waiter[] = [];
  /** The step the next fetch asks for; 0 until the store has told us the tag's step. */
  step = 0;
  configuredStep = 0;
  lastFetchAt: number | null = null;
  /** A request waited since the last install: the next fetch doubles the step. */
  starved = false;
  /** Highest ID the store has granted this node (regression fence). */
  highWater: bigint | null = null;
  /** The last refusal from the store and until when it stands. */
  refusal: { err: IdAllocError; until: number } | null = null;
  /** Store calls of this tag, one after another. */
  chain: Promise<unknown> = Promise.resolve();

  constructor(readonly tag: string) {}
}

export class SegmentAllocator {
  private readonly buffers = new Map<string, TagBuffer>();
  private readonly opts: SegmentOptions;
  private readonly rule: StepRule;
  private readonly store: SegmentStore;
  private readonly clock: Clock;
  private readonly observer: AllocatorObserver;
  private readonly log: Log;
  private readonly random: () => number;
  private readonly discards: DiscardLog;
  private readonly sleeps = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(deps: SegmentDeps) {
    this.opts = Object.freeze({ ...defaultSegmentOptions, ...deps.options });
    this.rule = { targetMs: this.opts.targetSeconds * 1000, maxStep: this.opts.maxStep };
    this.store = deps.store;
    this.clock = deps.clock ?? systemClock;
    this.observer = deps.observer ?? {};
    this.log = deps.log ?? silentLog;
    this.random = deps.random ?? Math.random;
    this.discards = new DiscardLog(this.log, this.clock);
  }

  /**
   * The next ID: the bigint itself when buffered (the fast path: no promise), else a
   * promise that settles when a segment arrives or `fetchTimeoutMs` passes.
   */
  next(tag: string): bigint | Promise<bigint> {
    const tb = this.buffers.get(tag);
    if (tb !== undefined && tb.waiters.length === 0) {
      let cur = tb.current;
      if (cur === null || cur.cursor > cur.end) cur = this.rotate(tb);
      if (cur !== null) {
        const id = cur.cursor++;
        if (id >= cur.prefetchMark && tb.next === null) this.prefetch(tb);
        return id;
      }
    }
    return this.enqueue(tag, 1).then((ids) => ids[0]!);
  }

  /**
   * `count` IDs, ascending; synchronous when the buffers hold them all. A batch larger
   * than the tag's step takes its own range from the store.
   */
  nextBatch(tag: string, count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    const tb = this.buffers.get(tag);
    if (tb !== undefined && tb.step > 0 && count > tb.step) return this.ownRange(tb, count);
    if (tb !== undefined && tb.waiters.length === 0 && this.available(tb) >= count) {
      const out: bigint[] = [];
      this.fill(tb, count, out);
      return out;
    }
    return this.enqueue(tag, count);
  }

  /** A range of `size` IDs reserved for the caller alone, straight from the store. */
  async lease(tag: string, size: number): Promise<IdRange> {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw invalidArgument(`size ${size} is not allowed: expected an integer of at least 1`);
    }
    const tb = this.buffer(tag);
    try {
      const g = await this.grant(tb, size, true);
      return { start: g.start, end: g.end };
    } finally {
      // A refused lease (unknown tag, say) must leave no state behind: names are free.
      this.forgetIfIdle(tb);
    }
  }

  /** This node's live state of a tag, or undefined when it holds nothing for it. */
  state(tag: string): SegmentState | undefined {
    const tb = this.buffers.get(tag);
    if (tb === undefined || tb.configuredStep === 0) return undefined;
    return {
      tag,
      current: tb.current?.view() ?? null,
      next: tb.next?.view() ?? null,
      nextReady: tb.next !== null,
      fetching: tb.fetching,
      step: Math.max(tb.step, tb.configuredStep),
      configuredStep: tb.configuredStep,
      lastFetchAt: tb.lastFetchAt,
      highWater: tb.highWater,
    };
  }

  /** Tags the store has granted this node a segment of. */
  tags(): string[] {
    return [...this.buffers.values()].filter((b) => b.configuredStep > 0).map((b) => b.tag);
  }

  /** Stops retries and fails every waiting request; buffered IDs are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.sleeps) clearTimeout(t);
    this.sleeps.clear();
    for (const tb of this.buffers.values()) {
      this.failWaiters(tb, unavailable('the allocator is shutting down', 1));
    }
    this.buffers.clear();
  }

  // ── buffers ────────────────────────────────────────────────────────────────────────

  private buffer(tag: string): TagBuffer {
    let tb = this.buffers.get(tag);
    if (tb === undefined) {
      checkTagName(tag);
      if (this.closed) throw unavailable('the allocator is shut down', 1);
      tb = new TagBuffer(tag);
      this.buffers.set(tag, tb);
    }
    return tb;
  }

  /** Makes the prefetched segment current when the current one is spent. */
  private rotate(tb: TagBuffer): Segment | null {
    if (tb.current !== null && !tb.current.empty) return tb.current;
    if (tb.next === null) return null;
    tb.current = tb.next;
    tb.next = null;
    // The new current may already be past its mark (tiny segments): fetch ahead now.
    if (tb.current.cursor >= tb.current.prefetchMark) this.prefetch(tb);
    return tb.current;
  }

  private available(tb: TagBuffer): number {
    let n = 0n;
    if (tb.current !== null) n += tb.current.remaining > 0n ? tb.current.remaining : 0n;
    if (tb.next !== null) n += tb.next.remaining;
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  }

  /** Moves up to `n` IDs from the buffers into `out`, in order; returns how many. */
  private fill(tb: TagBuffer, n: number, out: bigint[]): number {
    let got = 0;
    while (got < n) {
      const cur = this.rotate(tb);
      if (cur === null) break;
      got += cur.take(n - got, out);
      if (cur.cursor >= cur.prefetchMark && tb.next === null) this.prefetch(tb);
    }
    return got;
  }

  // ── waiting ────────────────────────────────────────────────────────────────────────

  private enqueue(tag: string, want: number): Promise<bigint[]> {
    let tb: TagBuffer;
    try {
      tb = this.buffer(tag);
    } catch (err) {
      return Promise.reject(err);
    }
    const refusal = tb.refusal;
    if (refusal !== null && this.clock.now() < refusal.until && this.available(tb) === 0) {
      return Promise.reject(refusal.err);
    }
    return new Promise<bigint[]>((resolve, reject) => {
      const w: Waiter = { want, ids: [], resolve, reject, timer: undefined };
      tb.waiters.push(w);
      this.drain(tb);
      if (tb.waiters.includes(w)) {
        // Both buffers ran dry under this request: it waits, and the step doubles (a
        // tag's very first load is a cold start, not a sign the step is too small).
        if (tb.configuredStep > 0) {
          this.observer.segmentWait?.(tag);
          tb.starved = true;
        }
        w.timer = setTimeout(() => this.timeOut(tb, w), this.opts.fetchTimeoutMs);
        this.prefetch(tb, true);
      }
    });
  }

  /** Serves waiting requests in order from whatever the buffers hold. */
  private drain(tb: TagBuffer): void {
    while (tb.waiters.length > 0) {
      const w = tb.waiters[0]!;
      this.fill(tb, w.want - w.ids.length, w.ids);
      if (w.ids.length < w.want) return;
      tb.waiters.shift();
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.resolve(w.ids);
    }
  }

  private timeOut(tb: TagBuffer, w: Waiter): void {
    const i = tb.waiters.indexOf(w);
    if (i < 0) return;
    tb.waiters.splice(i, 1);
    w.reject(
      unavailable(
        `no IDs for tag '${tb.tag}' within ${this.opts.fetchTimeoutMs} ms: the store did not grant a segment in time`,
        1,
      ),
    );
    this.forgetIfIdle(tb);
  }

  private failWaiters(tb: TagBuffer, err: Error): void {
    for (const w of tb.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** A tag that never got a segment (unknown, say) keeps no state behind. */
  private forgetIfIdle(tb: TagBuffer): void {
    if (tb.configuredStep === 0 && tb.waiters.length === 0 && !tb.fetching) {
      this.buffers.delete(tb.tag);
    }
  }

  // ── fetching ───────────────────────────────────────────────────────────────────────

  /** Starts the background fetch of the next segment, unless one runs or is not due. */
  private prefetch(tb: TagBuffer, urgent = false): void {
    if (tb.fetching || tb.next !== null || this.closed) return;
    if (!urgent && tb.refusal !== null && this.clock.now() < tb.refusal.until) return;
    tb.fetching = true;
    void this.fetchLoop(tb).then((installed) => {
      tb.fetching = false;
      // A segment already drained by waiters, or past its prefetch mark, leaves work for
      // the next fetch (prefetch() ignored the calls made while this one ran).
      // A request that queued after the loop gave up must not wait for nothing either.
      const cur = tb.current;
      const waiting = tb.waiters.length > 0;
      const due = waiting || (installed && cur !== null && cur.cursor >= cur.prefetchMark);
      if (due && tb.next === null) this.prefetch(tb, waiting);
      else this.forgetIfIdle(tb);
    });
  }

  /** Fetches until a segment is installed (true), or refused, unneeded or closed (false). */
  private async fetchLoop(tb: TagBuffer): Promise<boolean> {
    for (let attempt = 0; !this.closed; attempt++) {
      const step =
        tb.configuredStep === 0
          ? 0
          : tb.starved
            ? starvedStep(this.rule, tb.step, tb.configuredStep)
            : nextStep(
                this.rule,
                tb.step,
                tb.configuredStep,
                tb.lastFetchAt === null ? undefined : this.clock.now() - tb.lastFetchAt,
              );
      try {
        const g = await this.grant(tb, step, false);
        if (this.closed) return false;
        tb.step = Math.max(step, g.step);
        tb.starved = false;
        tb.lastFetchAt = this.clock.now();
        tb.refusal = null;
        this.install(tb, Segment.fromGrant(g, this.opts.prefetchAt));
        return true;
      } catch (err) {
        if (!isIdAllocError(err, ErrorCode.UNAVAILABLE)) {
          this.refuse(tb, err);
          return false;
        }
        // Transient: retry while a request waits or the current segment is being served.
        const needed = tb.waiters.length > 0 || (tb.current !== null && !tb.current.empty);
        if (!needed) return false;
        await this.sleep(this.backoff(attempt));
      }
    }
    return false;
  }

  /** Puts a fresh segment in the free buffer and serves whoever waits. */
  private install(tb: TagBuffer, seg: Segment): void {
    if (tb.current === null || tb.current.empty) tb.current = seg;
    else tb.next = seg;
    this.drain(tb);
  }

  /** The store refused (tag missing, exhausted, damaged…): tell waiters, hold off a while. */
  private refuse(tb: TagBuffer, err: unknown): void {
    const e =
      err instanceof IdAllocError
        ? err
        : new IdAllocError(ErrorCode.INTERNAL, 'segment fetch failed', {}, { cause: err });
    if (e.code === ErrorCode.INTERNAL)
      this.log.error({ err: e, tag: tb.tag }, 'segment fetch failed');
    tb.refusal = { err: e, until: this.clock.now() + this.opts.refusalHoldMs };
    this.failWaiters(tb, e);
  }

  /**
   * One store call for this tag, after the previous one: the grant, checked by the
   * regression fence. A grant at or below the highest this node has seen means the
   * store's counter went backwards: refuse it, raise the counter above the mark, ask
   * again.
   */
  private grant(tb: TagBuffer, count: number, exact: boolean): Promise<Grant> {
    const run = async (): Promise<Grant> => {
      for (;;) {
        const t0 = performance.now();
        let g: Grant;
        try {
          g = await this.store.allocate(tb.tag, count, exact);
        } catch (err) {
          // A refusal (unknown tag, wrong mode, exhausted) is an answer, not a failed fetch.
          if (!isRefusal(err)) {
            const discarded = isIdAllocError(err) && err.details.discarded === true;
            this.observer.segmentFetched?.(
              tb.tag,
              discarded ? 'discarded' : 'error',
              secondsSince(t0),
            );
            if (discarded) this.discards.discarded(tb.tag, discardReason(err));
          }
          throw err;
        }
        const mark = tb.highWater;
        if (mark !== null && g.start <= mark) {
          this.observer.segmentFetched?.(tb.tag, 'discarded', secondsSince(t0));
          this.observer.storeRegression?.(tb.tag);
          this.log.error(
            { tag: tb.tag, granted: `${g.start}..${g.end}`, highWater: String(mark) },
            'store regression: the store granted IDs at or below ones it granted before; refused, raising its counter',
          );
          await this.store.raiseFloor(tb.tag, mark + 1n);
          continue;
        }
        this.observer.segmentFetched?.(tb.tag, 'ok', secondsSince(t0));
        this.discards.confirmed(tb.tag);
        tb.highWater = g.end;
        tb.configuredStep = g.step;
        if (g.bumped) {
          this.log.warn(
            { tag: tb.tag, start: String(g.start) },
            'store incarnation changed (restart, failover or restore): the counter skipped its safety gap',
          );
        }
        return g;
      }
    };
    const p = tb.chain.then(run, run);
    tb.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * A batch larger than the step: its own range. Buffered segments lie below it (they
   * were granted earlier), so they are dropped to keep this node's IDs increasing.
   */
  private async ownRange(tb: TagBuffer, count: number): Promise<bigint[]> {
    const g = await this.grant(tb, count, true);
    if (tb.current !== null && tb.current.end < g.start) tb.current = null;
    if (tb.next !== null && tb.next.end < g.start) tb.next = null;
    if (tb.waiters.length > 0) this.prefetch(tb, true);
    const out: bigint[] = [];
    for (let id = g.start; id <= g.end; id++) out.push(id);
    return out;
  }

  private backoff(attempt: number): number {
    return Math.round(
      jitteredBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs, this.random()),
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeps.delete(t);
        resolve();
      }, ms);
      t.unref();
      this.sleeps.add(t);
    });
  }
}

function isRefusal(err: unknown): boolean {
  return (
    isIdAllocError(err, ErrorCode.TAG_NOT_FOUND) ||
    isIdAllocError(err, ErrorCode.WRONG_MODE) ||
    isIdAllocError(err, ErrorCode.TAG_EXHAUSTED)
  );
}

/** Why the store discarded a grant (its `details.reason`, else its message). */
function discardReason(err: IdAllocError): string {
  const reason = err.details.reason;
  return typeof reason === 'string' ? reason : err.message;
}

function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}
