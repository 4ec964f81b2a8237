/**
 * The HTTP client of docs/design.md §7: leases ranges through `GET /v1/ranges/{tag}` and serves
 * them from memory, failing over across service URLs (client/transport.ts).
 *
 * ```ts
 * const ids = new IdClient({ urls: ['http://ids-1:8080', 'http://ids-2:8080'], token });
 * const id = await ids.next('order'); // a bigint; synchronous when buffered
 * await ids.close();
 * ```
 *
 * IdClient = the shared double-buffer engine (buffer/range-buffer.ts) + the HTTP
 * transport + the lease size rule:
 * - Per tag a double buffer: the range being served and a spare, leased in the
 *   background once `refillAt` of the current one is used.
 * - The lease size adapts to consumption like the service's step (buffer/size-rule.ts):
 *   it doubles while a range lasts less than `rangeTargetMs` and halves when one lasts
 *   twice that, within [`rangeSize`, `maxRangeSize`], so that a busy caller finds the
 *   spare ready and `next()` does not wait in steady state.
 * - One lease per tag at a time. Requests that find both buffers empty queue (FIFO, no
 *   spinning) on it, up to `waitTimeoutMs`, then fail UNAVAILABLE.
 * - A range is counter values; its answer's shape descriptor (docs/design.md §13) says
 *   how each becomes the tag's ID, and the client shapes them as the service would. The
 *   fence and the size rule work on counter values.
 * - Leased ranges belong to this client alone (docs/design.md §2), so IDs are unique across
 *   clients. Within a client they increase: leases of a tag run one after another and
 *   the store's counter only rises, and a range at or below the highest ID already
 *   leased is refused anyway (a fence against a store that went back).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, IdAllocError, invalidArgument, unavailable } from '../core/errors.js';
import { PLAIN, shaperSignature } from '../core/shape.js';
import { checkTagName } from '../core/tags.js';
import { RangeBuffer } from '../buffer/range-buffer.js';
import type { Shaper } from '../core/shape.js';
import { adaptSize, starvedSize, type SizeRule } from '../buffer/size-rule.js';
import { resolveOptions, type ClientSettings, type IdClientOptions } from './options.js';
import { RangeTransport, closedError, type ShapedRange } from './transport.js';
import { returnTail, tailToReturn, type LastLease, type TailReturn } from './give-back.js';

export type { ClientClock, IdClientOptions } from './options.js';

/** The signature of an unshaped range (plain, one region). */
const PLAIN_SIGNATURE = shaperSignature(PLAIN, 1, 0);

/** The largest `nextBatch`: every ID is materialised as a bigint. */
export const MAX_CLIENT_BATCH = 1_000_000;
/** First delay between failed lease rounds; doubles up to {@link RETRY_MAX_MS}. */
const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 2000;
/** After a final refusal, background refills of the tag pause this long. */
const REFUSAL_HOLD_MS = 1000;

/** What the size rule knows of a tag. */
interface LeaseSize {
  size: number;
  lastLeaseAt: number;
  /** A request waited since the last lease: the next one doubles. */
  starved: boolean;
}

/**
 * Unique 64-bit IDs from idalloc services over HTTP, buffered in ranges. See the module
 * comment for the rules; every option is documented on {@link IdClientOptions}.
 */
export class IdClient {
  private readonly s: ClientSettings;
  private readonly transport: RangeTransport;
  private readonly engine: RangeBuffer<ShapedRange>;
  private readonly sizes = new Map<string, LeaseSize>();
  /** Each shaped tag's shaper, from its last range (a tag's shape is fixed once it issued IDs). */
  private readonly shapers = new Map<string, Shaper>();
  /** Each tag's shaper signature since its first range: a range of another is refused. */
  private readonly signatures = new Map<string, string>();
  /** Each tag's last leased range with its lease key, for the return of its tail at close. */
  private readonly leases = new Map<string, LastLease>();
  private rule: SizeRule;
  private closed = false;
  /**
   * Per tag, the lease not answered yet: its size and Idempotency-Key, sent again by every
   * retry until a range arrives, so a granted range whose answer was lost (a timeout, a
   * dropped connection, a failover) is answered again instead of leaving a gap.
   */
  private readonly pending = new Map<
    string,
    { readonly size: number; readonly key: string | undefined }
  >();

