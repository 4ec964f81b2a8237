/**
 * The library builds its Redis connections as the service does (one factory,
 * src/store/redis/client.ts): named connections, a dedicated allocation connection that
 * neither queues commands while it is down nor resends them after a reconnect, and a
 * dedicated connection for snowflake worker leases.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { createAllocator } from '../../src/index.js';
import { openLibraryStore, type OpenedStore } from '../../src/store/open.js';
import { createKeys } from '../../src/store/redis/keys.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';
import { waitUntil, withClient } from '../support/wait.js';

let server: RedisServer;

beforeEach(async () => {
  // AOF always: the counter survives the restart below, so it can be compared.
  server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
});

afterEach(async () => {
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

/** The names of the connections the server sees, one entry per connection. */
async function connectionNames(port: number): Promise<string[]> {
  return withClient(port, async (admin) =>
    String(await admin.call('CLIENT', 'LIST'))
      .split('\n')
      .map((line) => / name=(\S*) /.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith('idalloc-')),
  );
}

describe('createAllocator connections', () => {
  it("opens the service's named connections, with dedicated allocation and lease connections", async () => {
    const keyPrefix = testPrefix();
    const admin = testStore(server.url, keyPrefix);
    await admin.createTag(segmentTag('order'));
    await admin.close();
    const ids = await createAllocator({
      redis: server.url,
      keyPrefix,
      snowflake: { leaseMs: 3000 },
    });
    try {
      expect(await ids.next('order')).toBe(1n);
      const names = (await connectionNames(server.port)).sort();
      // General (tags, readiness), allocation, and the worker leases' own general one.
      expect(names).toEqual(['idalloc-allocation', 'idalloc-general', 'idalloc-general']);
    } finally {
      await ids.close();
    }
    await waitUntil(
      async () => (await connectionNames(server.port)).length === 0,
      'close() to quit every connection the library opened',
    );
  });
});

describe.each([
  ['a redis:// URL', () => server.url],
  ['a client the caller built', () => new Redis(server.url)],
] as const)('the library allocation connection, from %s', (_what, redis) => {
  let store: OpenedStore;
  let given: Redis | undefined;
  let key: string;

  beforeEach(async () => {
    const option = redis();
    given = typeof option === 'string' ? undefined : option;
    const keyPrefix = testPrefix();
    key = createKeys(keyPrefix).tag('order');
    store = openLibraryStore({
      redis: option,
      keyPrefix,
      minReplicas: 0,
      waitTimeoutMs: 100,
    });
    store.onConnectionError(() => {}); // the server is killed on purpose here
    given?.on('error', () => {});
    await store.createTag(segmentTag('order', { step: 10 }));
  });

  afterEach(async () => {
    await store.close();
    given?.disconnect();
  });

  const counter = () => withClient(server.port, (c) => c.hget(key, 'next'));

  it('refuses a command while disconnected instead of queueing it for later', async () => {
    const first = await store.allocate('order', 10, false);
    await server.kill('SIGKILL');
    // The allocation waits for its connection, then fails: the connection is down.
    const viaStore = await failure(store.allocate('order', 10, false));
    expect((viaStore as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);
    // raiseFloor sends on the allocation connection at once: queued, it would run after
    // the restart and move the counter to 1000.
    const raised = failure(store.raiseFloor('order', 1000n));
    await server.start();
    expect(await raised).toBeInstanceOf(Error);
    expect(await counter()).toBe(String(first.end + 1n));
  });

  it('does not resend a command whose connection dropped before the reply', async () => {
    const first = await store.allocate('order', 10, false);
    await withClient(server.port, async (admin) => {
      await admin.call('CLIENT', 'PAUSE', '5000', 'WRITE');
      const pending = failure(store.allocate('order', 10, false));
      let id = '';
      await waitUntil(async () => {
        const list = String(await admin.call('CLIENT', 'LIST'));
        const line = list.split('\n').find((l) => / name=idalloc-allocation .*flags=b /.test(l));
        id = /^id=(\d+)/.exec(line ?? '')?.[1] ?? '';
        return id !== '';
      }, 'the allocation to be held by CLIENT PAUSE');
      await admin.call('CLIENT', 'KILL', 'ID', id);
      const err = await pending;
      expect((err as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);
      await waitUntil(async () => {
        const list = String(await admin.call('CLIENT', 'LIST'));
        return list
          .split('\n')
          .some((l) => l.includes(' name=idalloc-allocation ') && !l.startsWith(`id=${id} `));
      }, 'the allocation connection to reconnect');
      await admin.call('CLIENT', 'UNPAUSE');
    });
    // A resent allocation would have taken 11..20 once the pause ended.
    expect(await counter()).toBe(String(first.end + 1n));
    const next = await store.allocate('order', 10, false);
    expect(next.start).toBe(first.end + 1n);
  });
});

describe('the library allocation connection from a client the caller built, with a long WAIT', () => {
  it('lets WAIT run its REDIS_WAIT_TIMEOUT_MS: the socket timeout follows the command timeout', async () => {
    const given = new Redis(server.url);
    const keyPrefix = testPrefix();
    // No replica answers: WAIT 1 blocks its whole 2 500 ms, longer than the 2 s default.
    const store = openLibraryStore({
      redis: given,
      keyPrefix,
      minReplicas: 1,
      waitTimeoutMs: 2500,
    });
    store.onConnectionError(() => {});
    try {
      await store.createTag(segmentTag('order', { step: 10 }));
      const err = await store.allocate('order', 10, false).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The WAIT finished and the grant was discarded, not cut off by a socket timeout.
      expect(err).toBeInstanceOf(IdAllocError);
      expect((err as IdAllocError).details.discarded).toBe(true);
      expect((err as IdAllocError).message).toMatch(
        /0 of 1 required replicas acknowledged within 2500 ms/,
      );
    } finally {
      await store.close();
      given.disconnect();
    }
  }, 20_000);
});
