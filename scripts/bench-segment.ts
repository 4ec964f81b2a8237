/**
 * In-process segment IDs per second, against a baseline measured in the same run: a bare
 * BigInt counter (what handing out IDs from memory costs at the very least). The ratio
 * is what the allocator's bookkeeping (double buffer, prefetch, fence) keeps of it.
 */
import { createAllocator } from '../src/allocator/index.js';
import { segmentTag, testStore } from '../test/support/store.js';
import { testPrefix } from '../test/support/prefix.js';

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number;
  readonly ratio: number;
  readonly note: string;
}

/** Runs `fn` repeatedly for about `ms` and returns operations per second. */
export async function opsPerSecond(ms: number, batch: number, fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  let ops = 0;
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < batch; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    ops += batch;
  }
  return (ops * 1000) / (performance.now() - t0);
}

export async function benchSegment(redisUrl: string, ms = 2000): Promise<BenchResult[]> {
  const store = testStore(redisUrl, `bench:${testPrefix()}`);
  await store.createTag(segmentTag('bench', { step: 100_000 }));
  const alloc = createAllocator({ store, segment: { maxStep: 10_000_000 } });
  try {
    await alloc.next('bench'); // warm: first segment loaded
    let counter = 0n;
    const baseline = await opsPerSecond(ms, 10_000, () => counter++);
    const single = await opsPerSecond(ms, 10_000, () => alloc.next('bench'));
    const batchOps = await opsPerSecond(ms, 100, () => alloc.nextBatch('bench', 100));
    const batched = batchOps * 100;
    return [
      {
        name: 'segment next() in process',
        value: single,
        unit: 'IDs/s',
        baseline,
        ratio: single / baseline,
        note: 'baseline: a bare BigInt counter in the same loop',
      },
      {
        name: 'segment nextBatch(100) in process',
        value: batched,
        unit: 'IDs/s',
        baseline,
        ratio: batched / baseline,
        note: 'baseline: a bare BigInt counter in the same loop',
      },
    ];
  } finally {
    await alloc.close();
    await store.close();
  }
}

/** Heap in use after a full collection (run node with --expose-gc; else best effort). */
function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Memory per served tag: heap growth of an allocator holding both buffers of `tags`
 * tags, against a baseline of the same number of bare `{ start, end, cursor }` records
 * (the least any design must keep per tag).
 */
export async function benchMemory(redisUrl: string, tags = 2000): Promise<BenchResult> {
  const store = testStore(redisUrl, `bench:${testPrefix()}`);
  const names = Array.from({ length: tags }, (_, i) => `t${i}`);
  for (let i = 0; i < names.length; i += 200) {
    await Promise.all(names.slice(i, i + 200).map((name) => store.createTag(segmentTag(name))));
  }
  const alloc = createAllocator({ store });
  try {
    const before = heapUsed();
    for (const name of names) {
      await alloc.next(name);
      await alloc.nextBatch(name, 150); // past the prefetch mark: both buffers filled
    }
    await new Promise((r) => setTimeout(r, 200));
    const perTag = (heapUsed() - before) / tags;

    const start = heapUsed();
    const records = names.map((_, i) => ({ start: BigInt(i), end: BigInt(i + 999), cursor: 0n }));
    const perRecord = (heapUsed() - start) / records.length;
    return {
      name: `heap per served tag (${tags} tags)`,
      value: perTag,
      unit: 'bytes',
      baseline: perRecord,
      ratio: perTag / perRecord,
      note: 'baseline: one bare { start, end, cursor } record of bigints',
    };
  } finally {
    await alloc.close();
    await store.close();
  }
}
