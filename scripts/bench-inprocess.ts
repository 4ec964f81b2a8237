/**
 * The in-process contenders of `npm run bench`, run in a process of their own (pinned
 * by the bench): prints one JSON object `{ samples: { name: number[] } }` with one sample
 * per round for each contender, the contenders alternated within every round.
 *
 *   node --import tsx scripts/bench-inprocess.ts <redisUrl> <serviceBase> <ms> <rounds>
 *
 * - `floor`: a Map lookup + a BigInt counter per ID (the least any in-memory allocator
 *   does); `sync`: the allocator's `next()` on a buffered segment tag.
 * - `snowflake`: `SnowflakeGenerator.next()` called directly; its limit is the layout's
 *   4 096 IDs per millisecond.
 * - `client`: a warm `IdClient.next()` at its default settings against the running
 *   service (C).
 */
import { createAllocator } from '../src/allocator/index.js';
import { IdClient } from '../src/client/id-client.js';
import { segmentTag, testStore } from '../test/support/store.js';
import { testPrefix } from '../test/support/prefix.js';
import { benchSnowflake } from './bench-snowflake.js';

const [redisUrl, serviceBase, msArg, roundsArg] = process.argv.slice(2);
const ms = Number(msArg);
const rounds = Number(roundsArg);
if (!redisUrl || !serviceBase || !(ms > 0) || !(rounds > 0)) {
  console.error('usage: bench-inprocess.ts <redisUrl> <serviceBase> <ms> <rounds>');
  process.exit(2);
}

/** Calls `fn` for about `forMs` (checking the time every 10 000 calls): calls per second. */
async function perSecond(forMs: number, fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < forMs) {
    for (let i = 0; i < 10_000; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    n += 10_000;
  }
  return (n * 1000) / (performance.now() - t0);
}

const samples: Record<string, number[]> = { floor: [], sync: [], snowflake: [], client: [] };
const store = testStore(redisUrl, `bench:${testPrefix()}`);
await store.createTag(segmentTag('bench', { step: 1_000_000 }));
const alloc = createAllocator({ store, segment: { maxStep: 10_000_000 } });
const client = new IdClient({ urls: [serviceBase] });
try {
  await alloc.next('bench');
  const counters = new Map<string, { v: bigint }>([['bench', { v: 0n }]]);
  const floor = () => {
    const c = counters.get('bench')!;
    return c.v++;
  };
  for (let i = 0; i < 1_000_000; i++) await client.next('bench');
  await perSecond(Math.min(300, ms), floor);
  await perSecond(Math.min(300, ms), () => alloc.next('bench'));
  for (let round = 0; round < rounds; round++) {
    samples.floor!.push(await perSecond(ms, floor));
    samples.sync!.push(await perSecond(ms, () => alloc.next('bench')));
    samples.snowflake!.push((await benchSnowflake(ms)).idsPerSecond);
    samples.client!.push(await perSecond(ms, () => client.next('bench')));
  }
} finally {
  await client.close();
  await alloc.close();
  await store.close();
}
console.log(JSON.stringify({ samples }));
