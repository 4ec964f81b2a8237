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
import { promote, startReplicated, type ReplicatedSet } from '../support/replication.js';
import { info } from '../support/wait.js';

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
    if (claimed.kind !== 'claimed') throw new Error(`not claimed: ${claimed.kind}`);
    const renewed = await leases.renew(1, {
      token: 'tok-a',
      leaseMs: 5000,
      now: now + 10,
      target: now + 4010,
      marginMs: 0,
      floor: claimed.floor,
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
        floor: claimed.floor,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE, message: /not confirmed on 1 replica/ });
    await expect(claim(2, 'tok-b', now + 30)).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: /the claim of snowflake worker 2 is not confirmed/,
    });
  });

  it("hands a promoted replica's re-fence to the holder even when the renewal that wrote it went unconfirmed", async () => {
    // A master and two replicas: the master dies, one replica is promoted while the other
    // still follows the dead master (Sentinel reconfigures it only afterwards).
    const three = await startReplicated({ replicas: 2 });
    const keys = createKeys(testPrefix());
    const on = (url: string) => createRedisClient({ kind: 'redis', url }, 'general');
    const before = on(three.master.url);
    before.on('error', () => undefined); // its server is killed below
    const after = on(three.replicas[0]!.url);
    try {
      const ack = { minReplicas: 1, waitTimeoutMs: 300 };
      const now = Date.now();
      const claimed = await new RedisWorkerLeaseStore(before, keys, ack).claim(4, {
        token: 'tok-a',
        leaseMs: 30_000,
        now,
        aheadMs: 4000,
        marginMs: 5000,
        maxWaitMs: 10 ** 9,
      });
      if (claimed.kind !== 'claimed') throw new Error(`not claimed: ${claimed.kind}`);
      await three.waitInSync();
      await three.master.kill('SIGKILL');
      await promote(three.replicas[0]!);
      const leases = new RedisWorkerLeaseStore(after, keys, ack);
      const renew = (at: number) =>
        leases.renew(4, {
          token: 'tok-a',
          leaseMs: 30_000,
          now: at,
          target: at + 4000,
          marginMs: 5000,
          floor: claimed.floor,
        });
      // Another run_id: the script re-fences, and no replica acknowledges it.
      await expect(renew(now + 100)).rejects.toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        message: /the renewal of snowflake worker 4 is not confirmed on 1 replica/,
      });
      // Yet the script re-fenced in the promoted replica: its run_id and the new floor.
      const stored = await after.hgetall(keys.workerHorizon(4));
      const fence = claimed.horizon + 1 + 5000;
      expect(stored).toMatchObject({
        run_id: (await info(three.replicas[0]!.port, 'server')).run_id,
        floor: String(fence),
      });
      await three.follow(three.replicas[1]!, three.replicas[0]!);
      // The retry meets this server's own run_id: the stored floor above the holder's
      // still fences it, above the old horizon by the margin.
      const renewed = await renew(now + 1200);
      expect(renewed).toMatchObject({ kind: 'renewed', floor: fence });
    } finally {
      before.disconnect();
      after.disconnect();
      await three.dispose();
    }
  });
});
