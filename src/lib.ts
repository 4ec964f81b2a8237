/**
 * The library entry (`import { createAllocator } from 'idalloc'`): the allocator
 * in-process, without HTTP, with the same options as the service (SPEC §7).
 *
 * ```ts
 * const ids = await createAllocator({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'idalloc:' });
 * const id = await ids.next('order'); // a bigint; synchronous when buffered
 * await ids.close();
 * ```
 */
import { Cluster, Redis } from 'ioredis';
import { createAllocator as createFacade, type SnowflakeSource } from './allocator/index.js';
import type { SegmentOptions } from './allocator/segment.js';
import {
  LAYOUT_PRESETS,
  SnowflakeGenerator,
  createLayout,
  type SnowflakeLayoutOptions,
} from './allocator/snowflake/index.js';
import { silentLog, type Log } from './core/time-and-log.js';
import { type AllocatorObserver, type IdAllocator } from './allocator/types.js';
import { allocationOptions, trackConnectionEpoch, type RedisLike } from './store/redis/client.js';
import { defineScripts } from './store/redis/scripts.js';
import { RedisStore } from './store/redis/store.js';
import { RedisWorkerLeaseStore } from './store/redis/worker-lease.js';
import { checkSnowflakeLayout } from './allocator/snowflake/layout-check.js';

/** How the library builds its snowflake generator (SPEC §6). */
export interface LibrarySnowflakeOptions {
  /** A preset or explicit widths. @default 'default' (41 | 10 | 12 bits from 2024-01-01) */
  readonly layout?: keyof typeof LAYOUT_PRESETS | SnowflakeLayoutOptions;
  /** Pin a worker ID instead of leasing one (one process only). */
  readonly workerId?: number;
  /** Lease length in ms. @default 30000 */
  readonly leaseMs?: number;
  /** Clock steps back up to this are waited out. @default 5 */
  readonly maxBackwardMs?: number;
}

export interface LibraryOptions {
  /**
   * A `redis://` URL, or an ioredis client (standalone, Sentinel or Cluster). A client
   * you pass stays yours: `close()` leaves it open. The allocation connection is always
   * a separate one with no offline queue and no resend (SPEC §8).
   */
  readonly redis: string | RedisLike;
  /** @default 'idalloc:' */
  readonly keyPrefix?: string;
  /** Segment tuning: prefetchAt, targetSeconds, maxStep, fetchTimeoutMs. */
  readonly segment?: Partial<SegmentOptions>;
  /**
   * Snowflake tags: `true` leases a worker ID in this Redis with the default layout;
   * options choose layout, pinning and lease; or pass your own source. Omitted, snowflake
   * tags answer WRONG_MODE.
   */
  readonly snowflake?: boolean | LibrarySnowflakeOptions | SnowflakeSource;
  /** `REDIS_MIN_REPLICAS`: serve a segment only once this many replicas have it. @default 0 */
  readonly minReplicas?: number;
  /** `REDIS_WAIT_TIMEOUT_MS`. @default 100 */
  readonly waitTimeoutMs?: number;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
}

/** An allocator for the tags in one Redis. */
export async function createAllocator(opts: LibraryOptions): Promise<IdAllocator> {
  const owned = typeof opts.redis === 'string';
  const client: RedisLike =
    typeof opts.redis === 'string' ? new Redis(opts.redis, { stringNumbers: true }) : opts.redis;
  defineScripts(client);
  const allocClient: RedisLike =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          ...client.options,
          enableOfflineQueue: false,
          redisOptions: { ...client.options.redisOptions, ...allocationOptions },
        })
      : client.duplicate(allocationOptions);
  defineScripts(allocClient);
  if (allocClient instanceof Redis) trackConnectionEpoch(allocClient);
  const store = new RedisStore({
    client,
    allocClient,
    keyPrefix: opts.keyPrefix ?? 'idalloc:',
    ...(opts.minReplicas === undefined ? {} : { minReplicas: opts.minReplicas }),
    ...(opts.waitTimeoutMs === undefined ? {} : { waitTimeoutMs: opts.waitTimeoutMs }),
  });
  let snowflake: SnowflakeSource | undefined;
  try {
    snowflake = await snowflakeSource(opts, client, store);
  } catch (err) {
    await Promise.allSettled([allocClient.quit(), owned ? client.quit() : Promise.resolve()]);
    throw err;
  }
  const facade = createFacade({
    store,
    ...(opts.segment ? { segment: opts.segment } : {}),
    ...(snowflake ? { snowflake } : {}),
    ...(opts.observer ? { observer: opts.observer } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const close = facade.close.bind(facade);
  facade.close = async () => {
    await close();
    await Promise.allSettled([allocClient.quit(), owned ? client.quit() : Promise.resolve()]);
  };
  return facade;
}

/** The snowflake source the options ask for, started; undefined for none. */
async function snowflakeSource(
  opts: LibraryOptions,
  client: RedisLike,
  store: RedisStore,
): Promise<SnowflakeSource | undefined> {
  const s = opts.snowflake;
  if (s === undefined || s === false) return undefined;
  if (typeof s === 'object' && 'next' in s) return s;
  const o: LibrarySnowflakeOptions = s === true ? {} : s;
  const layout =
    typeof o.layout === 'string' ? createLayout(LAYOUT_PRESETS[o.layout]) : createLayout(o.layout);
  await checkSnowflakeLayout(store, layout, opts.log ?? silentLog);
  const generator = new SnowflakeGenerator({
    layout,
    ...(o.workerId === undefined
      ? {
          leaseStore: new RedisWorkerLeaseStore(client, store.keys, {
            minReplicas: opts.minReplicas ?? 0,
            waitTimeoutMs: opts.waitTimeoutMs ?? 100,
          }),
        }
      : { workerId: o.workerId }),
    ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
    ...(o.maxBackwardMs === undefined ? {} : { maxBackwardMs: o.maxBackwardMs }),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.observer ? { observer: opts.observer } : {}),
  });
  await generator.start();
  return generator;
}

export { ErrorCode, IdAllocError, isIdAllocError } from './core/errors.js';
export { SnowflakeGenerator, createLayout, LAYOUT_PRESETS } from './allocator/snowflake/index.js';
export type { DecodedSnowflake, IdRange } from './core/ids.js';
export type { IdAllocator, Readiness, SegmentState } from './allocator/types.js';
export { RedisStore } from './store/redis/store.js';
export { IdClient, type IdClientOptions } from './client/id-client.js';
