/**
 * The allocator facade: one object that serves every tag, segment or snowflake, by the
 * tag's mode (SPEC §1, §7). Segment tags go to the {@link SegmentAllocator}; a tag the
 * store reports as snowflake goes to the node's snowflake source.
 */
import { ErrorCode, IdAllocError, invalidArgument, isIdAllocError } from '../errors.js';
import type { SegmentStore, TagMode, TagStore } from '../store/types.js';
import { SegmentAllocator, type SegmentOptions } from './segment.js';
import {
  silentLog,
  systemClock,
  type AllocatorObserver,
  type Clock,
  type DecodedSnowflake,
  type IdAllocator,
  type IdRange,
  type Log,
  type Readiness,
  type SegmentState,
} from './types.js';

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
  readonly clock?: Clock;
  /** How often a snowflake tag's existence is checked again. @default 5000 */
  readonly modeRecheckMs?: number;
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

  constructor(private readonly opts: AllocatorOptions) {
    this.observer = opts.observer ?? {};
    this.clock = opts.clock ?? systemClock;
    this.recheckMs = opts.modeRecheckMs ?? 5000;
    this.segments = new SegmentAllocator({
      store: opts.store,
      observer: this.observer,
      log: opts.log ?? silentLog,
      clock: this.clock,
      ...(opts.segment ? { options: opts.segment } : {}),
    });
  }

  next(tag: string): bigint | Promise<bigint> {
    // The hot path: a buffered segment ID. Only a tag that got a segment has buffered
    // IDs, and a tag known as snowflake gets none (its segment fetch was refused), so
    // trying the buffers first routes every tag as the mode checks below would.
    const id = this.segments.nextBuffered(tag);
    if (id !== undefined) {
      this.observer.idsIssued?.(tag, 'segment', 1);
      return id;
    }
    if (this.isSnowflake(tag)) return this.counted(tag, 'snowflake', this.snowflake(tag).next());
    return this.segmentOrSnowflake(tag, this.segments.next(tag), (s) => s.next());
  }

  nextBatch(tag: string, count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    if (this.isSnowflake(tag)) {
      return this.counted(tag, 'snowflake', this.snowflake(tag).nextBatch(count));
    }
    return this.segmentOrSnowflake(tag, this.segments.nextBatch(tag, count), (s) =>
      s.nextBatch(count),
    );
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
    r: T | Promise<T>,
    take: (s: SnowflakeSource) => T | Promise<T>,
  ): T | Promise<T> {
    if (!(r instanceof Promise)) return this.counted(tag, 'segment', r);
    return r.then(
      (v) => {
        this.modes.set(tag, { mode: 'segment', checkedAt: this.clock.now() });
        return this.counted(tag, 'segment', v) as T;
      },
      (err: unknown) => this.viaSnowflake(tag, err, take),
    );
  }

  async lease(tag: string, size: number): Promise<IdRange> {
    const range = await this.segments.lease(tag, size);
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
    if (!(await this.opts.store.ping()))
      return { ready: false, reason: 'the store does not answer' };
    // A node that holds a worker ID is ready even while that ID is still fenced (a
    // fresh worker ID waits out one lease): segment tags serve meanwhile, and snowflake
    // requests get 503 with Retry-After until the fence passes.
    const s = this.opts.snowflake;
    if (s === undefined || s.workerId !== undefined) return { ready: true };
    return s.readiness();
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

  /** A segment call refused with WRONG_MODE: if the tag is a snowflake tag, serve it so. */
  private async viaSnowflake<T extends bigint | bigint[]>(
    tag: string,
    err: unknown,
    take: (s: SnowflakeSource) => T | Promise<T>,
  ): Promise<T> {
    if (!isIdAllocError(err, ErrorCode.WRONG_MODE)) throw err;
    const t = await this.opts.store.getTag(tag);
    if (t === undefined) throw err;
    if (t.mode !== 'snowflake') throw err;
    this.modes.set(tag, { mode: 'snowflake', checkedAt: this.clock.now() });
    return this.counted(tag, 'snowflake', take(this.snowflake(tag)));
  }
}

/** Builds the allocator on a store (see {@link AllocatorOptions}). */
export function createAllocator(
  opts: AllocatorOptions,
): IdAllocator & { segments: SegmentAllocator } {
  return new Allocator(opts);
}

export { SegmentAllocator, defaultSegmentOptions, type SegmentOptions } from './segment.js';
