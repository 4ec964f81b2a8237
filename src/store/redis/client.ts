/**
 * Builds the ioredis clients for the configured topology (SPEC §10, §11): standalone
 * (`REDIS_URL`), Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`) or Cluster
 * (`REDIS_CLUSTER_NODES`).
 *
 * Two clients: a general one for admin work and readiness, and the allocation client,
 * which never queues commands while offline and never resends them after a reconnect
 * (SPEC §8), so that a reply always belongs to the connection the guards checked.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../../config.js';
import { defineScripts } from './scripts.js';

export type RedisLike = Redis | Cluster;

export type RedisTopology =
  | { readonly kind: 'redis'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly { host: string; port: number }[];
      readonly master: string;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly { host: string; port: number }[] };

/** The Redis topology a configuration names, or undefined for the embedded store. */
export function topologyOf(c: Config): RedisTopology | undefined {
  if (c.REDIS_SENTINELS && c.REDIS_SENTINEL_MASTER) {
    return { kind: 'sentinel', sentinels: c.REDIS_SENTINELS, master: c.REDIS_SENTINEL_MASTER };
  }
  if (c.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: c.REDIS_CLUSTER_NODES };
  if (c.REDIS_URL) return { kind: 'redis', url: c.REDIS_URL };
  return undefined;
}

/** Backoff between reconnects: 50 ms doubling to 2 s, with jitter. */
function retryStrategy(times: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(times, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

const common: RedisOptions = {
  // IDs go up to 2^63: never let a reply pass through a double.
  stringNumbers: true,
  retryStrategy,
  connectTimeout: 2000,
};

/** Options of the allocation connection: fail fast, never replay (SPEC §8). */
export const allocationOptions: RedisOptions = Object.freeze({
  ...common,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  commandTimeout: 2000,
  maxRetriesPerRequest: 0,
});

/** Options of the general connection (admin script, readiness, leases). */
export const generalOptions: RedisOptions = Object.freeze({
  ...common,
  maxRetriesPerRequest: 2,
  commandTimeout: 5000,
});

function build(t: RedisTopology, opts: RedisOptions, name: string): RedisLike {
  const connectionName = `idalloc-${name}`;
  switch (t.kind) {
    case 'redis':
      return new Redis(t.url, { ...opts, connectionName });
    case 'sentinel':
      return new Redis({
        ...opts,
        connectionName,
        sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: t.master,
        sentinelRetryStrategy: retryStrategy,
      });
    case 'cluster': {
      const clusterOpts: ClusterOptions = {
        redisOptions: { ...opts, connectionName },
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: opts.enableOfflineQueue ?? true,
        maxRedirections: 16,
        retryDelayOnFailover: 200,
      };
      return new Cluster(
        t.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOpts,
      );
    }
  }
}

/** A client with the idalloc scripts defined on it. */
export function createRedisClient(t: RedisTopology, role: 'general' | 'allocation'): RedisLike {
  const client = build(t, role === 'allocation' ? allocationOptions : generalOptions, role);
  defineScripts(client);
  return client;
}
