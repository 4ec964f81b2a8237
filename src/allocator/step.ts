/**
 * The dynamic step rule (docs/design.md §5, Meituan Leaf's rule) as the allocator applies
 * it, and how a segment the shared double-buffer engine holds is shown.
 */
import { BufferedRange } from '../buffer/key-buffer.js';
import { adaptSize, starvedSize } from '../buffer/size-rule.js';
import type { SegmentView } from './types.js';

/** A buffered range as `GET /v1/tags/{tag}` shows it. */
export function segmentView(r: BufferedRange): SegmentView {
  return { start: r.start, end: r.end, next: r.cursor, remaining: r.remaining };
}

export interface StepRule {
  /** The segment's intended lifetime (`SEGMENT_TARGET_SECONDS`), in ms. */
  readonly targetMs: number;
  /** `MAX_STEP`. */
  readonly maxStep: number;
}

/**
 * The step of the next fetch (buffer/size-rule.ts): double below the target lifetime, keep
 * up to 2×, halve beyond; never below the tag's configured step, never above `maxStep`
 * unless the configured step itself is larger.
 * @param lastedMs how long since the previous fetch, or undefined for the first one
 */
export function nextStep(
  rule: StepRule,
  current: number,
  configured: number,
  lastedMs: number | undefined,
): number {
  return adaptSize(
    { targetMs: rule.targetMs, ceiling: rule.maxStep },
    current,
    configured,
    lastedMs,
  );
}

/** A request had to wait for a fetch: the step doubles at once (within the bounds). */
export function starvedStep(rule: StepRule, current: number, configured: number): number {
  return starvedSize({ targetMs: rule.targetMs, ceiling: rule.maxStep }, current, configured);
}
