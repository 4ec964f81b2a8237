/**
 * The HTTP client of SPEC §7: leases ranges through `GET /v1/ranges/{tag}` and serves
 * them from memory, failing over across service URLs (client/transport.ts).
 *
 * ```ts
 * const ids = new IdClient({ urls: ['http://ids-1:8080', 'http://ids-2:8080'], token });
 * const id = await ids.next('order'); // a bigint; synchronous when buffered
 * await ids.close();
 * ```
 *
 * - Per tag a double buffer: the range being served and a spare, leased in the
 *   background once `refillAt` of the current one is used.
 * - One lease per tag at a time. Requests that find both buffers empty queue (FIFO, no
 *   spinning) on it, up to `waitTimeoutMs`, then fail UNAVAILABLE.
 * - Leased ranges belong to this client alone (SPEC §2), so IDs are unique across
 *   clients. Within a client they increase: leases of a tag run one after another and
 *   the store's counter only rises, and a range at or below the highest ID already
 *   leased is refused anyway (a fence against a store that went back).
 */
import { jitteredBackoff } from '../core/backoff.js';
import { ErrorCode, IdAllocError, invalidArgument, unavailable } from '../core/errors.js';
import { checkTagName } from '../core/tags.js';
import type { IdRange } from '../core/ids.js';
import { Range, TagState, type Waiter } from './buffer.js';
import { resolveOptions, type ClientSettings, type IdClientOptions } from './options.js';
import { RangeTransport, closedError } from './transport.js';

export type { ClientClock, IdClientOptions } from './options.js';

/** The largest `nextBatch`: every ID is materialised as a bigint. */
export const MAX_CLIENT_BATCH = 1_000_000;
/** First delay between failed lease rounds; doubles up to {@link RETRY_MAX_MS}. */
const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 2000;
/** After a final refusal, background refills of the tag pause this long. */
const REFUSAL_HOLD_MS = 1000;

/**
 * Unique 64-bit IDs from idalloc services over HTTP, buffered in ranges. See the module
 * comment for the rules; every option is documented on {@link IdClientOptions}.
 */
export class IdClient {
  private readonly s: ClientSettings;
  private readonly transport: RangeTransport;
  private readonly tags = new Map<string, TagState>();
  private readonly loops = new Set<Promise<void>>();
  private readonly sleeps = new Set<() => void>();
  private closed = false;

  /** @throws IdAllocError INVALID_ARGUMENT naming the bad option */
  constructor(options: IdClientOptions) {
    this.s = resolveOptions(options);
    this.transport = new RangeTransport(this.s);
  }

  /**
   * The next ID of `tag`: the bigint itself when buffered (no promise), else a promise
   * that settles when a range arrives or `waitTimeoutMs` passes.
   * @throws IdAllocError INVALID_ARGUMENT for a bad tag name, UNAVAILABLE once closed;
   * the promise rejects with TAG_NOT_FOUND, WRONG_MODE, TAG_EXHAUSTED, UNAUTHORIZED,
   * INVALID_ARGUMENT (a service's refusal) or UNAVAILABLE
   */
  next(tag: string): bigint | Promise<bigint> {
    const ts = this.tags.get(tag);
    if (ts !== undefined && ts.waiters.length === 0) {
      const r = ts.serving();
      if (r !== null) {
        const id = r.cursor++;
        if (id >= r.mark && ts.spare === null && !ts.leasing) this.refill(ts);
        return id;
      }
    }
    return this.wait(this.state(tag), 1).then((ids) => ids[0]!);
  }

