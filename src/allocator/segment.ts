/**
 * The segment allocator (docs/design.md §5): a Leaf double buffer per tag on a {@link SegmentStore}
 * = the shared engine (buffer/range-buffer.ts) + the store + the step rule (step.ts).
 *
 * - IDs come from memory; the next segment is fetched in the background once
 *   `prefetchAt` of the current one is used; one fetch per tag at a time.
 * - Requests that find both buffers empty queue (FIFO, no spinning) on that fetch, up to
 *   `fetchTimeoutMs`, then fail UNAVAILABLE.
 * - Store calls of one tag run one after another, so grants arrive in the order asked
 *   and the regression fence (docs/design.md §8.4) can compare each with the last; a grant at or
 *   below it makes this node raise the store's counter above the mark and ask again.
 * - While the store is down: serve what is buffered, retry with backoff while anyone
 *   needs a segment, recover by itself.
 */
import {
  ErrorCode,
  IdAllocError,
  GrantLogError,
  invalidArgument,
  isIdAllocError,
  unavailable,
} from '../core/errors.js';
import {
  recordUnserved,
  silentGrants,
  type GrantRecorder,
  type SkipReason,
} from '../core/grant-log.js';
import { RangeBuffer } from '../buffer/range-buffer.js';
import type { Grant, KeyedGrant, KeyedRequest, SegmentStore } from '../core/store-ports.js';
import { checkTagName } from '../core/tags.js';
import { silentLog, systemClock, withTimers, type Clock, type Log } from '../core/time-and-log.js';
import { nextStep, segmentView, starvedStep, type StepRule } from './step.js';
import type { AllocatorObserver, GiveBackResult, LeasedRange, SegmentState } from './types.js';
import { DiscardLog } from './discard-log.js';
import { shapeFingerprint, type Region } from '../core/shape.js';
import { HandBacks, settledWithin, type Unserved } from './handback.js';
import { LeaseReturns } from './give-back.js';

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
  /**
   * At `close()`, give each tag's unused tail back to the store's counter when nothing
   * was granted after it (handback.ts); off, it stays skipped as `shutdown_remainder`.
   * @default true
   */
  readonly handBack: boolean;
}

export const defaultSegmentOptions: SegmentOptions = Object.freeze({
  prefetchAt: 0.1,
  targetSeconds: 900,
  maxStep: 1_000_000,
  fetchTimeoutMs: 2000,
  retryBaseMs: 50,
  retryMaxMs: 2000,
  refusalHoldMs: 1000,
  handBack: true,
});

export interface SegmentDeps {
  readonly store: SegmentStore;
  readonly options?: Partial<SegmentOptions>;
  readonly clock?: Clock;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  /** The grant log: every grant before it is served, every range given up unserved. */
  readonly grants?: GrantRecorder;
  /** For retry jitter. @default Math.random */
  readonly random?: () => number;
  /** The node's region (`REGION`), recorded with each grant. @default 0/1 */
  readonly region?: Region;
}

/** What the step rule knows of a tag, from the grants the store made this node. */
interface StepState {
  /** The step the next fetch asks for; 0 until a buffered fetch got a segment. */
  step: number;
  /** The tag's configured step, as the last grant said. */
  configuredStep: number;
  lastFetchAt: number | null;
  /** A request waited since the last install: the next fetch doubles the step. */
  starved: boolean;
}

export class SegmentAllocator {
  private readonly engine: RangeBuffer<Grant>;
  /** The engine's per-tag buffers, by tag: what this node holds in memory per tag. */
  private readonly buffers: ReadonlyMap<string, unknown>;
  private readonly steps = new Map<string, StepState>();
  private readonly opts: SegmentOptions;
  private readonly rule: StepRule;
  private readonly store: SegmentStore;
  private readonly clock: Clock;
  private readonly observer: AllocatorObserver;
  private readonly log: Log;
  private readonly grants: GrantRecorder;
  private readonly discards: DiscardLog;
  /** Keyed grants this node refused as a store regression (tag and record): never replayed here. */
  private readonly fencedRecords = new Set<string>();
  private readonly region: Region | undefined;
  /**
   * Per tag, the region and shape fingerprint its last grant's lines carried: remainders
   * and discarded grants are recorded with them (a tag's shape is fixed once it issued IDs).
   */
  private readonly lineLayouts = new Map<string, { source: unknown; fields: LineLayout }>();
  /** The recent grants per tag and the hand-back at close (handback.ts). */
  private readonly handBacks: HandBacks;
  /** The last client lease per tag and the return of its tail (give-back.ts). */
  private readonly returns: LeaseReturns;
  /** While close() waits on fetches in flight: the segments they brought, by tag. */
  private late: Map<string, Unserved[]> | undefined;

