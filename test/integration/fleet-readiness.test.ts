/**
 * Issue 17, item 1, "Done when": two nodes (real service processes) on one Redis of the
 * test's own. Redis stopped → both keep `/readyz` 200 while they serve from their buffers;
 * a node turns 503, with its reason, only once it can serve nothing (its buffers drawn
 * dry); Redis back → 200 again. Every ID drawn is collected: none twice, and the grant
 * log the nodes wrote audits clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantLogs } from '../support/grant-audit.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag, testStore } from '../support/store.js';
import { waitUntil } from '../support/wait.js';

const TAG = 'order';
/** Segments of 50 (MAX_STEP holds the step there): a node buffers 100 IDs at most. */
const STEP = 50;
let redis: RedisServer;
let nodes: ServiceProcess[] = [];
const drawn: string[] = [];

beforeAll(async () => {
  // AOF, fsync always: the Redis that comes back has every grant it acknowledged.
  redis = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const keyPrefix = testPrefix();
  const store = testStore(redis.url, keyPrefix);
  await store.createTag(segmentTag(TAG, { step: STEP }));
  await store.close();
  const env = {
    REDIS_URL: redis.url,
    KEY_PREFIX: keyPrefix,
    MAX_STEP: String(STEP),
    // A request that finds the buffers empty gives up quickly (503) while Redis is down.
    FETCH_TIMEOUT_MS: '300',
  };
  nodes = await Promise.all([startServiceProcess(env), startServiceProcess(env)]);
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.dispose()));
  await redis?.dispose();
});

interface ReadyAnswer {
  readonly status: number;
  readonly serving?: string;
  readonly message?: string;
}

/** `GET /readyz` on a fresh connection: the status and what the body says. */
async function readyz(node: ServiceProcess): Promise<ReadyAnswer> {
  const res = await fetch(`${node.base}/readyz`, { headers: { connection: 'close' } });
  const body = (await res.json()) as { serving?: string; error?: { message: string } };
  return {
    status: res.status,
    ...(body.serving ? { serving: body.serving } : {}),
    ...(body.error ? { message: body.error.message } : {}),
  };
}

/** Draws one ID; undefined for a 503 (anything else fails the test). */
async function drawOne(node: ServiceProcess): Promise<string | undefined> {
  const res = await fetch(`${node.base}/v1/ids/${TAG}`, { headers: { connection: 'close' } });
  const body = (await res.json()) as { id?: string };
  if (res.status === 503) return undefined;
  expect(res.status).toBe(200);
  drawn.push(body.id!);
  return body.id;
}

async function drawMany(node: ServiceProcess, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect(await drawOne(node)).toMatch(/^\d+$/);
}

async function readyGauge(node: ServiceProcess): Promise<string | undefined> {
  const text = await (await fetch(`${node.base}/metrics`)).text();
  return /^idalloc_ready (\d)$/m.exec(text)?.[1];
}

describe('two nodes on one Redis, Redis stopped and started again', () => {
  it('stay ready while they serve from their buffers; one turns 503 only once drawn dry; ready again once Redis is back', async () => {
    const [a, b] = nodes as [ServiceProcess, ServiceProcess];
    // Warm: each node holds a segment and has prefetched the next (10 % of 50 used).
    for (const n of nodes) {
      await drawMany(n, 10);
      expect(await readyz(n)).toEqual({ status: 200, serving: 'store' });
    }

    await redis.stop();
    // Both notice that the store is gone, and stay ready: their buffers serve.
    for (const n of nodes) {
      await waitUntil(async () => {
        const r = await readyz(n);
        expect(r.status).toBe(200); // never 503 on the way
        return r.serving === 'buffers';
      }, 'a node to say it serves from its buffers');
      await drawMany(n, 5); // and they do serve
      expect(await readyz(n)).toEqual({ status: 200, serving: 'buffers' });
      expect(await readyGauge(n)).toBe('1');
    }

    // Node a drawn dry: ready at every look until the draw that finds nothing.
    let served = 0;
    while ((await drawOne(a)) !== undefined) {
      served++;
      expect(served).toBeLessThanOrEqual(2 * STEP); // it held two segments at most
      if (served % 20 === 0) expect((await readyz(a)).status).toBe(200);
    }
    expect(served).toBeGreaterThan(0);
    const dry = await readyz(a);
    expect(dry.status).toBe(503);
    expect(dry.message).toMatch(
      /^not ready: can serve nothing: the store does not answer, no segment tag has IDs buffered/,
    );
    expect(await readyGauge(a)).toBe('0');
    // Node b still holds IDs: still ready, still serving.
    expect(await readyz(b)).toEqual({ status: 200, serving: 'buffers' });
    await drawMany(b, 3);

    await redis.start();
    for (const n of nodes) {
      await waitUntil(
        async () => (await readyz(n)).serving === 'store',
        'a node to be ready from the store again',
      );
      // The general connection answers the ping first; the allocation connection (no
      // offline queue) may still be reconnecting for a moment, when a draw gets a 503
      // with Retry-After: a client retries it.
      await waitUntil(
        async () => (await drawOne(n)) !== undefined,
        'a node to serve again once Redis is back',
      );
      await drawMany(n, 10);
    }

    expect(new Set(drawn).size).toBe(drawn.length);
    const trail = new GrantLogs();
    for (const n of nodes) trail.addParsed(n.logs);
    trail.expectNoOverlaps(4);
    // Every ID drawn lies in a segment a node logged as granted before serving it.
    const segments = [...a.logs, ...b.logs]
      .map((l) => l.grant as { kind?: string; start?: string; end?: string } | undefined)
      .filter((g) => g?.kind === 'segment')
      .map((g) => [BigInt(g!.start!), BigInt(g!.end!)] as const);
    for (const id of drawn.map(BigInt)) {
      expect(
        segments.some(([s, e]) => s <= id && id <= e),
        `ID ${id} in a logged grant`,
      ).toBe(true);
    }
  }, 120_000);
});
