/**
 * A RedisStore on any topology (standalone, Sentinel, Cluster) with a fresh key prefix and
 * the guard options under test, built the way `openStore` builds it.
 */
import type { Config } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import type { RedisTopology } from '../../src/core/settings.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/store.js';
import { testPrefix } from './prefix.js';
import { storeSettings } from '../../src/config/options.js';

export type StoreGuards = Pick<
  RedisStoreOptions,
  'minReplicas' | 'waitTimeoutMs' | 'readyTimeoutMs' | 'now'
>;

/** `close()` quits both connections; connection errors are expected in these tests. */
export function storeOn(
  topology: RedisTopology,
  guards: StoreGuards = {},
  keyPrefix = testPrefix(),
): RedisStore {
  const store = new RedisStore({
    client: createRedisClient(topology, 'general'),
    allocClient: createRedisClient(topology, 'allocation', {
      commandTimeoutMs: Math.max(2000, (guards.waitTimeoutMs ?? 100) + 1000),
    }),
    keyPrefix,
    kind: topology.kind,
    ...guards,
  });
  store.onConnectionError(() => {}); // servers are killed on purpose here
  return store;
}

export const standalone = (port: number): RedisTopology => ({
  kind: 'redis',
  url: `redis://127.0.0.1:${port}`,
});

/** The Redis store `openStore` builds from a configuration (as the service does). */
export function redisStoreFrom(config: Config): RedisStore {
  const store: unknown = openStore(storeSettings(config));
  if (!(store instanceof RedisStore)) throw new Error('this configuration names no Redis');
  store.onConnectionError(() => {});
  return store;
}