  /** @throws IdAllocError INVALID_ARGUMENT naming the bad option */
  constructor(options: IdClientOptions) {
    const s = (this.s = resolveOptions(options));
    this.rule = { targetMs: s.rangeTargetMs, ceiling: s.maxRangeSize };
    this.transport = new RangeTransport(s);
    this.engine = new RangeBuffer<ShapedRange>({
      fetch: (tag, size, fence) => this.lease(tag, size, fence),
      size: (tag) => this.sizeOf(tag),
      clock: s.clock,
      random: s.random,
      rules: {
        refillAt: s.refillAt,
        waitTimeoutMs: s.waitTimeoutMs,
        retryBaseMs: RETRY_BASE_MS,
        retryMaxMs: RETRY_MAX_MS,
        refusalHoldMs: REFUSAL_HOLD_MS,
        // Every failed attempt cost a round trip to each URL: a background refill that
        // failed waits for the next ID past the mark after its backoff.
        backgroundFailure: 'hold',
        // A caller asks again (the refusal may be lifted: a tag created meanwhile).
        failFastWhileRefused: false,
      },
      checkKey: checkTagName,
      closedError,
      timeoutError: (tag, last) =>
        unavailable(
          `no IDs for tag '${tag}' within ${s.waitTimeoutMs} ms${last ? `: ${last.message}` : ': the lease is still in flight'}`,
          last?.retryAfterSeconds ?? 1,
        ),
      asError: asIdAllocError,
      notBefore: () => this.transport.eligibleAt(),
      onFilled: (tag, range) => {
        // Before any of the range's IDs is served: they are shaped by its descriptor.
        if (range.shaper === undefined) this.shapers.delete(tag);
        else this.shapers.set(tag, range.shaper);
        this.signatures.set(tag, range.shaper?.signature ?? PLAIN_SIGNATURE);
        if (range.lease === undefined || range.url === undefined) this.leases.delete(tag);
        else this.leases.set(tag, { ...range, lease: range.lease, url: range.url });
        const size = Number(range.end - range.start + 1n);
        this.sizes.set(tag, { size, lastLeaseAt: s.clock.now(), starved: false });
      },
      onWait: (tag) => {
        const ls = this.sizes.get(tag);
        if (ls !== undefined) ls.starved = true;
      },
    });
  }

  /**
   * The next ID of `tag` as a number (the number under a prefix, for a tag with one):
   * the bigint itself when buffered (no promise), else a promise that settles when a
   * range arrives or `waitTimeoutMs` passes. The range's counter values are shaped here,
   * by the range answer's descriptor (docs/library.md), as the service would.
   * @throws IdAllocError INVALID_ARGUMENT for a bad tag name, UNAVAILABLE once closed;
   * the promise rejects with TAG_NOT_FOUND, WRONG_MODE, WRONG_REGION, TAG_EXHAUSTED,
   * UNAUTHORIZED, FORBIDDEN (a permute tag without a KEY_TOKENS token), INVALID_ARGUMENT
   * (a service's refusal) or UNAVAILABLE
   */
  next(tag: string): bigint | Promise<bigint> {
    const c = this.engine.next(tag);
    if (c instanceof Promise) return c.then((v) => this.toNumber(tag, v), forbidden(tag));
    return this.toNumber(tag, c);
  }

  /** The next ID of `tag` as the service's `/v1/ids` writes it: decimal, or `prefix_…`. */
  nextId(tag: string): string | Promise<string> {
    const c = this.engine.next(tag);
    if (c instanceof Promise) return c.then((v) => this.format(tag, v), forbidden(tag));
    return this.format(tag, c);
  }

  /**
   * `count` IDs of `tag` in the order issued (ascending for plain tags); synchronous
   * when the buffers hold them all. A batch larger than a range is filled from several
   * leases, in order.
   * @throws IdAllocError INVALID_ARGUMENT for a bad tag or count (1..1 000 000)
   */
  nextBatch(tag: string, count: number): bigint[] | Promise<bigint[]> {
    const cs = this.counters(tag, count);
    const shape = (vs: bigint[]) => {
      const s = this.shapers.get(tag);
      return s === undefined ? vs : vs.map((v) => s.toNumber(v));
    };
    return cs instanceof Promise ? cs.then(shape, forbidden(tag)) : shape(cs);
  }

  /** `count` IDs as {@link nextId} writes them. */
  nextIds(tag: string, count: number): string[] | Promise<string[]> {
    const cs = this.counters(tag, count);
    const text = (vs: bigint[]) => vs.map((v) => this.format(tag, v));
    return cs instanceof Promise ? cs.then(text, forbidden(tag)) : text(cs);
  }

