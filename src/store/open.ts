/**
 * The one store assembly: opens the store its settings name (docs/design.md §11) — Redis
 * standalone, Sentinel or Cluster, or the embedded SQLite store at DATA_DIR/idalloc.db —
 * and hands it over as an {@link OpenedStore}, which says what
 * the store can do. The service, the library and the admin script open stores here
 * only: this is the one module that imports store/redis and store/embedded.
 */
import type { DeploymentIdentity } from '../core/deployment.js';
import { ConfigError } from '../core/errors.js';
import type { LayoutRegistry } from '../core/layout-port.js';
import type { WorkerLeaseHandle, WorkerTransfer } from '../core/lease-port.js';
import type { RedisTopology, StoreSettings } from '../core/settings.js';
import type { IgnoredKeys, Store } from '../core/store-ports.js';
import { checkKeyPrefix } from '../core/tags.js';
import { EmbeddedStore } from './embedded/store.js';
import type { StoreLog } from './embedded/file-guard.js';
import { createRedisClient, duplicateClient, type RedisLike } from './redis/client.js';
import type { DurabilityReport } from './redis/durability.js';
import { RedisStore } from './redis/store.js';

export type { Store } from '../core/store-ports.js';
export type { RedisLike } from './redis/client.js';
export {
  StoreNotDurableError,
  summary as durabilitySummary,
  type DurabilityReport,
} from './redis/durability.js';
export { RedisStore } from './redis/store.js';

/** A store as opened from configuration: its ports, and what else it can do. */
export interface OpenedStore extends Store, DeploymentIdentity {
  /** A notice to log as the first line (the embedded store serves one host only). */
  readonly warning: string | undefined;
  /**
   * Why the store serves no more, once that was found (the embedded store's file deleted
   * or replaced while running); undefined while it serves.
   */
  readonly fault?: string | undefined;
  /** The file the store lives in (the embedded store); undefined for Redis. */
  readonly path?: string;
  /** Where the snowflake layout is recorded, when the store records one. */
  readonly layouts: LayoutRegistry | undefined;
  /**
   * Hears the errors of the store's connections (ioredis prints unheard ones on stderr),
   * with which connection failed (Redis: `general`, `allocation`).
   */
  onConnectionError(listener: (err: Error, connection: string) => void): void;
  /**
   * Hears that a connection is (again) ready, by the name its errors carry: the end of
   * an outage (observe/outage-log.ts). Never called where there is no connection.
   */
  onConnectionReady(listener: (connection: string) => void): void;
  /**
   * Hears, once per listing or export, of the keys it left out as not this deployment's
   * tags (Redis: another `KEY_PREFIX` nested in this one). Absent where every stored row
   * is a tag (the embedded store).
   */
  onIgnoredKeys?(listener: (ignored: IgnoredKeys) => void): void;
  /**
   * Can the store lose acknowledged writes? Undefined: nothing to check, durable by
   * construction (the embedded store commits with synchronous=FULL).
   */
  checkDurability(): Promise<DurabilityReport | undefined>;
  /** The snowflake worker leases, over a connection of their own where there is one. */
  openWorkerLeases(onError: (err: Error) => void, onReady?: () => void): WorkerLeaseHandle;
  /** Snowflake worker leases and horizons for `tag export` / `tag import`. */
  workerTransfer(): WorkerTransfer;
}

/**
 * @throws ConfigError naming DATA_DIR when the embedded store cannot be created or
 *   written there
 */
export function openStore(settings: StoreSettings, log?: StoreLog): OpenedStore {
  if (settings.kind === 'embedded') {
    return new EmbeddedStore({
      dataDir: settings.dataDir,
      log,
      ...(settings.regions === undefined ? {} : { regions: settings.regions }),
    });
  }
  return openRedisStore(settings);
}

/**
 * The Redis store of the configured topology.
 * @throws ConfigError when no Redis setting is given
 */
export function openRedisStore(settings: StoreSettings): RedisStore {
  if (settings.kind !== 'redis') {
    throw new ConfigError(
      'no Redis configured: set REDIS_URL (redis://host:6379), or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES',
    );
  }
  return redisStoreOf(settings.topology, settings);
}

