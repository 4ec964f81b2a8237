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
import type { AllocatorObserver, IdAllocator, Readiness, SegmentState } from './types.js';
import type { DecodedSnowflake, IdRange } from '../core/ids.js';
import type { Region } from '../core/shape.js';

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

class Allocator implements IdAllocator {
  readonly segments: SegmentAllocator;
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
    this.segments = new SegmentAllocator({
      store: opts.store,
      observer: this.observer,
      log: opts.log ?? silentLog,
      grants: opts.grants ?? createGrantLog(opts.log ?? silentLog),
      clock: this.clock,
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.segment ? { options: opts.segment } : {}),
    });
  }

  next(tag: string, mode?: TagMode): bigint | Promise<bigint> {
    // The hot path: a buffered segment ID. Only a tag that got a segment has buffered
    // IDs, and a tag known as snowflake gets none (its segment fetch was refused), so
    // trying the buffers first routes every tag as the mode directory below would —
    // except for a caller that insists on snowflake, which the directory must answer.
    if (mode !== 'snowflake') {
      const id = this.segments.nextBuffered(tag);
      if (id !== undefined) {
        this.observer.idsIssued?.(tag, 'segment', 1);
        return id;
      }
    }
    return this.serve(
      tag,
      mode,
      () => this.segments.next(tag),
      (s) => s.next(),
    );
  }

  nextBatch(tag: string, count: number, mode?: TagMode): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    return this.serve(
      tag,
      mode,
      () => this.segments.nextBatch(tag, count),
      (s) => s.nextBatch(count),
    );
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
  private serve<T extends bigint | bigint[]>(
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
  private counted<T extends bigint | bigint[]>(
    tag: string,
    mode: TagMode,
    r: T | Promise<T>,
  ): T | Promise<T> {
    if (!(r instanceof Promise)) {
      this.observer.idsIssued?.(tag, mode, typeof r === 'bigint' ? 1 : r.length);
      return r;
    }
    return r.then((v) => this.counted(tag, mode, v) as T);
  }

  /** A segment answer; a WRONG_MODE refusal of a snowflake tag is served by snowflake. */
  private segmentOrSnowflake<T extends bigint | bigint[]>(
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

  async lease(tag: string, size: number, client?: string): Promise<IdRange> {
    const range = await this.segments.lease(tag, size, client);
    this.observer.idsIssued?.(tag, 'segment', Number(range.end - range.start + 1n));
    return range;
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
  private async viaSnowflake<T extends bigint | bigint[]>(
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
