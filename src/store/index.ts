/**
 * Opens the store a configuration names (SPEC §11): Redis standalone, Sentinel or
 * Cluster. The embedded store is not built yet: without a Redis setting the caller is
 * told how to point at one.
 */
import { ConfigError, type Config } from '../config.js';
import { createRedisClient, topologyOf } from './redis/client.js';
import { RedisStore } from './redis/store.js';

export type { Store } from './types.js';

export function openStore(config: Config): RedisStore {
  const topology = topologyOf(config);
  if (!topology) {
    throw new ConfigError(
      'no store configured: set REDIS_URL (redis://host:6379), or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES',
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

/** The safety gap a new tag gets unless told otherwise: 1000 × MAX_STEP (SPEC §8.1). */
export function defaultGap(config: Config): bigint {
  return 1000n * BigInt(config.MAX_STEP);
}