interface RedisSettings {
  readonly keyPrefix: string;
  readonly minReplicas: number;
  readonly waitTimeoutMs: number;
  /** The node's region count; 1 when absent. */
  readonly regions?: number | undefined;
}

/** Makes a connection of a role: from a topology (the service), or from a caller's client. */
type Connect = (
  role: 'general' | 'allocation',
  settings?: { commandTimeoutMs: number },
) => RedisLike;

/**
 * A RedisStore on the connections the service uses: a general one, a dedicated
 * allocation one (no offline queue, no resend) and, when leases are opened, a dedicated
 * lease one — whichever way `connect` makes them.
 */
function redisStoreOn(connect: Connect, s: RedisSettings, kind?: RedisStore['kind']): RedisStore {
  return new RedisStore({
    client: connect('general'),
    allocClient: connect('allocation', {
      commandTimeoutMs: allocationTimeoutMs(s.waitTimeoutMs),
    }),
    // Claims and renewals WAIT up to REDIS_WAIT_TIMEOUT_MS under REDIS_MIN_REPLICAS.
    leaseClient: () =>
      connect('general', {
        commandTimeoutMs: Math.max(5000, allocationTimeoutMs(s.waitTimeoutMs)),
      }),
    keyPrefix: s.keyPrefix,
    ...(kind === undefined ? {} : { kind }),
    minReplicas: s.minReplicas,
    waitTimeoutMs: s.waitTimeoutMs,
    ...(s.regions === undefined ? {} : { regions: s.regions }),
  });
}

/** The service's connections, from the one factory (redis/client.ts). */
function redisStoreOf(topology: RedisTopology, s: RedisSettings): RedisStore {
  return redisStoreOn((role, o) => createRedisClient(topology, role, o), s, topology.kind);
}

/** WAIT blocks the allocation connection up to REDIS_WAIT_TIMEOUT_MS: leave it room. */
function allocationTimeoutMs(waitTimeoutMs: number): number {
  return Math.max(2000, waitTimeoutMs + 1000);
}

/** What the library (`createAllocator`) opens a store from. */
export interface LibraryStoreOptions {
  /** A `redis://` URL, or an ioredis client the caller built (and keeps). */
  readonly redis: string | RedisLike;
  readonly keyPrefix: string;
  readonly minReplicas: number;
  readonly waitTimeoutMs: number;
  /** The node's region count (`REGION=i/N`: N); 1 when absent. */
  readonly regions?: number;
}

/**
 * The library's store. From a URL, exactly the service's connections (same factory,
 * options and names); from a client the caller built, connections derived from it with
 * the same rules for the allocation role, and the caller's client left open on close.
 */
export function openLibraryStore(o: LibraryStoreOptions): OpenedStore {
  const settings = {
    keyPrefix: checkKeyPrefix(o.keyPrefix),
    minReplicas: o.minReplicas,
    waitTimeoutMs: o.waitTimeoutMs,
    regions: o.regions,
  };
  if (typeof o.redis === 'string') return redisStoreOf({ kind: 'redis', url: o.redis }, settings);
  const client = o.redis;
  return redisStoreOn((role, s) => duplicateClient(client, role, s), settings);
}

/**
 * The notice the service logs as its first line, or undefined for a store without one:
 * the embedded store serves one host only, and says how to move to Redis.
 */
export function storeWarning(store: { readonly warning?: string | undefined }): string | undefined {
  return store.warning;
}

/** The configured store's address for messages, without a password. */
export function storeLocation(settings: StoreSettings): string {
  if (settings.kind === 'embedded') return `the embedded store in ${settings.dataDir}`;
  const t = settings.topology;
  const list = (nodes: readonly { host: string; port: number }[]) =>
    nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (t.kind) {
    case 'redis':
      return t.url.replace(/\/\/([^@/]*)@/, (_m, auth: string) =>
        auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@',
      );
    case 'sentinel':
      return `sentinels ${list(t.sentinels)} (master '${t.master}')`;
    case 'cluster':
      return `cluster nodes ${list(t.nodes)}`;
  }
}

/** The safety gap a new tag gets unless told otherwise: 1000 × MAX_STEP (docs/design.md §8.1). */
export function defaultGap(maxStep: number): bigint {
  return 1000n * BigInt(maxStep);
}
