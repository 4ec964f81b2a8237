/**
 * A server that stops answering without closing the connection (partitioned away,
 * frozen: here SIGSTOP) leaves a TCP connection that would stay open for minutes, and
 * ioredis asks the Sentinels or the slot map again only when a connection closes. So the
 * allocation connection drops a connection that gets no reply within its command
 * timeout, and the next allocation runs on a fresh one (after a failover: to the new
 * master). The partition tests show the effect across namespaces; this is the mechanism.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { connectionEpoch, createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { info, waitUntil } from '../support/wait.js';

let server: RedisServer;
let alloc: Redis;
let store: RedisStore;
let pid: number;

beforeEach(async () => {
  server = await RedisServer.start();
  pid = Number((await info(server.port, 'server')).process_id);
  const topology = { kind: 'redis' as const, url: server.url };
  alloc = createRedisClient(topology, 'allocation', { commandTimeoutMs: 500 }) as Redis;
  store = new RedisStore({
    client: createRedisClient(topology, 'general'),
    allocClient: alloc,
    keyPrefix: testPrefix(),
    readyTimeoutMs: 300,
  });
  store.onConnectionError(() => {});
  await store.createTag(segmentTag('order', { step: 10 }));
});

afterEach(async () => {
  process.kill(pid, 'SIGCONT');
  await store.close();
  await server.dispose();
});

describe('the allocation connection to a server that stops answering', () => {
  it('fails the allocation, drops the connection, and allocates on a new one', async () => {
    const first = await store.allocate('order', 10, false);
    const epoch = connectionEpoch(alloc);
    let closed = 0;
    alloc.on('close', () => (closed += 1));
    process.kill(pid, 'SIGSTOP');
    const err = await store.allocate('order', 10, false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IdAllocError);
    expect((err as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);
    // The silent connection is closed, not kept for the next command.
    await waitUntil(() => closed > 0, 'the allocation connection to be dropped', 5000);
    expect(alloc.status).not.toBe('ready');

    process.kill(pid, 'SIGCONT');
    await waitUntil(() => alloc.status === 'ready', 'a new allocation connection', 10_000);
    const next = await store.allocate('order', 10, false);
    expect(next.start).toBeGreaterThan(first.end);
    expect(connectionEpoch(alloc)).toBeGreaterThan(epoch);
  });
});
