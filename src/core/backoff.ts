/**
 * Jittered exponential backoff, the one rule every retry loop here uses: `baseMs`
 * doubling per attempt up to `maxMs`, then a random point in its upper half (so that
 * nodes retrying together spread out, and none retries sooner than half the step).
 * @param attempt 0 for the first retry
 * @param random a number in [0, 1) (injected in tests)
 */
export function jitteredBackoff(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: number,
): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return step / 2 + random * (step / 2);
}
