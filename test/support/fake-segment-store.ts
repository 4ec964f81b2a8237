/**
 * An in-memory {@link SegmentStore} for unit tests of the allocator: a counter like the
 * allocation script's, with grants that can be held back, failed or rolled back on cue.
 */
import { IdAllocError, ErrorCode, unavailable } from '../../src/core/errors.js';
import type { Grant, SegmentStore } from '../../src/core/store-ports.js';

export class FakeSegmentStore implements SegmentStore {
  counter = 1n;
  step = 100;
  max = 2n ** 63n - 1n;
  readonly calls: { tag: string; count: number; exact: boolean }[] = [];
  readonly floors: bigint[] = [];
  /** When set, every allocate() throws it (after being recorded). */
  failure: Error | undefined;
  private held: (() => void)[] = [];
  private holding = false;

  /** From now on, grants wait until {@link release}. */
  hold(): void {
    this.holding = true;
  }

  /** Lets every held grant through and stops holding. */
  release(): void {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
  }

  get pending(): number {
    return this.held.length;
  }

  goDown(): void {
    this.failure = unavailable('store unreachable (test)');
  }

  comeBack(): void {
    this.failure = undefined;
  }

  async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    this.calls.push({ tag, count, exact });
    if (this.holding) await new Promise<void>((go) => this.held.push(go));
    if (this.failure) throw this.failure;
    const n = BigInt(count === 0 ? this.step : count);
    const left = this.max - this.counter + 1n;
    if (left <= 0n || (exact && left < n)) {
      throw new IdAllocError(ErrorCode.TAG_EXHAUSTED, `tag '${tag}' reached its max`);
    }
    const size = n < left ? n : left;
    const start = this.counter;
    this.counter += size;
    return { start, end: start + size - 1n, step: this.step, max: this.max, bumped: false };
  }

  async raiseFloor(_tag: string, floor: bigint): Promise<void> {
    this.floors.push(floor);
    if (this.counter < floor) this.counter = floor;
  }
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public t = 1_700_000_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Lets queued promise callbacks run (several turns, for chained awaits). */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
