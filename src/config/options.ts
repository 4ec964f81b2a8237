/**
 * The parsed environment (schema.ts) turned into what each part is configured with
 * (core/settings.ts). With the schema, this is the only code that knows the names of the
 * environment variables: the store assembly, the allocator, the snowflake generator and
 * the HTTP app take typed settings, so none of them depends on how a process is
 * configured, and a library caller or a test builds the same settings by hand.
 */
import type {
  GrantLogSettings,
  HttpSettings,
  RedisTopology,
  SegmentSettings,
  SnowflakeSettings,
  StoreSettings,
} from '../core/settings.js';
import { NO_REGION, type Region } from '../core/shape.js';
import type { Config } from './schema.js';

/** Everything a node (service/node.ts) is started with. */
export interface NodeOptions {
  /** `HOST`, `PORT` */
  readonly listen: { readonly host: string; readonly port: number };
  readonly store: StoreSettings;
  /** `REGION`: this node's region i of N (docs/design.md §13). */
  readonly region: Region;
  /** `REQUIRE_DURABLE_STORE` */
  readonly requireDurableStore: boolean;
  readonly segment: SegmentSettings;
  readonly snowflake: SnowflakeSettings;
  readonly http: HttpSettings;
  readonly grantLog: GrantLogSettings;
  /** `METRICS_MAX_TAGS` */
  readonly metricsMaxTags: number;
  /** `LOG_LEVEL` */
  readonly logLevel: Config['LOG_LEVEL'];
  /** `WORKERS` */
  readonly workers: number;
  /** `KEY_PREFIX`, named in the node's first log line whatever its store. */
  readonly keyPrefix: string;
  /** `SHUTDOWN_DELAY_MS`: serving on after `/readyz` turned 503 at shutdown. */
  readonly shutdownDelayMs: number;
}

/** What the admin script works with (cli/): the store and the settings its commands use. */
export interface AdminOptions {
  readonly store: StoreSettings;
  /** `KEY_PREFIX`: named in the admin script's messages and exports. */
  readonly keyPrefix: string;
  /** `DATA_DIR`: where the embedded store's file is. */
  readonly dataDir: string;
  /** `MAX_STEP`: a new tag's default gap is 1000 × this (docs/design.md §8.1). */
  readonly maxStep: number;
  /** `SNOWFLAKE_LEASE_MS`: the margin beyond a worker's horizon in exports and imports. */
  readonly leaseMs: number;
  /** `SNOWFLAKE_WORKER_BITS`: how many worker IDs `tag export --move` marks. */
  readonly workerBits: number;
}

/** The Redis topology the configuration names, or undefined for the embedded store. */
export function topologyOf(c: Config): RedisTopology | undefined {
  if (c.REDIS_SENTINELS && c.REDIS_SENTINEL_MASTER) {
    return { kind: 'sentinel', sentinels: c.REDIS_SENTINELS, master: c.REDIS_SENTINEL_MASTER };
  }
  if (c.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: c.REDIS_CLUSTER_NODES };
  if (c.REDIS_URL) return { kind: 'redis', url: c.REDIS_URL };
  return undefined;
}

/** The store the configuration names: a Redis setting, else the embedded store at `DATA_DIR`. */
export function storeSettings(c: Config): StoreSettings {
  const topology = topologyOf(c);
  const regions = (c.REGION ?? NO_REGION).count;
  if (topology === undefined) return { kind: 'embedded', dataDir: c.DATA_DIR, regions };
  return {
    kind: 'redis',
    topology,
    keyPrefix: c.KEY_PREFIX,
    minReplicas: c.REDIS_MIN_REPLICAS,
    waitTimeoutMs: c.REDIS_WAIT_TIMEOUT_MS,
    regions,
  };
}

export function segmentSettings(c: Config): SegmentSettings {
  return {
    prefetchAt: c.PREFETCH_AT,
    targetSeconds: c.SEGMENT_TARGET_SECONDS,
    maxStep: c.MAX_STEP,
    fetchTimeoutMs: c.FETCH_TIMEOUT_MS,
  };
}

export function snowflakeSettings(c: Config): SnowflakeSettings {
  return {
    layout: {
      epochMs: c.SNOWFLAKE_EPOCH,
      workerBits: c.SNOWFLAKE_WORKER_BITS,
      sequenceBits: c.SNOWFLAKE_SEQUENCE_BITS,
    },
    workerId: c.SNOWFLAKE_WORKER_ID,
    leaseMs: c.SNOWFLAKE_LEASE_MS,
    maxBackwardMs: c.MAX_BACKWARD_MS,
  };
}

export function httpSettings(c: Config): HttpSettings {
  return {
    maxBatch: c.MAX_BATCH,
    maxRange: c.MAX_RANGE,
    idempotencyTtlSeconds: c.IDEMPOTENCY_TTL_SECONDS,
    apiTokens: c.API_TOKENS,
    keyTokens: c.KEY_TOKENS,
    metricsPublic: c.METRICS_PUBLIC,
  };
}

export function nodeOptions(c: Config): NodeOptions {
  return Object.freeze({
    listen: { host: c.HOST, port: c.PORT },
    store: storeSettings(c),
    region: c.REGION ?? NO_REGION,
    requireDurableStore: c.REQUIRE_DURABLE_STORE,
    segment: segmentSettings(c),
    snowflake: snowflakeSettings(c),
    http: httpSettings(c),
    grantLog: { nodeId: c.NODE_ID, file: c.GRANT_LOG },
    metricsMaxTags: c.METRICS_MAX_TAGS,
    logLevel: c.LOG_LEVEL,
    workers: c.WORKERS,
    keyPrefix: c.KEY_PREFIX,
    shutdownDelayMs: c.SHUTDOWN_DELAY_MS,
  });
}

export function adminOptions(c: Config): AdminOptions {
  return Object.freeze({
    store: storeSettings(c),
    keyPrefix: c.KEY_PREFIX,
    dataDir: c.DATA_DIR,
    maxStep: c.MAX_STEP,
    leaseMs: c.SNOWFLAKE_LEASE_MS,
    workerBits: c.SNOWFLAKE_WORKER_BITS,
  });
}
