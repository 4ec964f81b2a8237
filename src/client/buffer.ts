/**
 * One tag's double buffer in the IdClient (client/id-client.ts): the range being
 * served, the spare, and the requests waiting for IDs. No I/O here; the client decides
 * when to lease.
 */
import type { IdAllocError } from '../core/errors.js';

/** One leased range being served. */
export class Range {
  cursor: bigint;
  /** Serving this ID (or any later one) asks for the spare range. */
  readonly mark: bigint;

  constructor(
    readonly start: bigint,
    readonly end: bigint,
    refillAt: number,
  ) {
    this.cursor = start;
    this.mark = start + BigInt(Math.floor(Number(end - start + 1n) * refillAt));
  }

  get left(): number {
    return Number(this.end - this.cursor + 1n);
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

/** One tag's double buffer. */
export class TagState {
  current: Range | null = null;
  spare: Range | null = null;
  readonly waiters: Waiter[] = [];
  leasing = false;
  /** No background refill before this clock time (after a failed lease). */
  holdUntil = 0;
  /** Highest ID leased for this tag: the fence. */
  highWater: bigint | null = null;
  /** Why the last lease failed, for the message of a request that timed out. */
  lastFailure: IdAllocError | null = null;

  constructor(readonly tag: string) {}

  available(): number {
    return (this.current?.left ?? 0) + (this.spare?.left ?? 0);
  }

  /** The range to serve from, promoting the spare when the current one is used up. */
  serving(): Range | null {
    const c = this.current;
    if (c !== null && c.cursor <= c.end) return c;
    if (this.spare === null) return null;
    this.current = this.spare;
    this.spare = null;
    return this.current;
  }

  /** True once the spare should be leased: none held and the mark passed. */
  wantsSpare(): boolean {
    if (this.spare !== null) return false;
    const c = this.current;
    return c === null || c.left === 0 || c.cursor > c.mark;
  }
}
