/**
 * Opens the store a configuration names (SPEC §11): Redis standalone, Sentinel or
 * Cluster; without any Redis setting, the embedded SQLite store at DATA_DIR/idalloc.db.
 */
import { ConfigError, type Config } from '../config.js';
import type { StoreLog } from './embedded/file-guard.js';
import { EmbeddedStore } from './embedded/store.js';
import { createRedisClient, topologyOf } from './redis/client.js';
import { RedisStore } from './redis/store.js';
import type { Store } from './types.js';

export type { Store } from './types.js';
export { EmbeddedStore } from './embedded/store.js';

/**
 * @param log where the embedded store reports its file lost or damaged while running
 * @throws ConfigError naming DATA_DIR when the embedded store cannot be created or
 *   written there, or its file is empty, not idalloc's, or damaged
 */
export function openStore(config: Config, log?: StoreLog): RedisStore | EmbeddedStore {
  if (!topologyOf(config)) return new EmbeddedStore({ dataDir: config.DATA_DIR, log });
  return openRedisStore(config);
}

/**
 * The Redis store of the configured topology, for callers that need Redis itself (its
 * durability check, its connection errors).
 * @throws ConfigError when no Redis setting is given
 */
export function openRedisStore(config: Config): RedisStore {
  const topology = topologyOf(config);
  if (!topology) {
    throw new ConfigError(
      'no Redis configured: set REDIS_URL (redis://host:6379), or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES',
    );
  }
  return new RedisStore({
    client: createRedisClient(topology, 'general'),
    // WAIT blocks the allocation connection up to REDIS_WAIT_TIMEOUT_MS: leave it room.
    allocClient: createRedisClient(topology, 'allocation', {
      commandTimeoutMs: Math.max(2000, config.REDIS_WAIT_TIMEOUT_MS + 1000),
    }),
    keyPrefix: config.KEY_PREFIX,
    kind: topology.kind,
    minReplicas: config.REDIS_MIN_REPLICAS,
    waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
  });
}

/**
 * The notice the service logs as its first line, or undefined for a store without one:
 * the embedded store serves one host only, and says how to move to Redis.
 */
export function storeWarning(store: Store): string | undefined {
  return store instanceof EmbeddedStore ? store.warning : undefined;
}

/** The safety gap a new tag gets unless told otherwise: 1000 × MAX_STEP (SPEC §8.1). */
export function defaultGap(config: Config): bigint {
  return 1000n * BigInt(config.MAX_STEP);
}
