/**
 * One key's double buffer as the engine (buffer/range-buffer.ts) holds it: the range being
 * served, the next one, the requests waiting, and the fence and hold bookkeeping. No I/O
 * and no timers here; the engine decides when to fetch.
 */
import type { IdAllocError } from '../core/errors.js';

/** One range in a buffer. */
export class BufferedRange {
  /** The next ID to hand out. */
  cursor: bigint;
  /** Handing out this ID (or a later one) asks for the next range. */
  readonly mark: bigint;
  /**
   * IDs below this are handed out with no other check (the fast path's one comparison):
   * the mark until the next range is asked for, then the end + 1.
   */
  limit: bigint;

  constructor(
    readonly start: bigint,
    readonly end: bigint,
    refillAt: number,
  ) {
    this.cursor = start;
    // Per-mille integer: bigint arithmetic has no fractions.
    this.mark = start + ((end - start + 1n) * BigInt(Math.round(refillAt * 1000))) / 1000n;
    this.limit = this.mark;
  }

  get remaining(): bigint {
    return this.cursor > this.end ? 0n : this.end - this.cursor + 1n;
  }
}

/** A request waiting for IDs; it collects `want` of them, in order, into `ids`. */
export interface Waiter {
  readonly want: number;
  readonly ids: bigint[];
  readonly resolve: (ids: bigint[]) => void;
  readonly reject: (err: Error) => void;
  cancel: () => void;
}

/** One key's double buffer and bookkeeping. */
export class KeyBuffer {
  current: BufferedRange | null = null;
  next: BufferedRange | null = null;
  readonly waiters: Waiter[] = [];
  fetching = false;
  /** Highest ID fetched for this key: the fence. */
  highWater: bigint | null = null;
  /** No background fetch before this clock time (after a refusal or a held failure). */
  holdUntil = 0;
  /** The refusal standing until `holdUntil`, if any. */
  refusal: IdAllocError | null = null;
  /** Why the last fetch failed, for the message of a request that times out. */
  lastFailure: IdAllocError | null = null;
  /** Fetches of this key, one after another. */
  chain: Promise<unknown> = Promise.resolve();
  /** Direct fetches (own ranges) of this key queued or running: the key stays while any is. */
  direct = 0;

  constructor(readonly key: string) {}

  /** IDs buffered, capped at MAX_SAFE_INTEGER. */
  available(): number {
    const n = (this.current?.remaining ?? 0n) + (this.next?.remaining ?? 0n);
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  }

  /** The range to serve from, promoting the next when the current one is spent. */
  serving(): BufferedRange | null {
    const c = this.current;
    if (c !== null && c.cursor <= c.end) return c;
    if (this.next === null) return null;
    this.current = this.next;
    this.next = null;
    return this.current;
  }

  /** True while the next range should be fetched: none held and the mark passed. */
  wantsNext(): boolean {
    if (this.next !== null) return false;
    const c = this.current;
    return c === null || c.cursor > c.end || c.cursor > c.mark;
  }
}
