/**
 * Rates for the in-process benchmarks (measure-client.ts, measure-next.ts): calls per wall
 * second and per CPU second of this thread. On a shared machine wall time also measures
 * the neighbours; CPU time of the thread measures the work.
 */

/** A benchmark loop: `n` calls of the thing measured. */
export type Loop = (n: number) => Promise<bigint> | bigint;

const CHUNK = 10_000;

/** This thread's CPU time in ms. */
function cpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Runs `loop` in chunks of 10 000 calls for about `ms`, yielding to the event loop
 * between chunks as any real caller does (a lease over HTTP can land only then).
 */
export async function rate(loop: Loop, ms: number): Promise<{ wall: number; cpu: number }> {
  const t = performance.now();
  const c = cpuMs();
  let n = 0;
  while (performance.now() - t < ms) {
    await loop(CHUNK);
    n += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  return { wall: (n * 1000) / (performance.now() - t), cpu: (n * 1000) / (cpuMs() - c) };
}

/** Runs every contender for `ms` per round, alternating, and keeps each one's rates. */
export async function alternate(
  contenders: Record<string, Loop>,
  rounds: number,
  ms: number,
): Promise<Map<string, { wall: number[]; cpu: number[] }>> {
  const rates = new Map(
    Object.keys(contenders).map((k) => [k, { wall: [] as number[], cpu: [] as number[] }]),
  );
  for (let i = 0; i < rounds; i++) {
    for (const [name, loop] of Object.entries(contenders)) {
      const r = await rate(loop, ms);
      rates.get(name)!.wall.push(r.wall);
      rates.get(name)!.cpu.push(r.cpu);
    }
  }
  return rates;
}

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