  /**
   * `count` IDs of `tag`, ascending; synchronous when the buffers hold them all. A batch
   * larger than a range is filled from several leases, in order.
   * @throws IdAllocError INVALID_ARGUMENT for a bad tag or count (1..1 000 000)
   */
  nextBatch(tag: string, count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CLIENT_BATCH) {
      throw invalidArgument(
        `count ${String(count)} is not allowed: expected an integer from 1 to ${MAX_CLIENT_BATCH}`,
      );
    }
    const ts = this.state(tag);
    if (ts.waiters.length === 0 && ts.available() >= count) {
      const out: bigint[] = [];
      this.take(ts, count, out);
      return out;
    }
    return this.wait(ts, count);
  }

  /**
   * Stops leasing: requests in flight are aborted, waiting calls fail UNAVAILABLE,
   * buffered IDs are dropped (a gap, never a duplicate). Later calls throw UNAVAILABLE.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    for (const cancel of this.sleeps) cancel();
    this.sleeps.clear();
    for (const ts of this.tags.values()) this.failWaiters(ts, closedError());
    this.tags.clear();
    await Promise.allSettled([...this.loops]);
  }

  private state(tag: string): TagState {
    if (this.closed) throw closedError();
    let ts = this.tags.get(tag);
    if (ts === undefined) {
      ts = new TagState(checkTagName(tag));
      this.tags.set(tag, ts);
    }
    return ts;
  }

  /** Moves buffered IDs into `out` until it holds `n` or the buffers are empty. */
  private take(ts: TagState, n: number, out: bigint[]): void {
    while (out.length < n) {
      const r = ts.serving();
      if (r === null) break;
      const upto = Math.min(r.left, n - out.length);
      for (let i = 0; i < upto; i++) out.push(r.cursor++);
    }
    if (ts.wantsSpare() && !ts.leasing) this.refill(ts);
  }

  /** A background lease of the spare, unless a recent failure holds it back. */
  private refill(ts: TagState): void {
    if (this.s.clock.now() >= ts.holdUntil) this.startLoop(ts);
  }

  /** Queues a request behind earlier ones; it takes what is buffered, then waits. */
  private wait(ts: TagState, want: number): Promise<bigint[]> {
    return new Promise<bigint[]>((resolve, reject) => {
      const w: Waiter = { want, ids: [], resolve, reject, cancel: () => {} };
      w.cancel = this.s.clock.schedule(() => {
        const at = ts.waiters.indexOf(w);
        if (at < 0) return;
        ts.waiters.splice(at, 1); // the IDs it collected are dropped: a gap
        reject(this.timeoutError(ts));
      }, this.s.waitTimeoutMs);
      ts.waiters.push(w);
      this.drain(ts);
      if (ts.waiters.length > 0) this.startLoop(ts);
    });
  }

  /** Hands buffered IDs to the waiters, first come first served. */
  private drain(ts: TagState): void {
    while (ts.waiters.length > 0) {
      const w = ts.waiters[0]!;
      this.take(ts, w.want, w.ids);
      if (w.ids.length < w.want) return;
      ts.waiters.shift();
      w.cancel();
      w.resolve(w.ids);
    }
  }

  private startLoop(ts: TagState): void {
    if (ts.leasing || this.closed) return;
    ts.leasing = true;
    const loop = this.leaseLoop(ts).finally(() => this.loops.delete(loop));
    this.loops.add(loop);
  }

  /**
   * Leases ranges one after another while the tag needs one: waiters, or a spare to
   * fill. Failed rounds are retried with backoff (and after Retry-After) while anyone
   * waits; a background refill that fails is held back instead.
   */
  private async leaseLoop(ts: TagState): Promise<void> {
    let failures = 0;
    // `leasing` is cleared in the same turn as the loop's last check, not a tick later,
    // so that a request queued from then on starts a new loop instead of waiting on
    // this finished one.
    try {
      while (!this.closed && (ts.waiters.length > 0 || ts.wantsSpare())) {
        let range: IdRange;
        try {
          range = await this.transport.lease(ts.tag, this.s.rangeSize, ts.highWater);
        } catch (err) {
          if (this.closed) return;
          const e = asIdAllocError(err, ts.tag);
          ts.lastFailure = e;
          if (e.code !== ErrorCode.UNAVAILABLE) {
            // A service's refusal: final for everyone waiting now.
            ts.holdUntil = this.s.clock.now() + REFUSAL_HOLD_MS;
            this.failWaiters(ts, e);
            return;
          }
          failures++;
          const jittered = jitteredBackoff(
            failures - 1,
            RETRY_BASE_MS,
            RETRY_MAX_MS,
            this.s.random(),
          );
          const delay = Math.max(jittered, this.transport.eligibleAt() - this.s.clock.now());
          if (ts.waiters.length === 0) {
            ts.holdUntil = this.s.clock.now() + delay;
            return;
          }
          await this.sleep(delay);
          continue;
        }
        failures = 0;
        ts.lastFailure = null;
        this.install(ts, range);
      }
    } finally {
      ts.leasing = false;
    }
  }

  /** Adds a leased range behind what is buffered and serves the waiters from it. */
  private install(ts: TagState, range: IdRange): void {
    ts.highWater = range.end;
    const r = new Range(range.start, range.end, this.s.refillAt);
    // The loop leases only when the spare slot is free (see wantsSpare and drain).
    if (ts.current === null || ts.current.left === 0) ts.current = r;
    else ts.spare = r;
    this.drain(ts);
  }

  private failWaiters(ts: TagState, err: IdAllocError): void {
    for (const w of ts.waiters.splice(0)) {
      w.cancel();
      w.reject(err);
    }
  }

  private timeoutError(ts: TagState): IdAllocError {
    const why = ts.lastFailure ? `: ${ts.lastFailure.message}` : ': the lease is still in flight';
    return unavailable(
      `no IDs for tag '${ts.tag}' within ${this.s.waitTimeoutMs} ms${why}`,
      ts.lastFailure?.retryAfterSeconds ?? 1,
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.s.clock.schedule(() => {
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

function asIdAllocError(err: unknown, tag: string): IdAllocError {
  if (err instanceof IdAllocError) return err;
  // A throwing injected fetch or clock: report it, keep the client alive.
  const message = err instanceof Error ? err.message : String(err);
  return unavailable(`lease of tag '${tag}' failed: ${message}`, 1, err);
}
