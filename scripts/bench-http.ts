/**
 * Requests per second of `GET /v1/ids/{tag}` through the whole service (express, auth
 * check, validation, metrics, the allocator), in process, against a baseline measured in
 * the same run: a bare express route answering a constant over the same client. The
 * ratio is what the service keeps of what express itself can do on this machine.
 *
 * The client (bench-http-client.mjs) is a minimal HTTP/1.1 keep-alive loop over raw
 * sockets (bounded concurrency, bounded time) in a worker thread, so that it neither
 * shares the server's event loop nor adds much cost of its own.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import express from 'express';
import { pino } from 'pino';
import { createAllocator } from '../src/allocator/index.js';
import { createApp, ReadyState } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createMetrics } from '../src/metrics.js';
import { segmentTag, testStore } from '../test/support/store.js';
import { testPrefix } from '../test/support/prefix.js';
import type { BenchResult } from './bench-segment.js';

/** Connections kept busy at once. */
const CONCURRENCY = 16;
/** Each side is measured in this many alternating slices of `ms / ROUNDS`. */
const ROUNDS = 4;

/** Requests per second against `port` for about `ms`, the client in a worker thread. */
async function requestsPerSecond(port: number, path: string, ms: number): Promise<number> {
  const worker = new Worker(new URL('./bench-http-client.mjs', import.meta.url), {
    workerData: { port, path, ms, concurrency: CONCURRENCY },
  });
  const [result] = (await once(worker, 'message')) as [
    { requests: number; seconds: number } | { error: string },
  ];
  await worker.terminate();
  if ('error' in result) throw new Error(`benchmark client failed: ${result.error}`);
  return result.requests / result.seconds;
}

async function listen(app: express.Express): Promise<Server> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;

/** Measures the service route and the bare baseline, each for about `ms`. */
export async function benchHttp(redisUrl: string, ms = 2000): Promise<BenchResult[]> {
  const store = testStore(redisUrl, `bench:${testPrefix()}`);
  await store.createTag(segmentTag('bench', { step: 100_000 }));
  const config = loadConfig({ REDIS_URL: redisUrl });
  const logger = pino({ level: 'info' }, pino.destination('/dev/null'));
  const metrics = createMetrics();
  const allocator = createAllocator({
    store,
    observer: metrics.observer,
    log: logger,
    segment: { maxStep: 10_000_000 },
  });
  const ready = new ReadyState({ allocator, metrics });
  const service = await listen(
    createApp({ allocator, tags: store, metrics, config, logger, ready }),
  );
  const bare = express();
  bare.set('etag', false);
  bare.get('/v1/ids/:tag', (_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end('{"tag":"bench","id":"1"}');
  });
  const baseline = await listen(bare);
  try {
    await allocator.next('bench'); // warm: the first segment is loaded
    await requestsPerSecond(portOf(service), '/v1/ids/bench', Math.min(500, ms)); // JIT warm-up
    await requestsPerSecond(portOf(baseline), '/v1/ids/bench', Math.min(500, ms));
    // Interleaved rounds: load from other processes drifts; both sides see the same drift.
    let base = 0;
    let value = 0;
    for (let round = 0; round < ROUNDS; round++) {
      base += (await requestsPerSecond(portOf(baseline), '/v1/ids/bench', ms / ROUNDS)) / ROUNDS;
      value += (await requestsPerSecond(portOf(service), '/v1/ids/bench', ms / ROUNDS)) / ROUNDS;
    }
    return [
      {
        name: 'GET /v1/ids/{tag} over HTTP',
        value,
        unit: 'req/s',
        baseline: base,
        ratio: value / base,
        note: `baseline: a bare express route answering a constant, ${CONCURRENCY} keep-alive connections`,
      },
    ];
  } finally {
    service.closeAllConnections();
    baseline.closeAllConnections();
    service.close();
    baseline.close();
    await allocator.close();
    await store.close();
  }
}
