/**
 * Snowflake IDs per second in-process (pinned worker, no Redis), against the layout's
 * own limit: 2^sequenceBits IDs per millisecond per worker (4 096 000/s with 12 bits).
 * A ratio near 1 means the generator keeps up with the clock; it cannot exceed 1.
 *
 * Run alone: `node --import tsx scripts/bench-snowflake.ts [ms]`.
 */
import { fileURLToPath } from 'node:url';
import { SnowflakeGenerator } from '../src/allocator/snowflake/generator.js';
import { createLayout } from '../src/allocator/snowflake/layout.js';

export interface SnowflakeBenchResult {
  name: string;
  idsPerSecond: number;
  limitPerSecond: number;
  ratio: number;
}

/** Calls `next()` for `ms` milliseconds (after a short warm-up) and counts the IDs. */
export async function benchSnowflake(ms = 2000): Promise<SnowflakeBenchResult> {
  const layout = createLayout();
  const gen = new SnowflakeGenerator({ layout, workerId: 1 });
  await gen.start();
  try {
    const run = async (forMs: number): Promise<{ ids: number; seconds: number }> => {
      let ids = 0;
      let last = 0n;
      const start = performance.now();
      const end = start + forMs;
      while (performance.now() < end) {
        // Check the clock every 1 000 IDs; await only when the generator had to wait.
        for (let i = 0; i < 1000; i++) {
          const r = gen.next();
          const id = typeof r === 'bigint' ? r : await r;
          if (id <= last) throw new Error(`snowflake IDs went backwards: ${id} after ${last}`);
          last = id;
        }
        ids += 1000;
      }
      return { ids, seconds: (performance.now() - start) / 1000 };
    };
    await run(Math.min(300, ms));
    const { ids, seconds } = await run(ms);
    const idsPerSecond = ids / seconds;
    const limitPerSecond = (layout.maxSequence + 1) * 1000;
    return {
      name: 'snowflake next() in-process, pinned worker',
      idsPerSecond,
      limitPerSecond,
      ratio: idsPerSecond / limitPerSecond,
    };
  } finally {
    await gen.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ms = Number(process.argv[2] ?? 2000);
  const r = await benchSnowflake(Number.isInteger(ms) && ms >= 100 ? ms : 2000);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `${r.name}: ${fmt(r.idsPerSecond)} IDs/s, limit ${fmt(r.limitPerSecond)}/s, ratio ${r.ratio.toFixed(3)}`,
  );
}
