/**
 * A node that cannot take writes right now (too few replicas for min-replicas-to-write,
 * a master demoted to replica) is a reason to try again — UNAVAILABLE, never INTERNAL,
 * and nothing written.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { connectionEpoch, createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from '../support/prefix.js';
import { startReplicated, type ReplicatedSet } from '../support/replication.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { waitUntil, withClient } from '../support/wait.js';

let set: ReplicatedSet;
const prefix = testPrefix();

beforeAll(async () => {
  set = await startReplicated({ replicas: 1 });
  const admin = storeOn(standalone(set.master.port), {}, prefix);
  await admin.createTag(segmentTag('order', { step: 10 }));
  await admin.close();
  await set.waitInSync();
});
afterAll(async () => {
  await set.dispose();
});

async function refusal(p: Promise<unknown>): Promise<IdAllocError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof IdAllocError)) throw new Error(`expected an IdAllocError, got ${err}`);
  return err;
}

describe('RedisStore.allocate on a node that refuses writes', () => {
  it('answers UNAVAILABLE when min-replicas-to-write is not met, and writes nothing', async () => {
    const store = storeOn(standalone(set.master.port), {}, prefix);
    await withClient(set.master.port, (c) => c.config('SET', 'min-replicas-to-write', '2'));
    try {
      const err = await refusal(store.allocate('order', 10, false));
      expect(err.code).toBe(ErrorCode.UNAVAILABLE);
      expect(err.message).toMatch(/NOREPLICAS/);
      expect((await store.getTag('order'))?.next).toBe(1n);
    } finally {
      await withClient(set.master.port, (c) => c.config('SET', 'min-replicas-to-write', '0'));
      await store.close();
    }
  });

  it('answers UNAVAILABLE on a replica (READONLY) and reconnects, resending nothing', async () => {
    const url = standalone(set.replicas[0]!.port);
    const alloc = createRedisClient(url, 'allocation') as Redis;
    const store = new RedisStore({
      client: createRedisClient(url, 'general'),
      allocClient: alloc,
      keyPrefix: prefix,
    });
    store.onConnectionError(() => {});
    try {
      await store.ping();
      await waitUntil(() => connectionEpoch(alloc) === 1, 'the first connection');
      const err = await refusal(store.allocate('order', 10, false));
      expect(err.code).toBe(ErrorCode.UNAVAILABLE);
      expect(err.message).toMatch(/READONLY/);
      await waitUntil(() => connectionEpoch(alloc) === 2, 'a reconnect after READONLY');
      expect(
        await withClient(set.master.port, (c) => c.hget(store.keys.tag('order'), 'next')),
      ).toBe('1');
    } finally {
      await store.close();
    }
  });
});
