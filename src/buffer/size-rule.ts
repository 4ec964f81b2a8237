/**
 * The adaptive size of the next range, one rule for the server's step (Meituan Leaf's
 * rule, allocator/step.ts) and the client's lease size (client/id-client.ts): if the last
 * range lasted less than the target, double; from 1× up to (not including) 2× the target,
 * keep; from 2× on, halve. Never below `floor`, never above `ceiling` (unless the floor
 * itself is larger: an operator's explicit choice wins). Pure functions, no I/O.
 */
export interface SizeRule {
  /** How long a range should last, in ms. */
  readonly targetMs: number;
  /** The largest size the rule grows to. */
  readonly ceiling: number;
}

/**
 * The size of the next fetch.
 * @param lastedMs how long since the previous fetch, or undefined for the first one
 */
export function adaptSize(
  rule: SizeRule,
  current: number,
  floor: number,
  lastedMs: number | undefined,
): number {
  const ceiling = Math.max(rule.ceiling, floor);
  let size = Math.max(current, floor);
  if (lastedMs !== undefined) {
    if (lastedMs < rule.targetMs) size = size * 2;
    else if (lastedMs >= rule.targetMs * 2) size = Math.floor(size / 2);
  }
  return Math.min(Math.max(size, floor), ceiling);
}

/** A request had to wait for a fetch: the size doubles at once (within the bounds). */
export function starvedSize(rule: SizeRule, current: number, floor: number): number {
  return Math.min(Math.max(current * 2, floor), Math.max(rule.ceiling, floor));
}