  constructor(deps: SegmentDeps) {
    this.opts = Object.freeze({ ...defaultSegmentOptions, ...deps.options });
    this.rule = { targetMs: this.opts.targetSeconds * 1000, maxStep: this.opts.maxStep };
    this.store = deps.store;
    this.clock = deps.clock ?? systemClock;
    this.observer = deps.observer ?? {};
    this.log = deps.log ?? silentLog;
    this.grants = deps.grants ?? silentGrants;
    this.region = deps.region;
    this.discards = new DiscardLog(this.log, this.clock);
    this.handBacks = new HandBacks({
      store: this.store,
      grants: this.grants,
      observer: this.observer,
      log: this.log,
      timeoutMs: this.opts.fetchTimeoutMs,
      skip: (tag, start, end) => this.skip(tag, 'shutdown_remainder', start, end),
      layout: (tag) => this.lineLayouts.get(tag)?.fields,
    });
    this.returns = new LeaseReturns({
      store: this.store,
      grants: this.grants,
      observer: this.observer,
      log: this.log,
      timeoutMs: this.opts.fetchTimeoutMs,
      inLine: (tag, op) => this.engine.inLine(tag, op),
      layout: (tag) => this.lineLayouts.get(tag)?.fields,
    });
    this.engine = new RangeBuffer<Grant>({
      fetch: (tag, step, fence) => this.grant(tag, step, false, fence, { kind: 'segment' }),
      size: (tag) => this.stepOf(tag),
      // Real timers, unref'd: a retry never holds the process open.
      clock: withTimers(this.clock, { unref: true }),
      random: deps.random ?? Math.random,
      rules: {
        refillAt: this.opts.prefetchAt,
        waitTimeoutMs: this.opts.fetchTimeoutMs,
        retryBaseMs: this.opts.retryBaseMs,
        retryMaxMs: this.opts.retryMaxMs,
        refusalHoldMs: this.opts.refusalHoldMs,
        // A store outage is shared by every tag and ends by itself: keep retrying while
        // the current segment serves, so the next is there when the store is back.
        backgroundFailure: 'retry',
        // A refusal (exhausted, deleted) stands for every request until the hold ends:
        // answering from it spares the store a call per request.
        failFastWhileRefused: true,
      },
      checkKey: checkTagName,
      closedError: () => unavailable('the allocator is shut down', 1),
      // The cause when a fetch failed meanwhile (a grant log that cannot be written, a
      // full disk, a lost file, Redis down), as /v1/ranges names it; else the slow grant.
      timeoutError: (tag, last) =>
        last instanceof GrantLogError
          ? last
          : unavailable(
              `no IDs for tag '${tag}' within ${this.opts.fetchTimeoutMs} ms: ${last ? last.message : 'the store did not grant a segment in time'}`,
              last?.retryAfterSeconds ?? 1,
              last, // for the log line: the store client's own text (core/errors.ts)
            ),
      asError: (tag, err) => this.asError(tag, err),
      // IDs that left the buffers for nobody: in the grant log as remainders too.
      onDropped: (tag, start, end) => {
        // A segment that arrived after close, while its hand-back waits to decide.
        const late = this.late?.get(tag);
        if (late !== undefined) late.push({ start, cursor: start, end });
        else this.giveUp(tag, [{ cursor: start, end }]);
      },
      onFilled: (tag, g, asked) => {
        const st = this.steps.get(tag)!;
        st.step = Math.max(asked, g.step);
        st.starved = false;
        st.lastFetchAt = this.clock.now();
      },
      onWait: (tag) => {
        this.observer.segmentWait?.(tag);
        this.steps.get(tag)!.starved = true;
      },
    });
    this.buffers = this.engine.entries;
  }

