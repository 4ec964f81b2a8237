/**
 * The allocator facade: one object that serves every tag, segment or snowflake, by the
 * tag's mode (docs/design.md §1, §7). Segment tags go to the {@link SegmentAllocator}; a tag the
 * store reports as snowflake goes to the node's snowflake source.
 */
import type { GrantRecorder } from '../core/grant-log.js';
import { createGrantLog } from '../grants/log.js';
import {
  ErrorCode,
  IdAllocError,
  invalidArgument,
  isIdAllocError,
  tagNotFound,
} from '../core/errors.js';
import type { SegmentStore, TagMode, TagStore } from '../core/store-ports.js';
import { SegmentAllocator, type SegmentOptions } from './segment.js';
import { silentLog, systemClock, type Clock, type Log } from '../core/time-and-log.js';
import { PING_TIMEOUT_MS, answersWithin, readinessOf } from './readiness.js';
import type {
  AllocatorObserver,
  DecodedTagId,
  GiveBackResult,
  IdAllocator,
  LeasedRange,
  IdempotencyKey,
  KeyedKind,
  KeyedRange,
  Readiness,
  SegmentState,
} from './types.js';
import type { DecodedSnowflake } from '../core/ids.js';
export type { ServedShape } from './shaping.js';
import { NO_REGION, Shaper, type Region } from '../core/shape.js';
import { TagShapes, type ServedShape } from './shaping.js';

/** What the facade needs of a snowflake generator. */
export interface SnowflakeSource {
  next(): bigint | Promise<bigint>;
  nextBatch(count: number): bigint[] | Promise<bigint[]>;
  decode(id: string): DecodedSnowflake;
  readiness(): Readiness;
  /** The worker ID held now, or undefined while none is. */
  readonly workerId: number | undefined;
  close(): Promise<void>;
}

export interface AllocatorOptions {
  readonly store: SegmentStore & Pick<TagStore, 'getTag'> & { ping(): Promise<boolean> };
  readonly segment?: Partial<SegmentOptions>;
  /** Serves snowflake tags; without it they fail WRONG_MODE with a clear message. */
  readonly snowflake?: SnowflakeSource;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  /** The grant log (core/grant-log.ts; the default is grants/log.ts). @default lines into `log`, node id hostname:pid */
  readonly grants?: GrantRecorder;
  readonly clock?: Clock;
  /** How often a snowflake tag's existence is checked again. @default 5000 */
  readonly modeRecheckMs?: number;
  /** How long readiness waits for the store's ping (readiness.ts). @default 750 */
  readonly pingTimeoutMs?: number;
  /**
   * The node's region (`REGION=i/N`): segment IDs are shaped as region i of N
   * (core/shape.ts), and the store refuses a tag shared by another number of regions.
   * @default 0/1
   */
  readonly region?: Region;
}

interface KnownMode {
  readonly mode: TagMode;
  checkedAt: number;
}

/** What a served value becomes: a counter value (segment) shaped, or a snowflake ID. */
interface Form<R> {
  segment(shaper: Shaper | undefined, counter: bigint): R;
  snowflake(id: bigint): R;
}

const NUMBER: Form<bigint> = {
  segment: (s, c) => (s === undefined ? c : s.toNumber(c)),
  snowflake: (id) => id,
};

const TEXT: Form<string> = {
  segment: (s, c) => (s === undefined ? c.toString() : s.format(c)),
  snowflake: (id) => id.toString(),
};

function map<A, B>(r: A | Promise<A>, f: (a: A) => B): B | Promise<B> {
  return r instanceof Promise ? r.then(f) : f(r);
}

class Allocator implements IdAllocator {
  readonly segments: SegmentAllocator;
  private readonly shapes: TagShapes;
  private readonly modes = new Map<string, KnownMode>();
  private readonly observer: AllocatorObserver;
  private readonly clock: Clock;
  private readonly recheckMs: number;
  private readonly pingTimeoutMs: number;

