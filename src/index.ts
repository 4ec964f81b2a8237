/**
 * The library entry (`import { createAllocator } from 'idalloc'`): the allocator
 * in-process, without HTTP, with the same options as the service (docs/design.md §7).
 *
 * ```ts
 * const ids = await createAllocator({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'idalloc:' });
 * const id = await ids.next('order'); // a bigint; synchronous when buffered
 * await ids.close();
 * ```
 */
import { createAllocator as createFacade, type SnowflakeSource } from './allocator/index.js';
import type { SegmentOptions } from './allocator/segment.js';
import { checkSnowflakeLayout } from './allocator/snowflake/layout-check.js';
import {
  LAYOUT_PRESETS,
  SnowflakeGenerator,
  createLayout,
  type SnowflakeLayoutOptions,
} from './allocator/snowflake/index.js';
import type { AllocatorObserver, IdAllocator } from './allocator/types.js';
import type { WorkerLeaseHandle } from './core/lease-port.js';
import { silentLog, type Log } from './core/time-and-log.js';
import type { GrantRecorder } from './core/grant-log.js';
import { createGrantLog } from './grants/log.js';
import { NO_REGION, parseRegion, regionText, type Region } from './core/shape.js';
import { openLibraryStore, type OpenedStore, type RedisLike } from './store/open.js';

/** How the library builds its snowflake generator (docs/design.md §6). */
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
   * you pass stays yours: idalloc duplicates its own connections from it, and `close()`
   * leaves yours open. The allocation connection is always a separate one with no
   * offline queue and no resend (docs/design.md §8); snowflake leases get one of their own.
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
  /** Also receives the grant log: one info line `msg: "grant"` per grant (see README). */
  readonly log?: Log;
  /** This process in the grant log. @default hostname:pid */
  readonly nodeId?: string;
  /**
   * This process's region, `'i/N'` or `{ index, count }` (the service's `REGION`,
   * docs/design.md §13): segment IDs are shaped as region i of N, and tags shared by
   * another number of regions are refused WRONG_REGION. @default '0/1'
   */
  readonly region?: string | Region;
}

/**
 * An allocator for the tags in one Redis, over the connections the service builds (the
 * same factory: retry strategy, READONLY handling, command timeouts, connection names; a
 * dedicated allocation connection, and a dedicated one for snowflake worker leases).
 */
export async function createAllocator(opts: LibraryOptions): Promise<IdAllocator> {
  const region =
    opts.region === undefined
      ? NO_REGION
      : typeof opts.region === 'string'
        ? parseRegion(opts.region)
        : parseRegion(regionText(opts.region));
  const storeOptions = {
    // The store refuses tags of another region count (its open option `regions`).
    regions: region.count,
    redis: opts.redis,
    keyPrefix: opts.keyPrefix ?? 'idalloc:',
    minReplicas: opts.minReplicas ?? 0,
    waitTimeoutMs: opts.waitTimeoutMs ?? 100,
  };
  const store = openLibraryStore(storeOptions);
  let deployment: string;
  try {
    // The id stored in the store (core/deployment.ts): the service's nodes name it alike.
    deployment = await store.deploymentId();
  } catch (err) {
    await store.close();
    throw err;
  }
  const grants = createGrantLog(opts.log ?? silentLog, {
    ...(opts.nodeId === undefined ? {} : { nodeId: opts.nodeId }),
    deployment,
  });
  let snowflake: { source: SnowflakeSource; leases?: WorkerLeaseHandle } | undefined;
  try {
    snowflake = await snowflakeSource(opts, store, grants, region);
  } catch (err) {
    await store.close();
    throw err;
  }
  const facade = createFacade({
    store,
    region,
    ...(opts.segment ? { segment: opts.segment } : {}),
    ...(snowflake ? { snowflake: snowflake.source } : {}),
    ...(opts.observer ? { observer: opts.observer } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    grants,
  });
  const close = facade.close.bind(facade);
  facade.close = async () => {
    // The generator releases its lease in close(); its connection goes after.
    await close();
    await snowflake?.leases?.close();
    await store.close();
  };
  return facade;
}

/** The snowflake source the options ask for, started; undefined for none. */
async function snowflakeSource(
  opts: LibraryOptions,
  store: OpenedStore,
  grants: GrantRecorder,
  region: Region,
): Promise<{ source: SnowflakeSource; leases?: WorkerLeaseHandle } | undefined> {
  const s = opts.snowflake;
  if (s === undefined || s === false) return undefined;
  if (typeof s === 'object' && 'next' in s) return { source: s };
  const o: LibrarySnowflakeOptions = s === true ? {} : s;
  const layout =
    typeof o.layout === 'string' ? createLayout(LAYOUT_PRESETS[o.layout]) : createLayout(o.layout);
  if (store.layouts) await checkSnowflakeLayout(store.layouts, layout, opts.log ?? silentLog);
  const log = opts.log ?? silentLog;
  const leases =
    o.workerId === undefined
      ? store.openWorkerLeases((err) =>
          log.warn({ err: err.message }, 'snowflake lease connection error'),
        )
      : undefined;
  try {
    const generator = new SnowflakeGenerator({
      layout,
      ...(leases ? { leaseStore: leases.leases } : { workerId: o.workerId }),
      ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
      ...(o.maxBackwardMs === undefined ? {} : { maxBackwardMs: o.maxBackwardMs }),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.observer ? { observer: opts.observer } : {}),
      grants,
      // Worker IDs are split between regions, as in the service.
      region,
    });
    await generator.start();
    return { source: generator, ...(leases ? { leases } : {}) };
  } catch (err) {
    await leases?.close();
    throw err;
  }
}

export { ErrorCode, IdAllocError, isIdAllocError } from './core/errors.js';
export { SnowflakeGenerator, createLayout, LAYOUT_PRESETS } from './allocator/snowflake/index.js';
export type { DecodedSnowflake, IdRange } from './core/ids.js';
export type {
  DecodedTagId,
  IdAllocator,
  Readiness,
  SegmentState,
  Serving,
} from './allocator/types.js';
export type { ServedShape } from './allocator/shaping.js';
export { Shaper, parseRegion, type Region, type TagShape } from './core/shape.js';
export { RedisStore } from './store/open.js';
export { IdClient, type IdClientOptions } from './client/id-client.js';
