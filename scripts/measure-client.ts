/**
 * A warm `IdClient.next()` at default settings against a real service in this process
 * (the app on port 0 over Redis), target 10 M IDs/s, beside the Map + BigInt counter
 * floor measured in the same run (see scripts/measure-next.ts for the allocator's own
 * next()). The loops yield to the event loop every 10 000 IDs, as any real caller does:
 * a lease (HTTP I/O, served by this same thread) can only land when the caller lets it.
 * Rates are given per wall second and per CPU second of this thread (on a shared machine
 * wall time also measures the neighbours); contenders alternate in short rounds.
 *
 * `node --import tsx scripts/measure-client.ts [--rounds 9]`; REDIS_URL or a throwaway
 * redis-server.
 */
import { parseArgs } from 'node:util';
import { IdClient } from '../src/client/id-client.js';
import { startService } from '../test/support/http.js';
import { RedisServer } from '../test/support/redis-server.js';
import { segmentTag } from '../test/support/store.js';
import { alternate, median, rate, type Loop } from './cpu-rate.js';

const ROUND_MS = 300;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' } } });
const rounds = Number(values.rounds);

const server = process.env.REDIS_URL ? undefined : await RedisServer.start();
const svc = await startService(process.env.REDIS_URL ?? server!.url);
const client = new IdClient({ urls: [svc.base] });
/** Leases of 1000 every time: the size rule off (what a fixed rangeSize gives). */
const fixed = new IdClient({ urls: [svc.base], rangeSize: 1000 });
await svc.store.createTag(segmentTag('order', { step: 1000 }));

const floorMap = new Map([['order', { cursor: 0n }]]);
const contenders: Record<string, Loop> = {
  'floor: Map lookup + c.cursor++': (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) x = floorMap.get('order')!.cursor++;
    return x;
  },
  'IdClient.next() warm, default settings': async (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) {
      const r = client.next('order');
      x = typeof r === 'bigint' ? r : await r;
    }
    return x;
  },
  'IdClient.next() fixed rangeSize 1000': async (n) => {
    let x = 0n;
    for (let i = 0; i < n; i++) {
      const r = fixed.next('order');
      x = typeof r === 'bigint' ? r : await r;
    }
    return x;
  },
};

try {
  await rate(contenders['IdClient.next() warm, default settings']!, 2000); // leases grow
  const rates = await alternate(contenders, rounds, ROUND_MS);
  const m = (x: number) => `${(x / 1e6).toFixed(1)} M/s`.padStart(9);
  for (const [name, r] of rates) {
    const spread = `${m(Math.min(...r.wall))}..${m(Math.max(...r.wall))}`;
    console.log(
      `${name.padEnd(40)} wall ${m(median(r.wall))} (${spread})  CPU ${m(median(r.cpu))}`,
    );
  }
} finally {
  await client.close();
  await fixed.close();
  await svc.close();
  await server?.dispose();
}
