/**
 * The one double-buffer engine, shared by the server's segment allocator
 * (allocator/segment.ts: ranges from the store) and the HTTP client (client/id-client.ts:
 * ranges leased over HTTP). Per key:
 *
 * - two ranges: the one being served and the next, fetched in the background once an ID
 *   at or past the current range's mark (`refillAt` of it) has been handed out;
 * - one fetch at a time, and every fetch of a key (buffered or direct) after the previous
 *   one, so ranges arrive in the order asked and the fence can compare each with the last;
 * - the fence: a range that starts at or below the highest ID this engine ever got for the
 *   key is never served (the fetcher gets the fence too, to repair or fail over first);
 * - requests that find both ranges empty wait in line (FIFO, no spinning) up to
 *   `waitTimeoutMs`, then fail with the caller's timeout error (UNAVAILABLE);
 * - a refusal (any error but UNAVAILABLE) fails every waiting request and holds
 *   background fetches back for `refusalHoldMs`;
 * - a failed fetch (UNAVAILABLE) is retried with jittered backoff while anyone waits;
 * - a buffered ID is returned synchronously, without a promise.
 *
 * It does no I/O itself: the fetch function, the clock and the size rule are injected.
 */
import { jitteredBackoff } from '../core/backoff.js';
import { ErrorCode, IdAllocError, unavailable } from '../core/errors.js';
import { BufferedRange, KeyBuffer, type Waiter } from './key-buffer.js';
import type { TimerClock } from '../core/time-and-log.js';

export { BufferedRange, KeyBuffer } from './key-buffer.js';

/** What a fetch returns: IDs `start`..`end` inclusive, and whatever else the caller uses. */
export interface FetchedRange {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * Fetches a range of about `size` IDs of `key`. `fence` is the highest ID already fetched
 * for the key (null before the first): a range at or below it is refused by the engine.
 * Throws an IdAllocError: UNAVAILABLE is retried, any other code is a refusal.
 */
export type FetchRange<R extends FetchedRange> = (
  key: string,
  size: number,
  fence: bigint | null,
) => Promise<R>;

/** The waiting and failover rules where the allocator and the client differ. */
export interface BufferRules {
  /** Fraction of a range handed out before the next is fetched, 0..1. */
  readonly refillAt: number;
  /** Longest a request waits for a range. */
  readonly waitTimeoutMs: number;
  /** First retry delay after a failed fetch; doubles per attempt up to `retryMaxMs`. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** After a refusal, how long background fetches of the key hold off. */
  readonly refusalHoldMs: number;
  /**
   * A background fetch failed and nobody waits: `'retry'` keeps retrying with backoff
   * while the current range still serves (the allocator: its store recovers by itself);
   * `'hold'` stops and holds background fetches back for the backoff delay, the next
   * ID past the mark asking again (the client: every HTTP attempt costs a round trip).
   */
  readonly backgroundFailure: 'retry' | 'hold';
  /**
   * While a refusal holds and nothing is buffered, a request fails at once with it
   * (the allocator) instead of asking again (the client).
   */
  readonly failFastWhileRefused: boolean;
}

export interface RangeBufferDeps<R extends FetchedRange> {
  readonly fetch: FetchRange<R>;
  /** The size of the key's next buffered fetch (the step rule, the client's size rule). */
  readonly size: (key: string) => number;
  readonly clock: TimerClock;
  /** In [0, 1), for the retry jitter. */
  readonly random: () => number;
  readonly rules: BufferRules;
  /** Throws for a key that must not get state (a bad tag name). */
  readonly checkKey: (key: string) => void;
  /** Thrown by every call once the engine is closed. */
  readonly closedError: () => IdAllocError;
  /** What a request gets when `waitTimeoutMs` passes; `lastFailure` says why, if known. */
  readonly timeoutError: (key: string, lastFailure: IdAllocError | null) => IdAllocError;
  /** Any error a buffered fetch threw, as an IdAllocError (UNAVAILABLE: retry). */
  readonly asError: (key: string, err: unknown) => IdAllocError;
  /** Clock time before which a retry cannot succeed (a Retry-After). @default none */
  readonly notBefore?: () => number;
  /** A buffered fetch of `size` brought `range` (the step rule learns from it). */
  readonly onFilled?: (key: string, range: R, size: number) => void;
  /** A request found both ranges of a key that had served before empty, and waits. */
  readonly onWait?: (key: string) => void;
  /**
   * IDs `start`..`end` of `key` left the buffers but reached nobody: collected for a
   * request that then timed out or failed, or a range whose fetch came back after
   * `close()`. Never served (a gap, never a duplicate); reported so the owner can account
   * for them. Ranges still buffered at `close()` are the owner's to read before it.
   */
  readonly onDropped?: (key: string, start: bigint, end: bigint) => void;
}

export class RangeBuffer<R extends FetchedRange> {
  /** Per key: a key stays once it got a range; one that never did is forgotten when idle. */
  readonly entries = new Map<string, KeyBuffer>();
  private readonly loops = new Set<Promise<void>>();
  private readonly sleeps = new Set<() => void>();
  private closed = false;

