/**
 * docs/design.md §8.3 on real processes: with REDIS_MIN_REPLICAS=1 a grant is served only once a
 * replica acknowledged it; otherwise it is discarded and none of its IDs is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { startReplicated, type ReplicatedSet } from '../support/replication.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';

let set: ReplicatedSet;
let store: RedisStore;

beforeAll(async () => {
  set = await startReplicated({ replicas: 1 });
  store = storeOn(standalone(set.master.port), { minReplicas: 1, waitTimeoutMs: 500 });
  await store.createTag(segmentTag('order', { step: 100 }));
});
afterAll(async () => {
  await store.close();
  await set.dispose();
});

describe('RedisStore.allocate with REDIS_MIN_REPLICAS=1', () => {
  it('serves a grant a replica acknowledged', async () => {
    const grant = await store.allocate('order', 100, false);
    expect(grant).toMatchObject({ start: 1n, end: 100n });
  });

  it('discards the grant when no replica acknowledges within the timeout', async () => {
    const replica = set.replicas[0]!;
    await replica.kill('SIGKILL');
    const t0 = Date.now();
    const err = await store.allocate('order', 100, false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(490); // WAIT ran out its timeout
    expect(err).toBeInstanceOf(IdAllocError);
    const e = err as IdAllocError;
    expect(e.code).toBe(ErrorCode.UNAVAILABLE);
    expect(e.details).toMatchObject({ discarded: true, start: '101', end: '200', acked: 0 });
    // The range is spent in the store: skipped, never handed to anyone.
    expect((await store.getTag('order'))?.next).toBe(201n);

    await replica.start();
    await set.waitInSync(replica);
    const after = await store.allocate('order', 100, false);
    expect(after.start).toBe(201n);
  });
});

describe('RedisStore.allocateKeyed with REDIS_MIN_REPLICAS=1', () => {
  const keyed = (record: string, count = 10) => ({
    record: record.padEnd(64, '0'),
    params: `ids:${count}`,
    count,
    region: 0,
    ttlMs: 60_000,
  });

  it('confirms a keyed grant and its replays with WAIT; a replay not confirmed is refused, nothing discarded', async () => {
    const first = await store.allocateKeyed('order', keyed('aa'));
    expect(first.replay).toBe(false);
    const replica = set.replicas[0]!;
    await replica.kill('SIGKILL');

    // The replay wrote its record again: WAIT covers the first grant too, and fails here.
    const err = await store.allocateKeyed('order', keyed('aa')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IdAllocError);
    expect((err as IdAllocError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((err as IdAllocError).details.discarded).toBeUndefined();
    // A fresh keyed grant is discarded as any grant is.
    await expect(store.allocateKeyed('order', keyed('bb'))).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      details: { discarded: true },
    });

    await replica.start();
    await set.waitInSync(replica);
    const again = await store.allocateKeyed('order', keyed('aa'));
    expect(again).toMatchObject({ replay: true, start: first.start, end: first.end });
  });
});
