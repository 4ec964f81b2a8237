/**
 * `npm run bench`: every benchmark, each reported as a ratio against a baseline measured
 * in the same run (these machines are shared and noisy: absolute figures drift, ratios
 * much less). Uses REDIS_URL when set, else starts a throwaway redis-server.
 *
 * Flags: --ms N (time per measurement, default 2000), --json.
 */
import { parseArgs } from 'node:util';
import { RedisServer } from '../test/support/redis-server.js';
import { benchHttp } from './bench-http.js';
import { benchMemory, benchSegment, type BenchResult } from './bench-segment.js';
import { benchSnowflake } from './bench-snowflake.js';

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '2000' }, json: { type: 'boolean', default: false } },
});
const ms = Number(values.ms);
if (!Number.isInteger(ms) || ms < 100) {
  console.error(`--ms ${values.ms}: expected an integer of at least 100`);
  process.exit(2);
}

const server = process.env.REDIS_URL ? undefined : await RedisServer.start();
const redisUrl = process.env.REDIS_URL ?? server!.url;
const results: BenchResult[] = [];
try {
  results.push(...(await benchSegment(redisUrl, ms)));
  const sf = await benchSnowflake(ms);
  results.push({
    name: sf.name,
    value: sf.idsPerSecond,
    unit: 'IDs/s',
    baseline: sf.limitPerSecond,
    ratio: sf.ratio,
    note: "baseline: the layout's limit (2^sequence bits per ms)",
  });
  results.push(...(await benchHttp(redisUrl, ms)));
  results.push(await benchMemory(redisUrl));
} finally {
  await server?.dispose();
}

if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(40)} ${fmt(r.value).padStart(14)} ${r.unit.padEnd(6)} ratio ${r.ratio.toFixed(3)}  (${r.note}: ${fmt(r.baseline)})`,
    );
  }
}