  constructor(private readonly d: RangeBufferDeps<R>) {}

  /**
   * The next ID of `key`: the bigint itself when buffered (no promise), else a promise
   * that settles when a range arrives or `waitTimeoutMs` passes.
   * @throws what `checkKey` throws, or `closedError()`, synchronously
   */
  next(key: string): bigint | Promise<bigint> {
    const id = this.nextBuffered(key);
    return id !== undefined ? id : this.wait(this.entry(key), 1).then(first);
  }

  /**
   * The fast path alone: the next buffered ID of `key`, or undefined when none is
   * buffered (or requests wait), starting nothing but the background fetch at the mark.
   */
  nextBuffered(key: string): bigint | undefined {
    const b = this.entries.get(key);
    if (b === undefined) return undefined;
    const r = b.current;
    if (r !== null) {
      // Below the limit there are IDs, nothing to ask for, and nobody waits (a request
      // waits only while both ranges are empty).
      const id = r.cursor;
      if (id < r.limit) {
        r.cursor = id + 1n;
        return id;
      }
    }
    return this.nextChecked(b);
  }

  /** The next ID past the fast path's limit: rotation, the mark, waiters. */
  private nextChecked(b: KeyBuffer): bigint | undefined {
    if (b.waiters.length !== 0) return undefined;
    let r = b.current;
    if (r === null || r.cursor > r.end) {
      r = b.serving();
      if (r === null) return undefined;
    }
    const id = r.cursor++;
    if (id >= r.mark) {
      if (b.next === null && !b.fetching) this.refill(b);
      // Asked for (or held: then every ID asks again, to see the hold end).
      if (b.next !== null || b.fetching) r.limit = r.end + 1n;
    }
    return id;
  }

  /** `count` IDs of `key`, ascending; synchronous when the buffers hold them all. */
  nextBatch(key: string, count: number): bigint[] | Promise<bigint[]> {
    const b = this.entry(key);
    if (b.waiters.length === 0 && b.available() >= count) {
      const out: bigint[] = [];
      this.take(b, count, out);
      return out;
    }
    return this.wait(b, count);
  }

  /**
   * A range for the caller alone, by `fetch` (its own size and terms), outside the
   * buffers but in the key's line of fetches and behind its fence. A key that never got
   * a range keeps no state after it.
   */
  async fetchDirect(key: string, fetch: (fence: bigint | null) => Promise<R>): Promise<R> {
    const b = this.entry(key);
    b.direct++;
    try {
      return await this.fenced(b, fetch);
    } finally {
      b.direct--;
      this.forgetIfIdle(b);
    }
  }

  /**
   * Runs `op` in the key's line of fetches (after the previous one, before the next) with
   * the key's fence, and lowers the fence to the `fence` it returns, if any: a hand-back of
   * the last range fetched, whose IDs the store may grant again. Never below a buffered
   * range's end. Without a range ever fetched for the key (or once closed), `op` gets null.
   */
  async inLine<T>(
    key: string,
    op: (fence: bigint | null) => Promise<{ readonly value: T; readonly fence?: bigint }>,
  ): Promise<T> {
    const b = this.closed ? undefined : this.entries.get(key);
    if (b === undefined) return (await op(null)).value;
    const run = async (): Promise<T> => {
      const r = await op(this.closed ? null : b.highWater);
      const held = [b.current?.end, b.next?.end].filter((e): e is bigint => e !== undefined);
      if (
        r.fence !== undefined &&
        b.highWater !== null &&
        r.fence < b.highWater &&
        held.every((e) => e <= r.fence!)
      ) {
        b.highWater = r.fence;
      }
      return r.value;
    };
    const p = b.chain.then(run, run);
    b.chain = p.catch(noop);
    return p;
  }

