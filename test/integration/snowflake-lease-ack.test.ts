/**
 * Worker leases and horizons under REDIS_MIN_REPLICAS (docs/design.md §8.3 applied to §6): a
 * claim or a raised horizon counts only once the replicas have it, so a failover cannot
 * hand a worker ID, or timestamps under a horizon, to a second node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/core/errors.js';
import { createRedisClient, type RedisLike } from '../../src/store/redis/client.js';
import { createKeys } from '../../src/store/redis/keys.js';
import { RedisWorkerLeaseStore } from '../../src/store/redis/worker-lease.js';
import { testPrefix } from '../support/prefix.js';
import { startReplicated, type ReplicatedSet } from '../support/replication.js';

let set: ReplicatedSet;
let client: RedisLike;
let leases: RedisWorkerLeaseStore;

beforeAll(async () => {
  set = await startReplicated({ replicas: 1 });
  client = createRedisClient({ kind: 'redis', url: set.master.url }, 'general');
  leases = new RedisWorkerLeaseStore(client, createKeys(testPrefix()), {
    minReplicas: 1,
    waitTimeoutMs: 300,
  });
});
afterAll(async () => {
  await client.quit().catch(() => undefined);
  await set.dispose();
});

const claim = (id: number, token: string, now: number) =>
  leases.claim(id, { token, leaseMs: 5000, now, aheadMs: 4000, marginMs: 0, maxWaitMs: 0 });

describe('worker leases with a replication ack', () => {
  it('claims and renews while a replica acknowledges, and refuses both once none does', async () => {
    const now = Date.now();
    const claimed = await claim(1, 'tok-a', now);
    expect(claimed.kind).toBe('claimed');
    const renewed = await leases.renew(1, {
      token: 'tok-a',
      leaseMs: 5000,
      now: now + 10,
      target: now + 4010,
      marginMs: 0,
    });
    expect(renewed.kind).toBe('renewed');

    await set.replicas[0]!.kill('SIGKILL');
    // The horizon raise reaches the master only: not confirmed, so not to be used.
    await expect(
      leases.renew(1, {
        token: 'tok-a',
        leaseMs: 5000,
        now: now + 20,
        target: now + 4020,
        marginMs: 0,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE, message: /not confirmed on 1 replica/ });
    await expect(claim(2, 'tok-b', now + 30)).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: /the claim of snowflake worker 2 is not confirmed/,
    });
  });
});
