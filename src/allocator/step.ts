/**
 * Segments and the dynamic step rule (SPEC §5, Meituan Leaf's rule): pure functions and
 * a small mutable segment, no I/O.
 */
import type { Grant } from '../core/store-ports.js';
import type { SegmentView } from './types.js';

/** One buffer: IDs `start`..`end` inclusive, `cursor` the next to hand out. */
export class Segment {
  cursor: bigint;
  /** Once `cursor` passes this ID, the next segment is fetched in the background. */
  readonly prefetchMark: bigint;

  constructor(
    readonly start: bigint,
    readonly end: bigint,
    prefetchAt: number,
  ) {
    this.cursor = start;
    const size = end - start + 1n;
    // Scale the fraction to a per-mille integer: bigint arithmetic has no fractions.
    const used = (size * BigInt(Math.round(prefetchAt * 1000))) / 1000n;
    this.prefetchMark = start + used;
  }

  static fromGrant(g: Grant, prefetchAt: number): Segment {
    return new Segment(g.start, g.end, prefetchAt);
  }

  get remaining(): bigint {
    return this.end - this.cursor + 1n;
  }

  get empty(): boolean {
    return this.cursor > this.end;
  }

  /** Takes up to `n` IDs (fewer when the segment runs out), appending them to `out`. */
  take(n: number, out: bigint[]): number {
    let taken = 0;
    while (taken < n && this.cursor <= this.end) {
      out.push(this.cursor++);
      taken++;
    }
    return taken;
  }

  view(): SegmentView {
    return { start: this.start, end: this.end, next: this.cursor, remaining: this.remaining };
  }
}

export interface StepRule {
  /** The segment's intended lifetime (`SEGMENT_TARGET_SECONDS`), in ms. */
  readonly targetMs: number;
  /** `MAX_STEP`. */
  readonly maxStep: number;
}

/**
 * The step of the next fetch. Leaf's rule: if the last segment lasted less than the
 * target, double; from 1× up to (not including) 2× the target, keep; from 2× on, halve.
 * Never below the tag's configured step, never above `maxStep` (unless the configured
 * step itself is larger: an operator's explicit choice wins).
 * @param lastedMs how long since the previous fetch, or undefined for the first one
 */
export function nextStep(
  rule: StepRule,
  current: number,
  configured: number,
  lastedMs: number | undefined,
): number {
  const floor = configured;
  const ceiling = Math.max(rule.maxStep, configured);
  let step = Math.max(current, floor);
  if (lastedMs !== undefined) {
    if (lastedMs < rule.targetMs) step = step * 2;
    else if (lastedMs >= rule.targetMs * 2) step = Math.floor(step / 2);
  }
  return Math.min(Math.max(step, floor), ceiling);
}

/** A request had to wait for a fetch: the step doubles at once (within the bounds). */
export function starvedStep(rule: StepRule, current: number, configured: number): number {
  return Math.min(Math.max(current * 2, configured), Math.max(rule.maxStep, configured));
}