  /** Drops buffered ranges that end below `id` (a direct range above them was served). */
  dropBelow(key: string, id: bigint): void {
    const b = this.entries.get(key);
    if (b === undefined) return;
    if (b.current !== null && b.current.end < id) b.current = null;
    if (b.next !== null && b.next.end < id) b.next = null;
    if (b.waiters.length > 0) this.startLoop(b);
  }

  /** Keys that got a range. */
  keys(): string[] {
    return [...this.entries.values()].filter((b) => b.highWater !== null).map((b) => b.key);
  }

  /**
   * Stops fetching: waiting requests fail with `err`, buffered IDs are dropped (a gap,
   * never a duplicate), later calls throw `closedError()`. The promise settles when the
   * fetches in flight have.
   */
  close(err: IdAllocError): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const cancel of this.sleeps) cancel();
      this.sleeps.clear();
      for (const b of this.entries.values()) this.failWaiters(b, err);
      this.entries.clear();
    }
    return Promise.allSettled([...this.loops]).then(() => undefined);
  }

  // ── buffers ────────────────────────────────────────────────────────────────────────

  private entry(key: string): KeyBuffer {
    if (this.closed) throw this.d.closedError();
    let b = this.entries.get(key);
    if (b === undefined) {
      this.d.checkKey(key);
      b = new KeyBuffer(key);
      this.entries.set(key, b);
    }
    return b;
  }

  /** Moves buffered IDs into `out` until it holds `n` or the buffers are empty. */
  private take(b: KeyBuffer, n: number, out: bigint[]): void {
    while (out.length < n) {
      const r = b.serving();
      if (r === null) break;
      while (out.length < n && r.cursor <= r.end) out.push(r.cursor++);
    }
    if (!b.fetching && b.wantsNext()) this.refill(b);
  }

  /** A background fetch of the next range, unless a recent failure holds it back. */
  private refill(b: KeyBuffer): void {
    if (this.d.clock.now() >= b.holdUntil) this.startLoop(b);
  }

  /**
   * A key that never got a range (unknown, say) keeps no state behind — once nothing
   * waits on it or fetches for it (a direct fetch still queued must find its fence here).
   */
  private forgetIfIdle(b: KeyBuffer): void {
    if (b.highWater === null && b.waiters.length === 0 && !b.fetching && b.direct === 0) {
      if (this.entries.get(b.key) === b) this.entries.delete(b.key);
    }
  }

  // ── waiting ────────────────────────────────────────────────────────────────────────

  /** Queues a request behind earlier ones; it takes what is buffered, then waits. */
  private wait(b: KeyBuffer, want: number): Promise<bigint[]> {
    const { clock, rules } = this.d;
    if (
      rules.failFastWhileRefused &&
      b.refusal !== null &&
      clock.now() < b.holdUntil &&
      b.available() === 0
    ) {
      return Promise.reject(b.refusal);
    }
    return new Promise<bigint[]>((resolve, reject) => {
      const w: Waiter = { want, ids: [], resolve, reject, cancel: noop };
      b.waiters.push(w);
      this.drain(b);
      if (b.waiters.at(-1) !== w) return;
      if (b.highWater !== null) this.d.onWait?.(b.key);
      w.cancel = clock.schedule(() => {
        const at = b.waiters.indexOf(w);
        if (at < 0) return;
        b.waiters.splice(at, 1);
        this.dropped(b.key, w.ids); // the IDs it collected: a gap
        reject(this.d.timeoutError(b.key, b.lastFailure));
        this.forgetIfIdle(b);
      }, rules.waitTimeoutMs);
      this.startLoop(b);
    });
  }

  /** Hands buffered IDs to the waiters, first come first served. */
  private drain(b: KeyBuffer): void {
    while (b.waiters.length > 0) {
      const w = b.waiters[0]!;
      this.take(b, w.want, w.ids);
      if (w.ids.length < w.want) return;
      b.waiters.shift();
      w.cancel();
      w.resolve(w.ids);
    }
  }

  private failWaiters(b: KeyBuffer, err: Error): void {
    for (const w of b.waiters.splice(0)) {
      w.cancel();
      this.dropped(b.key, w.ids);
      w.reject(err);
    }
  }

  /** Reports `ids` (ascending, as collected) to `onDropped`, one call per run of consecutive IDs. */
  private dropped(key: string, ids: readonly bigint[]): void {
    const report = this.d.onDropped;
    if (report === undefined || ids.length === 0) return;
    let start = ids[0]!;
    for (let i = 1; i <= ids.length; i++) {
      if (i < ids.length && ids[i] === ids[i - 1]! + 1n) continue;
      report(key, start, ids[i - 1]!);
      if (i < ids.length) start = ids[i]!;
    }
  }

  // ── fetching ───────────────────────────────────────────────────────────────────────

  private startLoop(b: KeyBuffer): void {
    if (b.fetching || this.closed) return;
    b.fetching = true;
    const loop = this.fetchLoop(b).finally(() => this.loops.delete(loop));
    this.loops.add(loop);
  }

  /**
   * Fetches ranges one after another while the key needs one: waiters, or a next range
   * to fill. `fetching` is cleared in the same turn as the loop's last check, so that a
   * request queued from then on starts a new loop instead of waiting on this one.
   */
  private async fetchLoop(b: KeyBuffer): Promise<void> {
    const { clock, rules } = this.d;
    let attempt = 0;
    try {
      while (!this.closed && (b.waiters.length > 0 || b.wantsNext())) {
        const size = this.d.size(b.key);
        let range: R;
        try {
          range = await this.fenced(b, (fence) => this.d.fetch(b.key, size, fence));
        } catch (err) {
          if (this.closed) return;
          const e = this.d.asError(b.key, err);
          b.lastFailure = e;
          if (e.code !== ErrorCode.UNAVAILABLE) {
            b.refusal = e;
            b.holdUntil = clock.now() + rules.refusalHoldMs;
            this.failWaiters(b, e);
            return;
          }
          const jittered = jitteredBackoff(
            attempt++,
            rules.retryBaseMs,
            rules.retryMaxMs,
            this.d.random(),
          );
          const delay = Math.max(jittered, (this.d.notBefore?.() ?? 0) - clock.now());
          if (b.waiters.length === 0) {
            if (rules.backgroundFailure === 'hold') {
              b.holdUntil = clock.now() + delay;
              return;
            }
            if (b.current === null || b.current.cursor > b.current.end) return;
          }
          await this.sleep(delay);
          continue;
        }
        if (this.closed) {
          this.d.onDropped?.(b.key, range.start, range.end);
          return;
        }
        attempt = 0;
        b.lastFailure = null;
        b.refusal = null;
        b.holdUntil = 0;
        this.d.onFilled?.(b.key, range, size);
        this.install(b, new BufferedRange(range.start, range.end, rules.refillAt));
      }
    } finally {
      b.fetching = false;
      // No next range after all (refused, held, closed): IDs past the mark ask again.
      const c = b.current;
      if (b.next === null && c !== null && c.limit > c.mark) c.limit = c.mark;
      this.forgetIfIdle(b);
    }
  }

  /** Puts a fresh range in the free slot and serves whoever waits. */
  private install(b: KeyBuffer, r: BufferedRange): void {
    if (b.current === null || b.current.cursor > b.current.end) b.current = r;
    else b.next = r;
    this.drain(b);
  }

  /** One fetch, after the key's previous one, checked against the fence. */
  private fenced(b: KeyBuffer, fetch: (fence: bigint | null) => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      const fence = b.highWater;
      const r = await fetch(fence);
      if (fence !== null && r.start <= fence) {
        throw unavailable(
          `range ${r.start}..${r.end} of '${b.key}' is not above ${fence}, the highest ID already fetched: refused`,
          1,
        );
      }
      if (r.end < r.start) {
        throw new IdAllocError(ErrorCode.INTERNAL, `range ${r.start}..${r.end} is empty`);
      }
      b.highWater = r.end;
      return r;
    };
    const p = b.chain.then(run, run);
    b.chain = p.catch(noop);
    return p;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.d.clock.schedule(() => {
        this.sleeps.delete(done);
        resolve();
      }, ms);
      const done = () => {
        cancel();
        resolve();
      };
      this.sleeps.add(done);
    });
  }
}

const first = (ids: bigint[]): bigint => ids[0]!;
const noop = (): void => {};
