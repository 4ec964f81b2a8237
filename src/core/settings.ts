/**
 * What each part of a node is configured with, as typed values: the contract between the
 * edge that reads the environment (src/config/options.ts, the only reader of env names
 * besides the schema) and the parts that are configured (the store assembly, the
 * allocator, the snowflake generator, the HTTP app, the grant log). Plain data, no
 * behaviour; the parts keep their own defaults for what a library caller leaves out.
 */

/** A Redis deployment: standalone by URL, Sentinel, or Cluster (docs/design.md §11). */
export type RedisTopology =
  | { readonly kind: 'redis'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly { host: string; port: number }[];
      readonly master: string;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly { host: string; port: number }[] };

/**
 * Where the tags live: a Redis topology, or the embedded store's directory; with the
 * node's region count (`REGION`'s N), which the store checks each segment tag against.
 */
export type StoreSettings =
  | {
      readonly kind: 'embedded';
      readonly dataDir: string;
      /** The node's region count (`REGION=i/N`: N); 1 when absent. */
      readonly regions?: number;
    }
  | {
      readonly kind: 'redis';
      /**
       * The node's region count (`REGION=i/N`: N); 1 when absent. A segment tag stored
       * with another count is refused WRONG_REGION (docs/design.md §13).
       */
      readonly regions?: number;
      readonly topology: RedisTopology;
      /** `KEY_PREFIX` */
      readonly keyPrefix: string;
      /** `REDIS_MIN_REPLICAS` */
      readonly minReplicas: number;
      /** `REDIS_WAIT_TIMEOUT_MS` */
      readonly waitTimeoutMs: number;
    };

/** The segment buffers (docs/design.md §5). */
export interface SegmentSettings {
  /** `PREFETCH_AT` */
  readonly prefetchAt: number;
  /** `SEGMENT_TARGET_SECONDS` */
  readonly targetSeconds: number;
  /** `MAX_STEP` */
  readonly maxStep: number;
  /** `FETCH_TIMEOUT_MS` */
  readonly fetchTimeoutMs: number;
  /** Not from the environment (tests, library callers): the allocator's defaults otherwise. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly refusalHoldMs?: number;
  /** Hand-back at a clean stop (allocator/handback.ts); not from the environment. @default true */
  readonly handBack?: boolean;
}

/** The widths of the two snowflake presets (`SNOWFLAKE_LAYOUT`); the timestamp takes 41 bits in both. */
export const LAYOUT_PRESETS = Object.freeze({
  /** 10 bits: 1 024 workers; 12 bits: 4 096 IDs per ms per worker. IDs below 2^63. */
  default: Object.freeze({ workerBits: 10, sequenceBits: 12 }),
  /** 4 bits: 16 workers; 8 bits: 256 IDs per ms per worker. IDs below 2^53. */
  'js-safe': Object.freeze({ workerBits: 4, sequenceBits: 8 }),
});

/** Milliseconds of 2024-01-01T00:00:00Z, the default `SNOWFLAKE_EPOCH`. */
export const DEFAULT_SNOWFLAKE_EPOCH = Date.UTC(2024, 0, 1);

/** The snowflake generator of a node (docs/design.md §6). */
export interface SnowflakeSettings {
  /** `SNOWFLAKE_EPOCH`, `SNOWFLAKE_WORKER_BITS`, `SNOWFLAKE_SEQUENCE_BITS` (after `SNOWFLAKE_LAYOUT`) */
  readonly layout: {
    readonly epochMs: number;
    readonly workerBits: number;
    readonly sequenceBits: number;
  };
  /** `SNOWFLAKE_WORKER_ID`: a pinned worker ID (no lease), one process only. */
  readonly workerId: number | undefined;
  /** `SNOWFLAKE_LEASE_MS` */
  readonly leaseMs: number;
  /** `MAX_BACKWARD_MS` */
  readonly maxBackwardMs: number;
}

/** The HTTP app's limits and access (docs/design.md §2). */
export interface HttpSettings {
  /** `MAX_BATCH`: most IDs one `GET /v1/ids/{tag}?count=` returns. */
  readonly maxBatch: number;
  /** `MAX_RANGE`: most IDs one `GET /v1/ranges/{tag}` leases. */
  readonly maxRange: number;
  /** `IDEMPOTENCY_TTL_SECONDS`: how long a key's record is kept. @default 86400 */
  readonly idempotencyTtlSeconds?: number;
  /** `API_TOKENS`: bearer tokens; undefined for an open service. */
  readonly apiTokens: readonly string[] | undefined;
  /**
   * `KEY_TOKENS`: bearer tokens trusted with permute keys (ranges of permute tags, the
   * decode of their IDs); undefined or absent: no caller is.
   */
  readonly keyTokens?: readonly string[] | undefined;
  /** `METRICS_PUBLIC`: `/metrics` without a token. */
  readonly metricsPublic: boolean;
}

/** Where a node's grant lines go (docs/design.md §8.6). */
export interface GrantLogSettings {
  /** `NODE_ID` (default hostname:pid) */
  readonly nodeId: string | undefined;
  /** `GRANT_LOG`: a file to append to instead of the log on stdout. */
  readonly file: string | undefined;
}