  private counters(tag: string, count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CLIENT_BATCH) {
      throw invalidArgument(
        `count ${String(count)} is not allowed: expected an integer from 1 to ${MAX_CLIENT_BATCH}`,
      );
    }
    return this.engine.nextBatch(tag, count);
  }

  private toNumber(tag: string, c: bigint): bigint {
    const s = this.shapers.get(tag);
    return s === undefined ? c : s.toNumber(c);
  }

  private format(tag: string, c: bigint): string {
    const s = this.shapers.get(tag);
    return s === undefined ? c.toString() : s.format(c);
  }

  /**
   * Stops leasing: requests in flight are aborted, waiting calls fail UNAVAILABLE,
   * buffered IDs are dropped (a gap, never a duplicate). Later calls throw UNAVAILABLE.
   * With `handBack` (the default), each tag's unserved tail of its last lease goes back
   * to the service that leased it, one POST with `timeoutMs` (client/give-back.ts): the
   * service takes it when nothing was granted after it; failures are ignored.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Chosen in the same turn as the engine closes: no ID of a tail is served after.
    const tails: [string, TailReturn][] = [];
    if (this.s.handBack) {
      for (const [tag, b] of this.engine.entries) {
        const t = tailToReturn(this.leases.get(tag), b);
        if (t !== undefined) tails.push([tag, t]);
      }
    }
    this.transport.close();
    const closing = this.engine.close(closedError());
    this.leases.clear();
    await Promise.all(
      tails.map(async ([tag, t]) => {
        const said = await returnTail(this.s, tag, t, this.s.timeoutMs);
        const line = { tag, url: t.url, from: String(t.from), end: String(t.end), said };
        this.s.log.info(line, 'idalloc: returned the unserved tail of the last range');
      }),
    );
    await closing;
    this.sizes.clear();
  }

  /**
   * One lease. A service whose `MAX_RANGE` is below the size this client grew to refuses
   * the size (INVALID_ARGUMENT): the client grows no further than half of it from then
   * on and asks again at once, down to `rangeSize`, whose refusal is final.
   */
  private async lease(tag: string, size: number, fence: bigint | null): Promise<ShapedRange> {
    // A retry asks for what the lost lease asked (the same key with another size is refused).
    const open = this.pending.get(tag);
    if (open !== undefined) size = open.size;
    for (;;) {
      const key = this.s.idempotencyKeys ? (this.pending.get(tag)?.key ?? randomUUID()) : undefined;
      this.pending.set(tag, { size, key });
      try {
        const range = await this.transport.lease(tag, size, fence, key);
        this.pending.delete(tag);
        this.checkSameShape(tag, range);
        return range;
      } catch (err) {
        // Only an unanswered lease may have been granted: any other outcome ends the key.
        if (!(err instanceof IdAllocError && err.code === ErrorCode.UNAVAILABLE)) {
          this.pending.delete(tag);
        }
        if (size <= this.s.rangeSize || !(err instanceof IdAllocError)) throw err;
        if (err.code !== ErrorCode.INVALID_ARGUMENT) throw err;
        const lower = Math.max(this.s.rangeSize, Math.floor(size / 2));
        this.s.log.warn(
          { tag, size, now: lower, reason: err.message },
          'idalloc refused the lease size: leases grow no further than this from now on',
        );
        this.rule = { ...this.rule, ceiling: lower };
        size = lower;
      }
    }
  }

  /**
   * A range shaped otherwise than the IDs this client is serving of the tag (its `urls`
   * reach services of two regions or deployments) is refused, its counter values a gap:
   * served under one shaper and leased under another, they could be another region's IDs.
   * @throws IdAllocError WRONG_REGION naming both shapes (final: not retried)
   */
  private checkSameShape(tag: string, range: ShapedRange): void {
    const held = this.signatures.get(tag);
    const got = range.shaper?.signature ?? PLAIN_SIGNATURE;
    if (held === undefined || held === got) return;
    throw new IdAllocError(
      ErrorCode.WRONG_REGION,
      `tag '${tag}': the service answered a range shaped ${got} (shape|prefix|region), while this client serves the tag shaped ${held}: the urls reach services of different regions or deployments; give IdClient the services of one (the range is dropped, a gap)`,
      { tag },
    );
  }

  /** The size of a tag's next lease: `rangeSize` first, then as consumption says. */
  private sizeOf(tag: string): number {
    const ls = this.sizes.get(tag);
    const floor = this.s.rangeSize;
    if (ls === undefined) return floor;
    if (ls.starved) return starvedSize(this.rule, ls.size, floor);
    return adaptSize(this.rule, ls.size, floor, this.s.clock.now() - ls.lastLeaseAt);
  }
}

/**
 * A permute tag's range refused FORBIDDEN (the client's token is not one of KEY_TOKENS):
 * said in the client's terms. The client does not fall back to server-shaped IDs: its
 * buffers are ranges of counter values, and a permute tag's IDs form no range.
 */
function forbidden(tag: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof IdAllocError && err.code === ErrorCode.FORBIDDEN) {
      throw new IdAllocError(
        ErrorCode.FORBIDDEN,
        `IdClient cannot serve tag '${tag}': it leases ranges of counter values and shapes them itself, and the service refused the range (${err.message}). Give the client a token of KEY_TOKENS, or take the tag's IDs from GET /v1/ids/${tag}?count=N`,
        { tag },
      );
    }
    throw err;
  };
}

function asIdAllocError(tag: string, err: unknown): IdAllocError {
  if (err instanceof IdAllocError) return err;
  // A throwing injected fetch or clock: report it, keep the client alive.
  const message = err instanceof Error ? err.message : String(err);
  return unavailable(`lease of tag '${tag}' failed: ${message}`, 1, err);
}
