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
import type { AllocatorObserver, IdAllocator, Log } from './allocator/types.js';
import { allocationOptions, trackConnectionEpoch, type RedisLike } from './store/redis/client.js';
import { defineScripts } from './store/redis/scripts.js';
import { RedisStore } from './store/redis/store.js';

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
  /** A snowflake generator for snowflake tags (see the README). */
  readonly snowflake?: SnowflakeSource;
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
  const store = new RedisStore({ client, allocClient, keyPrefix: opts.keyPrefix ?? 'idalloc:' });
  const facade = createFacade({
    store,
    ...(opts.segment ? { segment: opts.segment } : {}),
    ...(opts.snowflake ? { snowflake: opts.snowflake } : {}),
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

export { ErrorCode, IdAllocError, isIdAllocError } from './errors.js';
export type {
  DecodedSnowflake,
  IdAllocator,
  IdRange,
  Readiness,
  SegmentState,
} from './allocator/types.js';
export { RedisStore } from './store/redis/store.js';
export { IdClient, type IdClientOptions } from './client/id-client.js';