  /**
   * The next ID: the bigint itself when buffered (the fast path: no promise), else a
   * promise that settles when a segment arrives or `fetchTimeoutMs` passes.
   */
  next(tag: string): bigint | Promise<bigint> {
    try {
      return this.engine.next(tag);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The next ID when one is buffered, else undefined (nothing fetched but at the mark). */
  nextBuffered(tag: string): bigint | undefined {
    return this.engine.nextBuffered(tag);
  }

  /**
   * `count` IDs, ascending; synchronous when the buffers hold them all. A batch larger
   * than the tag's step takes its own range from the store.
   */
  nextBatch(tag: string, count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    const st = this.steps.get(tag);
    if (st !== undefined && st.step > 0 && count > st.step) return this.ownRange(tag, count);
    try {
      return this.engine.nextBatch(tag, count);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A range of `size` IDs reserved for the caller alone, straight from the store. */
  async lease(tag: string, size: number, client?: string): Promise<LeasedRange> {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw invalidArgument(`size ${size} is not allowed: expected an integer of at least 1`);
    }
    const use: GrantUse = client === undefined ? { kind: 'range' } : { kind: 'range', client };
    let lease: string | undefined;
    const g = await this.engine.fetchDirect(tag, async (fence) => {
      const granted = await this.grant(tag, size, true, fence, use);
      // In the tag's line of store calls: no other grant comes between.
      lease = this.returns.leased(tag, granted);
      return granted;
    });
    return { start: g.start, end: g.end, ...(lease === undefined ? {} : { lease }) };
  }

  /** A client's hand-back of its last lease's tail (give-back.ts). */
  giveBack(tag: string, lease: string, from: bigint): Promise<GiveBackResult> {
    return this.returns.giveBack(tag, lease, from);
  }

  /**
   * A grant under an Idempotency-Key (docs/design.md §5 "Idempotency keys"): one store
   * call, outside the buffers and their per-tag line of fetches. A fresh grant is checked
   * by the regression fence and written to the grant log like a lease; a replay (the
   * record of an earlier grant, maybe another node's) writes no line: it is the same
   * grant, already in the log of the node that got it. A range (`use` kind range) gets
   * a lease key for the return of its tail, as an unkeyed lease does.
   * @throws IdAllocError INTERNAL when the store keeps no idempotency records
   */
  async keyed(
    tag: string,
    req: KeyedRequest,
    use: GrantUse,
  ): Promise<KeyedGrant & { readonly lease?: string }> {
    const store = this.store;
    if (store.allocateKeyed === undefined) {
      throw new IdAllocError(
        ErrorCode.INTERNAL,
        'this store keeps no Idempotency-Key records: a keyed request cannot be served',
      );
    }
    // A record this node refused (the fence) and could not delete is never served here.
    const refused = `${tag}\n${req.record}`;
    if (this.fencedRecords.has(refused)) {
      throw unavailable(`store regression for tag '${tag}': the keyed grant was refused`, 1);
    }
    let replay: KeyedGrant | undefined;
    const g = await this.grant(
      tag,
      req.count,
      true,
      this.engine.entries.get(tag)?.highWater ?? null,
      use,
      async () => {
        const k = await store.allocateKeyed!(tag, req);
        if (k.replay) replay = k;
        return k;
      },
      () => replay !== undefined,
      async () => {
        try {
          if (store.forgetKeyed === undefined) throw new Error('no way to delete it');
          await store.forgetKeyed(tag, req.record);
        } catch (err) {
          this.fencedRecords.add(refused);
          this.log.error(
            { tag, err: err instanceof Error ? err.message : String(err) },
            'the record of a keyed grant refused by the regression fence could not be deleted: this node will not replay it; another node could',
          );
        }
      },
    );
    if (replay !== undefined) this.observer.idempotentReplay?.(tag);
    if (use.kind !== 'range') return g as KeyedGrant;
    // A keyed lease may have its tail returned like any lease (give-back.ts): the return
    // deletes the key's record with it. A replay carries the first answer's lease key
    // while that lease is still this node's last of the tag.
    const lease =
      replay === undefined
        ? this.returns.leased(tag, g, req.record)
        : this.returns.keyOf(tag, req.record, g);
    return { ...(g as KeyedGrant), ...(lease === undefined ? {} : { lease }) };
  }

  /** This node's live state of a tag, or undefined when it holds nothing for it. */
  state(tag: string): SegmentState | undefined {
    const st = this.steps.get(tag);
    const b = this.engine.entries.get(tag);
    if (st === undefined || b === undefined) return undefined;
    return {
      tag,
      current: b.current === null ? null : segmentView(b.current),
      next: b.next === null ? null : segmentView(b.next),
      nextReady: b.next !== null,
      fetching: b.fetching,
      step: Math.max(st.step, st.configuredStep),
      configuredStep: st.configuredStep,
      lastFetchAt: st.lastFetchAt,
      highWater: b.highWater,
    };
  }

  /** True while some tag's buffers hold an ID: this node can serve without the store. */
  hasBuffered(): boolean {
    for (const b of this.engine.entries.values()) if (b.available() > 0) return true;
    return false;
  }

  /** Tags the store has granted this node a segment of. */
  tags(): string[] {
    return this.engine.keys();
  }

  /**
   * Stops retries and fails every waiting request; the grant log records each buffer's
   * unserved remainder. Where a tag's unserved tail ends at the last grant of its counter,
   * it is offered back to the store (hand-back, handback.ts): taken, it is no gap (a
   * `handback` line says so); refused or unanswered, it is skipped (a gap audit accounts for).
   */
  async close(): Promise<void> {
    // A closing node takes no client's return: its store and grant log are closing too.
    this.returns.forgetAll();
    const offers: Promise<void>[] = [];
    const waiting = new Map<string, Unserved[]>();
    // All in one synchronous turn, ending with the engine closed: no ID of a tail is
    // served after it was chosen.
    for (const [tag, b] of this.engine.entries) {
      const ranges = [b.current, b.next].filter(
        (r): r is NonNullable<typeof r> => r !== null && r.cursor <= r.end,
      );
      this.handBacks.remainders(tag, ranges);
      if (!this.opts.handBack) this.handBacks.skipAll(tag, ranges);
      // A fetch in flight: its outcome decides where the counter stands; wait for it.
      else if (b.fetching || b.direct > 0) waiting.set(tag, ranges);
      else offers.push(this.handBacks.offerTail(tag, ranges));
    }
    // IDs collected by waiters are dropped inside close() (remainders, as ever); what a
    // fetch in flight brings comes after it, into `late`.
    const settled = this.engine.close(unavailable('the allocator is shutting down', 1));
    if (waiting.size > 0) this.late = new Map([...waiting.keys()].map((t) => [t, []]));
    this.steps.clear();
    if (waiting.size > 0) {
      // A store that hangs must not hold up shutdown: at most one fetch timeout.
      const inTime = await settledWithin(settled, this.opts.fetchTimeoutMs);
      const late = this.late ?? new Map<string, Unserved[]>();
      this.late = undefined;
      for (const [tag, ranges] of waiting) {
        const arrived = late.get(tag) ?? [];
        this.handBacks.remainders(tag, arrived);
        if (inTime) offers.push(this.handBacks.offerTail(tag, [...ranges, ...arrived]));
        else this.handBacks.skipAll(tag, [...ranges, ...arrived]);
      }
    }
    await Promise.all(offers);
  }

  /** The step of a tag's next buffered fetch: 0 (the tag's own) until one was granted. */
  private stepOf(tag: string): number {
    const st = this.steps.get(tag);
    if (st === undefined || st.configuredStep === 0) return 0;
    if (st.starved) return starvedStep(this.rule, st.step, st.configuredStep);
    const lasted = st.lastFetchAt === null ? undefined : this.clock.now() - st.lastFetchAt;
    return nextStep(this.rule, st.step, st.configuredStep, lasted);
  }

  /**
   * A batch larger than the step: its own range. Buffered segments lie below it (they
   * were granted earlier), so they are dropped to keep this node's IDs increasing.
   */
  private async ownRange(tag: string, count: number): Promise<bigint[]> {
    const g = await this.engine.fetchDirect(tag, (fence) =>
      this.grant(tag, count, true, fence, { kind: 'batch' }),
    );
    // Dropped unserved: in the grant log as a remainder, like those left at shutdown.
    const b = this.engine.entries.get(tag);
    if (b !== undefined) {
      this.giveUp(
        tag,
        [b.current, b.next].filter((r) => r !== null && r.end < g.start),
      );
    }
    this.engine.dropBelow(tag, g.start);
    const out: bigint[] = [];
    for (let id = g.start; id <= g.end; id++) out.push(id);
    return out;
  }

  /**
   * One store call: the grant, checked by the regression fence. A grant at or below the
   * highest this node has seen means the store's counter went backwards: refuse it,
   * raise the counter above the mark, ask again. An accepted grant is in the grant log
   * before this returns, so before any of its IDs is served; none is asked for while the
   * grant log cannot be written, and one whose line fails is not returned (never served).
   * @throws GrantLogError when the grant log cannot be written
   * @param count 0 for the tag's step
   * @param exact exactly `count` IDs (a lease, an own range) or none
   * @param use what the grant is for, as the grant log records it
   * @param call the store call (a keyed grant's); by default `allocate`
   * @param replayed true when the call's answer is a replay: served as it is, with no
   *   fence (its IDs may lie below IDs granted since) and no line (it has its line)
   */
  private async grant(
    tag: string,
    count: number,
    exact: boolean,
    fence: bigint | null,
    use: GrantUse,
    call?: () => Promise<Grant>,
    replayed?: () => boolean,
    forget?: () => Promise<void>,
  ): Promise<Grant> {
    for (;;) {
      this.grants.ensureWritable?.();
      const t0 = performance.now();
      let g: Grant;
      try {
        g = call === undefined ? await this.store.allocate(tag, count, exact) : await call();
      } catch (err) {
        this.handBacks.trail.uncertain(tag);
        this.returns.forget(tag);
        // A refusal (unknown tag, wrong mode, exhausted) is an answer, not a failed fetch.
        if (!isRefusal(err)) {
          const discarded = isIdAllocError(err) && err.details.discarded === true;
          this.observer.segmentFetched?.(tag, discarded ? 'discarded' : 'error', secondsSince(t0));
          if (discarded) {
            this.discarded(tag, err);
            this.discards.discarded(tag, discardReason(err));
          }
        }
        throw err;
      }
      if (replayed?.() === true) {
        this.observer.segmentFetched?.(tag, 'ok', secondsSince(t0));
        return g;
      }
      if (fence !== null && g.start <= fence) {
        this.handBacks.trail.uncertain(tag);
        this.returns.forget(tag);
        this.observer.segmentFetched?.(tag, 'discarded', secondsSince(t0));
        this.observer.storeRegression?.(tag);
        this.skip(tag, 'fence', g.start, g.end);
        recordUnserved(this.grants, {
          kind: 'fence',
          ...grantFields(tag, g),
          ...this.layoutOf(tag, g),
          highWater: fence,
        });
        this.log.error(
          { tag, granted: `${g.start}..${g.end}`, highWater: String(fence) },
          'store regression: the store granted IDs at or below ones it granted before; refused, raising its counter',
        );
        await this.store.raiseFloor(tag, fence + 1n);
        if (call !== undefined) {
          // A retry under the same key would replay the refused range, unfenced on a node
          // that never granted above it: the record is deleted before the caller hears.
          await forget?.();
          throw unavailable(`store regression for tag '${tag}': the keyed grant was refused`, 1);
        }
        continue;
      }
      this.observer.segmentFetched?.(tag, 'ok', secondsSince(t0));
      this.discards.confirmed(tag);
      const st = this.steps.get(tag);
      if (st === undefined) {
        this.steps.set(tag, { step: 0, configuredStep: g.step, lastFetchAt: null, starved: false });
      } else st.configuredStep = g.step;
      if (g.bumped) {
        this.log.warn(
          { tag, start: String(g.start), skipped: String(g.skipped ?? 0n) },
          'store incarnation changed (restart, failover or restore): the counter skipped its safety gap',
        );
      }
      if (g.skipped !== undefined && g.skipped > 0n) {
        this.skip(tag, 'incarnation_jump', g.start - g.skipped, g.start - 1n);
      }
      this.observer.segmentGranted?.(tag, g.end, g.max);
      const f = grantFields(tag, g);
      this.grants.record({ ...f, ...this.layoutOf(tag, g), ...use });
      this.handBacks.trail.granted(tag, g, use.kind === 'segment');
      this.returns.forget(tag);
      return g;
    }
  }

  /** Ranges dropped with IDs left in them: counted and in the grant log as remainders. */
  private giveUp(tag: string, ranges: readonly ({ cursor: bigint; end: bigint } | null)[]): void {
    for (const r of ranges) {
      if (r === null || r.cursor > r.end) continue;
      this.skip(tag, 'shutdown_remainder', r.cursor, r.end);
      recordUnserved(this.grants, {
        kind: 'remainder',
        tag,
        start: r.cursor,
        end: r.end,
        ...this.lineLayouts.get(tag)?.fields,
      });
    }
  }

  /** The region and shape fingerprint of a grant's lines (see {@link LineLayout}). */
  private layoutOf(tag: string, g: Grant): LineLayout {
    const last = this.lineLayouts.get(tag);
    if (last !== undefined && last.source === g.shape) return last.fields;
    const fields: LineLayout = {
      ...(this.region === undefined ? {} : { region: this.region }),
      ...(g.shape === undefined ? {} : { shape: shapeFingerprint(g.shape) }),
    };
    this.lineLayouts.set(tag, { source: g.shape, fields });
    return fields;
  }

  /** Counts IDs `start`..`end` given up unserved (idalloc_ids_skipped_total). */
  private skip(tag: string, reason: SkipReason, start: bigint, end: bigint): void {
    if (end < start) return;
    this.observer.idsSkipped?.(tag, reason, safeCount(end - start + 1n));
  }

  /** A grant `WAIT` did not confirm: logged and counted, never served. */
  private discarded(tag: string, err: IdAllocError): void {
    const { start, end } = err.details;
    if (typeof start !== 'string' || typeof end !== 'string') return;
    if (!/^\d{1,20}$/.test(start) || !/^\d{1,20}$/.test(end)) return;
    const [s, e] = [BigInt(start), BigInt(end)];
    this.skip(tag, 'discarded_grant', s, e);
    const incarnation = typeof err.details.incarnation === 'string' ? err.details.incarnation : '';
    recordUnserved(this.grants, {
      kind: 'discarded',
      tag,
      start: s,
      end: e,
      ...(incarnation ? { incarnation } : {}),
      ...this.lineLayouts.get(tag)?.fields,
      reason: err.message,
    });
  }

  /** A failed buffered fetch as an IdAllocError; a store's own failure is logged. */
  private asError(tag: string, err: unknown): IdAllocError {
    const e =
      err instanceof IdAllocError
        ? err
        : new IdAllocError(ErrorCode.INTERNAL, 'segment fetch failed', {}, { cause: err });
    if (e.code === ErrorCode.INTERNAL) this.log.error({ err: e, tag }, 'segment fetch failed');
    return e;
  }
}

function isRefusal(err: unknown): boolean {
  return (
    isIdAllocError(err, ErrorCode.TAG_NOT_FOUND) ||
    isIdAllocError(err, ErrorCode.WRONG_MODE) ||
    isIdAllocError(err, ErrorCode.TAG_EXHAUSTED)
  );
}

/** What a grant is for: a buffered segment, a batch's own range, or a client's range. */
export type GrantUse =
  { readonly kind: 'segment' | 'batch' } | { readonly kind: 'range'; readonly client?: string };

/**
 * What a grant line says of how counter values become IDs: the node's region and the
 * tag's shape fingerprint (core/grant-log.ts writes them only when not 0/1 and plain).
 * Kept per tag with the shape it came from, so the fingerprint (a SHA-256 for permute)
 * is computed once per tag, not per grant.
 */
interface LineLayout {
  readonly region?: Region;
  readonly shape?: string;
}

/** The fields of a grant the grant log records. */
function grantFields(tag: string, g: Grant) {
  return {
    tag,
    start: g.start,
    end: g.end,
    max: g.max,
    ...(g.incarnation === undefined ? {} : { incarnation: g.incarnation }),
    ...(g.skipped ? { skipped: g.skipped } : {}),
  };
}

/** Why the store discarded a grant (its `details.reason`, else its message). */
function discardReason(err: IdAllocError): string {
  const reason = err.details.reason;
  return typeof reason === 'string' ? reason : err.message;
}

/** A count of IDs as a number for a counter, capped at MAX_SAFE_INTEGER. */
function safeCount(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}
