/**
 * docs/design.md §8: the allocation connection neither queues commands while it is down nor
 * replays them after it reconnects, so a reply always belongs to the connection the
 * guards checked — and a command the caller saw fail never runs later behind its back.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import type { RedisTopology } from '../../src/core/settings.js';
import { connectionEpoch, createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { waitUntil, withClient } from '../support/wait.js';

let server: RedisServer;
let alloc: Redis;
let store: RedisStore;

beforeEach(async () => {
  // AOF always: the data survives the restarts below, so the counter can be compared.
  server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const topology: RedisTopology = { kind: 'redis', url: server.url };
  alloc = createRedisClient(topology, 'allocation') as Redis;
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
  await store.close();
  await server.dispose();
});

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error('expected the promise to reject');
  return err;
}

describe('the allocation connection', () => {
  it('fails a command issued while disconnected at once, and never runs it after reconnecting', async () => {
    const first = await store.allocate('order', 10, false);
    await server.kill('SIGKILL');
    await waitUntil(() => alloc.status !== 'ready', 'the client to notice the server is gone');

    const t0 = Date.now();
    const raw = await failure(alloc.idallocAllocate(store.keys.tag('order'), '10', '0'));
    expect(Date.now() - t0).toBeLessThan(1000); // rejected, not queued (the server stays down)
    expect(raw.message).toMatch(/enableOfflineQueue|Connection is closed/);

    const viaStore = await failure(store.allocate('order', 10, false));
    expect(viaStore).toBeInstanceOf(IdAllocError);
    expect((viaStore as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);

    const epoch = connectionEpoch(alloc);
    await server.start();
    await waitUntil(() => connectionEpoch(alloc) > epoch, 'the allocation client to reconnect');
    // On the same connection: anything ioredis had queued would have run before this.
    expect(await alloc.hget(store.keys.tag('order'), 'next')).toBe(String(first.end + 1n));
  });

  it('does not resend a command whose connection dropped before the reply', async () => {
    const first = await store.allocate('order', 10, false);
    await withClient(server.port, async (admin) => {
      // The next allocation reaches the server but waits there; then its connection dies.
      await admin.call('CLIENT', 'PAUSE', '5000', 'WRITE');
      const pending = failure(store.allocate('order', 10, false));
      let id = '';
      await waitUntil(async () => {
        const list = String(await admin.call('CLIENT', 'LIST'));
        const line = list.split('\n').find((l) => / name=idalloc-allocation .*flags=b /.test(l));
        id = /^id=(\d+)/.exec(line ?? '')?.[1] ?? '';
        return id !== '';
      }, 'the allocation to be held by CLIENT PAUSE');
      const epoch = connectionEpoch(alloc);
      await admin.call('CLIENT', 'KILL', 'ID', id);
      const err = await pending;
      expect((err as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);
      await waitUntil(() => connectionEpoch(alloc) > epoch, 'the allocation client to reconnect');
      await admin.call('CLIENT', 'UNPAUSE');
    });
    // A resent allocation would have taken 11..20 once the pause ended.
    expect(await alloc.hget(store.keys.tag('order'), 'next')).toBe(String(first.end + 1n));
    const next = await store.allocate('order', 10, false);
    expect(next.start).toBe(first.end + 1n);
  });

  it('lets a fresh store allocate at once: it waits for the first connection, queueing nothing', async () => {
    const fresh = createRedisClient({ kind: 'redis', url: server.url }, 'allocation') as Redis;
    const early = new RedisStore({
      client: createRedisClient({ kind: 'redis', url: server.url }, 'general'),
      allocClient: fresh,
      keyPrefix: store.keys.prefix,
    });
    try {
      expect(fresh.status).not.toBe('ready');
      const grant = await early.allocate('order', 10, false);
      expect(grant.start).toBe(1n);
    } finally {
      await early.close();
    }
  });
});
