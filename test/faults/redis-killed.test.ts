/**
 * Redis SIGKILLed under load, then restarted with its data (AOF, appendfsync always, same
 * directory and port). The nodes — two in-process allocators and one HTTP service — keep
 * serving from their buffers, then answer UNAVAILABLE (over HTTP: 503 with Retry-After),
 * and recover by themselves once Redis is back — without a restart, above the safety gap
 * (the restarted server is a new incarnation), with no ID twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import type { IdAllocator } from '../../src/allocator/types.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import type { Grant } from '../../src/core/store-ports.js';
import { startService, type TestService } from '../support/http.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger, recordingStore } from '../support/ledger.js';
import { httpTarget, Load } from '../support/load.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { waitUntil } from '../support/wait.js';

const GAP = 1_000_000n;
const TAGS = ['order', 'invoice', 'user'];
let server: RedisServer;
const stores: RedisStore[] = [];
const nodes: IdAllocator[] = [];
const grants: { tag: string; at: number; grant: Grant }[] = [];
const SEGMENT = { fetchTimeoutMs: 300, retryBaseMs: 20, retryMaxMs: 250, maxStep: 500 };
let service: TestService;
const trail = new GrantLogs();

beforeAll(async () => {
  server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  for (let n = 0; n < 2; n++) {
    const store = storeOn(standalone(server.port), {}, stores[0]?.keys.prefix);
    stores.push(store);
    nodes.push(
      createAllocator({
        store: recordingStore(store, (tag, grant) => grants.push({ tag, at: Date.now(), grant })),
        segment: SEGMENT,
        grants: trail.node(`node${n}`),
      }),
    );
  }
  for (const t of TAGS) await stores[0]!.createTag(segmentTag(t, { step: 500, gap: GAP }));
  service = await startService(server.url, { keyPrefix: stores[0]!.keys.prefix, segment: SEGMENT });
});
afterAll(async () => {
  await service.close();
  await Promise.allSettled(nodes.map((n) => n.close()));
  await Promise.allSettled(stores.map((s) => s.close()));
  await server.dispose();
});

describe('Redis killed under load and restarted with its data', () => {
  it('serves from buffers, then UNAVAILABLE, then recovers by itself with no ID twice', async () => {
    const load = new Load({
      targets: [
        ...nodes.map((n, i) => ({ name: `node${i}`, next: (t: string) => n.next(t) })),
        httpTarget('http', service.base),
      ],
      tags: TAGS,
      concurrency: 4,
      intervalMs: 1, // a few thousand IDs/s: the buffers last a moment after the kill
    }).start();
    const before = new IdLedger();
    try {
      await waitUntil(() => TAGS.every((t) => load.ledger.count(t) > 500n), 'load on every tag');
      const grantedBefore = new Map(
        TAGS.map((t) => [
          t,
          grants
            .filter((g) => g.tag === t)
            .reduce((m, g) => (g.grant.end > m ? g.grant.end : m), 0n),
        ]),
      );
      await server.kill('SIGKILL');
      const killedAt = Date.now();
      const servedAtKill = load.served;
      await waitUntil(() => (load.errors.get('UNAVAILABLE') ?? 0) > 0, 'the buffers to run dry');
      const servedFromBuffers = load.served - servedAtKill;
      expect(servedFromBuffers).toBeGreaterThan(0);
      // Over HTTP, a node with nothing left answers 503 UNAVAILABLE with Retry-After.
      let refusal: Response | undefined;
      await waitUntil(async () => {
        const res = await fetch(`${service.base}/v1/ids/${TAGS[0]}`);
        if (res.status !== 503) {
          await res.body?.cancel();
          return false;
        }
        refusal = res;
        return true;
      }, 'a 503 from the HTTP node');
      expect(refusal!.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(((await refusal!.json()) as { error: { code: string } }).error.code).toBe(
        'UNAVAILABLE',
      );
      before.merge(load.ledger);

      await server.start(); // same port and directory: the AOF is replayed
      const restartedAt = Date.now();
      await waitUntil(
        () => TAGS.every((t) => grants.some((g) => g.tag === t && g.at > restartedAt)),
        'a new grant on every tag',
        20_000,
      );
      const servedAtRestart = load.served;
      await waitUntil(() => load.served > servedAtRestart + 1000, 'serving again');

      for (const t of TAGS) {
        const first = grants.find((g) => g.tag === t && g.at > restartedAt)!.grant;
        // A new incarnation: the counter skipped its gap above every acknowledged grant
        // (whichever node, the HTTP one included, asked the restarted server first).
        expect(first.start).toBeGreaterThanOrEqual(grantedBefore.get(t)! + 1n + GAP);
      }
      console.log(
        `redis killed: ${servedFromBuffers} IDs served from buffers after SIGKILL; first grants ${Math.min(...TAGS.map((t) => grants.find((g) => g.tag === t && g.at > restartedAt)!.at)) - restartedAt} ms after restart; outage ${load.longestOutage(killedAt)} ms; errors ${JSON.stringify(load.errorCounts())}`,
      );
      expect(Object.keys(load.errorCounts())).toEqual(['UNAVAILABLE']);
    } finally {
      await load.stop();
    }
    expect(load.ledger.overlaps()).toEqual([]);
    // The same verdict from the nodes' grant logs alone, as an operator would get it; the
    // restart shows as incarnation jumps explaining the gaps.
    trail.addParsed(service.logs);
    const report = trail.expectNoOverlaps(TAGS.length * 2);
    for (const t of report.tags) expect(BigInt(t.gapCauses.incarnation_jump)).toBeGreaterThan(0n);
  });
});