  constructor(private readonly opts: AllocatorOptions) {
    this.pingTimeoutMs = opts.pingTimeoutMs ?? PING_TIMEOUT_MS;
    this.observer = opts.observer ?? {};
    this.clock = opts.clock ?? systemClock;
    this.recheckMs = opts.modeRecheckMs ?? 5000;
    this.shapes = new TagShapes(opts.region ?? NO_REGION);
    this.segments = new SegmentAllocator({
      store: this.shapes.wrap(opts.store),
      observer: this.observer,
      log: opts.log ?? silentLog,
      grants: opts.grants ?? createGrantLog(opts.log ?? silentLog),
      clock: this.clock,
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.segment ? { options: opts.segment } : {}),
    });
  }

  next(tag: string, mode?: TagMode): bigint | Promise<bigint> {
    return this.one(tag, mode, NUMBER);
  }

  nextId(tag: string, mode?: TagMode): string | Promise<string> {
    return this.one(tag, mode, TEXT);
  }

  nextBatch(tag: string, count: number, mode?: TagMode): bigint[] | Promise<bigint[]> {
    return this.many(tag, count, mode, NUMBER);
  }

  nextIds(tag: string, count: number, mode?: TagMode): string[] | Promise<string[]> {
    return this.many(tag, count, mode, TEXT);
  }

  private one<R>(tag: string, mode: TagMode | undefined, form: Form<R>): R | Promise<R> {
    // The hot path: a buffered segment ID. Only a tag that got a segment has buffered
    // IDs, and a tag known as snowflake gets none (its segment fetch was refused), so
    // trying the buffers first routes every tag as the mode directory below would —
    // except for a caller that insists on snowflake, which the directory must answer.
    if (mode !== 'snowflake') {
      const c = this.segments.nextBuffered(tag);
      if (c !== undefined) {
        this.observer.idsIssued?.(tag, 'segment', 1);
        return form.segment(this.shapes.shaperOf(tag), c);
      }
    }
    return this.serve(
      tag,
      mode,
      // The shape is known once the grant arrived (shaping.ts learns it from the grant).
      () => map(this.segments.next(tag), (c) => form.segment(this.shapes.shaperOf(tag), c)),
      (s) => map(s.next(), form.snowflake),
    );
  }

  private many<R>(
    tag: string,
    count: number,
    mode: TagMode | undefined,
    form: Form<R>,
  ): R[] | Promise<R[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    return this.serve(
      tag,
      mode,
      () =>
        map(this.segments.nextBatch(tag, count), (cs) => {
          const shaper = this.shapes.shaperOf(tag);
          return cs.map((c) => form.segment(shaper, c));
        }),
      (s) => map(s.nextBatch(count), (ids) => ids.map(form.snowflake)),
    );
  }

  shapeOf(tag: string): ServedShape | undefined {
    return this.shapes.get(tag);
  }

  async lookupShape(tag: string): Promise<ServedShape | undefined> {
    const known = this.shapes.get(tag);
    if (known !== undefined) return known;
    const t = await this.opts.store.getTag(tag);
    if (t === undefined) throw tagNotFound(tag);
    return this.shapes.learnConfig(tag, t);
  }

  async decodeId(tag: string, id: string): Promise<DecodedTagId> {
    const t = await this.opts.store.getTag(tag);
    if (t === undefined) throw tagNotFound(tag);
    if (t.mode !== 'segment') {
      throw invalidArgument(
        `tag '${tag}' is a snowflake tag: its IDs are not counter values; decode them with GET /v1/snowflake/{id}`,
      );
    }
    // Any region's ID of the tag decodes (the residue names the region): index 0 will do.
    const d = new Shaper(t.shape, t.regions, 0).decode(id);
    return {
      ...d,
      regions: t.regions,
      shape: t.shape,
      ...(t.next === undefined ? {} : { issued: d.counter < t.next }),
    };
  }

  /**
   * The mode directory: every request learns a tag's mode here, with at most one store
   * round trip for a tag this node has not served. A known tag is served by its mode
   * without asking the store. An unknown one is tried as a segment tag: the allocation
   * either grants (segment) or is refused WRONG_MODE, and the refusal names the mode
   * (snowflake), so no second trip is needed. Only a caller that insists on snowflake
   * (the Leaf snowflake route) asks the store for the tag first, so that a segment tag
   * does not lose a segment to a request that will be refused.
   */
  private serve<T>(
    tag: string,
    wanted: TagMode | undefined,
    segment: () => T | Promise<T>,
    take: (s: SnowflakeSource) => T | Promise<T>,
  ): T | Promise<T> {
    const known = this.isSnowflake(tag) ? 'snowflake' : this.modes.get(tag)?.mode;
    if (known === 'snowflake') {
      if (wanted === 'segment') throw wrongMode(tag, 'snowflake', wanted);
      return this.counted(tag, 'snowflake', take(this.snowflake(tag)));
    }
    if (wanted === 'snowflake') {
      if (known === 'segment') throw wrongMode(tag, 'segment', wanted);
      return this.opts.store.getTag(tag).then((t) => {
        if (t === undefined) throw tagNotFound(tag);
        this.remember(tag, t.mode);
        return this.serve(tag, wanted, segment, take);
      });
    }
    return this.segmentOrSnowflake(tag, wanted, segment(), take);
  }

  private remember(tag: string, mode: TagMode): void {
    this.modes.set(tag, { mode, checkedAt: this.clock.now() });
  }

  /** Counts what was issued, on the fast path without a promise. */
  private counted<T>(tag: string, mode: TagMode, r: T | Promise<T>): T | Promise<T> {
    if (!(r instanceof Promise)) {
      this.observer.idsIssued?.(tag, mode, Array.isArray(r) ? r.length : 1);
      return r;
    }
    return r.then((v) => this.counted(tag, mode, v) as T);
  }

  /** A segment answer; a WRONG_MODE refusal of a snowflake tag is served by snowflake. */
  private segmentOrSnowflake<T>(
    tag: string,
    wanted: TagMode | undefined,
    r: T | Promise<T>,
    take: (s: SnowflakeSource) => T | Promise<T>,
  ): T | Promise<T> {
    if (!(r instanceof Promise)) return this.counted(tag, 'segment', r);
    return r.then(
      (v) => {
        this.remember(tag, 'segment');
        return this.counted(tag, 'segment', v) as T;
      },
      (err: unknown) => this.viaSnowflake(tag, wanted, err, take),
    );
  }

  giveBack(tag: string, lease: string, from: bigint): Promise<GiveBackResult> {
    return this.segments.giveBack(tag, lease, from);
  }

  async lease(tag: string, size: number, client?: string): Promise<LeasedRange> {
    const range = await this.segments.lease(tag, size, client);
    this.observer.idsIssued?.(tag, 'segment', Number(range.end - range.start + 1n));
    return range;
  }

  async keyed(
    tag: string,
    key: IdempotencyKey,
    kind: KeyedKind,
    count: number,
    client?: string,
  ): Promise<KeyedRange> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    const region = this.shapes.region.index;
    const use =
      kind !== 'range'
        ? ({ kind: 'batch' } as const)
        : client === undefined
          ? ({ kind: 'range' } as const)
          : ({ kind: 'range', client } as const);
    let g;
    try {
      g = await this.segments.keyed(
        tag,
        { record: key.record, ttlMs: key.ttlMs, params: `${kind}:${count}`, count, region },
        use,
      );
    } catch (err) {
      if (!isIdAllocError(err, ErrorCode.WRONG_MODE)) throw err;
      throw new IdAllocError(
        ErrorCode.WRONG_MODE,
        `tag '${tag}' is a snowflake tag: an Idempotency-Key applies to segment tags only (a snowflake ID is not recorded); send the request without it`,
        { tag, mode: 'snowflake' },
      );
    }
    const mine = this.shapes.learn(tag, g.shape, g.regions);
    // A replay of another region's grant: formatted as that node formatted it.
    const served =
      g.region === mine.region
        ? mine
        : { ...mine, region: g.region, shaper: new Shaper(mine.shape, mine.regions, g.region) };
    if (!g.replay) this.observer.idsIssued?.(tag, 'segment', count);
    return {
      start: g.start,
      end: g.end,
      replay: g.replay,
      served,
      ...(g.lease === undefined ? {} : { lease: g.lease }),
    };
  }

  modeOf(tag: string): TagMode | undefined {
    return this.modes.get(tag)?.mode;
  }

  segmentState(tag: string): SegmentState | undefined {
    return this.segments.state(tag);
  }

  segmentTags(): string[] {
    return this.segments.tags();
  }

  decodeSnowflake(id: string): DecodedSnowflake {
    if (!this.opts.snowflake) {
      throw invalidArgument('snowflake IDs are not served by this node (no snowflake generator)');
    }
    return this.opts.snowflake.decode(id);
  }

  async readiness(): Promise<Readiness> {
    const storeAnswers = await answersWithin(this.opts.store.ping(), this.pingTimeoutMs);
    const s = this.opts.snowflake;
    return readinessOf({
      storeAnswers,
      buffered: this.segments.hasBuffered(),
      ...(s === undefined ? {} : { snowflake: s.readiness() }),
      snowflakeTags: [...this.modes.values()].some((m) => m.mode === 'snowflake'),
    });
  }

  async close(): Promise<void> {
    await this.segments.close();
    await this.opts.snowflake?.close();
  }

  // ── snowflake routing ──────────────────────────────────────────────────────────────

  /** Known snowflake tag; its existence is re-checked in the background now and then. */
  private isSnowflake(tag: string): boolean {
    const m = this.modes.get(tag);
    if (m === undefined || m.mode !== 'snowflake') return false;
    const now = this.clock.now();
    if (now - m.checkedAt >= this.recheckMs) {
      m.checkedAt = now;
      this.opts.store.getTag(tag).then(
        (t) => {
          if (t === undefined || t.mode !== 'snowflake') this.modes.delete(tag);
        },
        () => undefined, // store down: keep serving the tag as known
      );
    }
    return true;
  }

  private snowflake(tag: string): SnowflakeSource {
    const s = this.opts.snowflake;
    if (!s) {
      throw new IdAllocError(
        ErrorCode.WRONG_MODE,
        `tag '${tag}' is a snowflake tag, and this node serves no snowflake IDs`,
        { tag },
      );
    }
    return s;
  }

  /**
   * A segment call refused with WRONG_MODE: the tag is a snowflake tag, so serve it so
   * (unless the caller wants a segment tag). The refusal names the tag's mode; only a
   * store whose refusal does not is asked again.
   */
  private async viaSnowflake<T>(
    tag: string,
    wanted: TagMode | undefined,
    err: unknown,
    take: (s: SnowflakeSource) => T | Promise<T>,
  ): Promise<T> {
    if (!isIdAllocError(err, ErrorCode.WRONG_MODE)) throw err;
    const said = err.details.mode;
    const mode =
      said === 'snowflake' || said === 'segment' ? said : (await this.opts.store.getTag(tag))?.mode;
    if (mode !== 'snowflake') throw err;
    this.remember(tag, 'snowflake');
    if (wanted === 'segment') throw wrongMode(tag, 'snowflake', wanted);
    return this.counted(tag, 'snowflake', take(this.snowflake(tag)));
  }
}

/** A request for one mode of a tag of the other (details.mode names the tag's own). */
function wrongMode(tag: string, actual: TagMode, wanted: TagMode): IdAllocError {
  return new IdAllocError(
    ErrorCode.WRONG_MODE,
    `tag '${tag}' is a ${actual}-mode tag; this needs a ${wanted} tag`,
    { tag, mode: actual, wanted },
  );
}

/** Builds the allocator on a store (see {@link AllocatorOptions}). */
export function createAllocator(
  opts: AllocatorOptions,
): IdAllocator & { segments: SegmentAllocator } {
  return new Allocator(opts);
}

export { SegmentAllocator, defaultSegmentOptions, type SegmentOptions } from './segment.js';
