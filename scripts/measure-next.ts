/**
 * The allocator's synchronous next() against its floor, for profiling
 * (`node --cpu-prof --import tsx scripts/measure-next.ts`) and for a steady ratio on a
 * loaded machine: each contender runs its own monomorphic loop, contenders alternate in
 * short rounds, and rates are per CPU second of this thread (wall time on a shared
 * machine measures the neighbours). Prints median ratios to the floor.
 *
 * Floors: a Map lookup + a BigInt counter, written as `c.cursor++` and as
 * `id = c.cursor; c.cursor = id + 1n` (V8 runs the second faster: the postfix form
 * converts and keeps the old value).
 */
import { createAllocator } from '../src/allocator/index.js';
import { createMetrics } from '../src/observe/metrics/index.js';
import { RedisServer } from '../test/support/redis-server.js';
import { segmentTag, testStore } from '../test/support/store.js';
import { alternate, median, type Loop } from './cpu-rate.js';

const ROUNDS = 15;
const ROUND_MS = 200;

const server = await RedisServer.start();
const store = testStore(server.url);
await store.createTag(segmentTag('bench', { step: 100_000 }));
const alloc = createAllocator({ store, segment: { maxStep: 10_000_000 } });
const metered = createAllocator({
  store,
  segment: { maxStep: 10_000_000 },
  observer: createMetrics({ defaultMetrics: false }).observer,
});
await alloc.next('bench');
await metered.next('bench');

const floorMap = new Map([['bench', { cursor: 0n }]]);
const contenders: Record<string, Loop> = {
  'floor c.cursor++': (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) x = floorMap.get('bench')!.cursor++;
    return x;
  },
  'floor id = c.cursor; c.cursor = id + 1n': (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) {
      const c = floorMap.get('bench')!;
      x = c.cursor;
      c.cursor = x + 1n;
    }
    return x;
  },
  'allocator next()': async (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) {
      const r = alloc.next('bench');
      x = typeof r === 'bigint' ? r : await r;
    }
    return x;
  },
  'allocator next() + metrics observer': async (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) {
      const r = metered.next('bench');
      x = typeof r === 'bigint' ? r : await r;
    }
    return x;
  },
};

const rates = await alternate(contenders, ROUNDS, ROUND_MS);
const floor = median(rates.get('floor c.cursor++')!.cpu);
const floor2 = median(rates.get('floor id = c.cursor; c.cursor = id + 1n')!.cpu);
for (const [name, { cpu: xs }] of rates) {
  const m = median(xs);
  console.log(
    `${name.padEnd(42)} ${(m / 1e6).toFixed(1).padStart(6)} M/CPU-s  ratio ${(m / floor).toFixed(2)} / ${(m / floor2).toFixed(2)}`,
  );
}
await alloc.close();
await metered.close();
await store.close();
await server.dispose();
