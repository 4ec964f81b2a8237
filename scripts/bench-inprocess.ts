/**
 * In-process speed, each figure beside a floor measured in the same run (issue 10):
 * - the allocator's synchronous `next()` against a Map lookup + BigInt counter (the least
 *   any per-tag in-memory allocator does), bare and with the service's metrics observer;
 * - a warm `IdClient.next()` at default settings against a real service in this process
 *   (the app on port 0 over Redis), target 10 M IDs/s.
 * The loops yield to the event loop every 10 000 IDs, as any real caller does: a lease
 * (HTTP I/O) can only land when the caller lets it.
 *
 * `node --import tsx scripts/bench-inprocess.ts [--ms 2000] [--rounds 3]`; REDIS_URL or a
 * throwaway redis-server.
 */
import { parseArgs } from 'node:util';
import { createAllocator } from '../src/allocator/index.js';
import { IdClient } from '../src/client/id-client.js';
import { createMetrics } from '../src/metrics.js';
import { startService } from '../test/support/http.js';
import { testPrefix } from '../test/support/prefix.js';
import { RedisServer } from '../test/support/redis-server.js';
import { segmentTag, testStore } from '../test/support/store.js';

const CHUNK = 10_000;

/** Calls `fn` for about `ms`, yielding every CHUNK calls; returns calls per second. */
async function rate(ms: number, fn: () => bigint | Promise<bigint>): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < CHUNK; i++) {
      const r = fn();
      if (typeof r !== 'bigint') await r;
    }
    n += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  return (n * 1000) / (performance.now() - t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => `${(n / 1e6).toFixed(1)} M/s`;

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } },
});
const ms = Number(values.ms);
const rounds = Number(values.rounds);

const server = process.env.REDIS_URL ? undefined : await RedisServer.start();
const redisUrl = process.env.REDIS_URL ?? server!.url;
const store = testStore(redisUrl, `bench:${testPrefix()}`);
const metrics = createMetrics({ defaultMetrics: false });
const bare = createAllocator({ store, segment: { maxStep: 10_000_000 } });
const metered = createAllocator({
  store,
  segment: { maxStep: 10_000_000 },
  observer: metrics.observer,
});
const svc = await startService(redisUrl);
const client = new IdClient({ urls: [svc.base] });
try {
  await store.createTag(segmentTag('bench', { step: 100_000 }));
  await store.createTag(segmentTag('metered', { step: 100_000 }));
  await svc.store.createTag(segmentTag('order', { step: 1000 }));
  await bare.next('bench');
  await metered.next('metered');
  await rate(ms, () => client.next('order')); // warm: leases grow to their ceiling

  const floorMap = new Map([['bench', { cursor: 0n }]]);
  const rows: Record<string, number[]> = { floor: [], next: [], metered: [], client: [] };
  for (let i = 0; i < rounds; i++) {
    rows.floor!.push(await rate(ms, () => floorMap.get('bench')!.cursor++));
    rows.next!.push(await rate(ms, () => bare.next('bench')));
    rows.metered!.push(await rate(ms, () => metered.next('metered')));
    rows.client!.push(await rate(ms, () => client.next('order')));
  }
  const floor = median(rows.floor!);
  const line = (name: string, xs: number[], ratio: string) =>
    console.log(
      `${name.padEnd(44)} ${fmt(median(xs)).padStart(10)}  [${xs.map(fmt).join(', ')}]  ${ratio}`,
    );
  line('floor: Map lookup + BigInt counter', rows.floor!, '');
  line(
    'allocator next() (sync path)',
    rows.next!,
    `ratio ${(median(rows.next!) / floor).toFixed(2)} (target 0.70)`,
  );
  line(
    'allocator next() + metrics observer',
    rows.metered!,
    `ratio ${(median(rows.metered!) / floor).toFixed(2)}`,
  );
  line('IdClient.next() warm, default settings', rows.client!, `target 10 M/s`);
} finally {
  await client.close();
  await svc.close();
  await bare.close();
  await metered.close();
  await store.close();
  await server?.dispose();
}
