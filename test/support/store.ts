import { createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from './prefix.js';

/** A RedisStore on `url` with a fresh key prefix; `close()` quits both connections. */
export function testStore(url: string, keyPrefix = testPrefix(), now?: () => number): RedisStore {
  const topology = { kind: 'redis' as const, url };
  return new RedisStore({
    client: createRedisClient(topology, 'general'),
    allocClient: createRedisClient(topology, 'allocation'),
    keyPrefix,
    ...(now ? { now } : {}),
  });
}

/** The defaults `tag create` uses, for tests that only care about some fields. */
export const segmentTag = (
  name: string,
  over: Partial<{ step: number; start: bigint; max: bigint; gap: bigint }> = {},
) => ({
  name,
  mode: 'segment' as const,
  step: over.step ?? 1000,
  start: over.start ?? 1n,
  max: over.max ?? 2n ** 63n - 1n,
  gap: over.gap ?? 1_000_000_000n,
  description: '',
});
