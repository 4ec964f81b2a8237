/**
 * What the Lua script tests share: a RedisStore on a fresh prefix, and a raw client
 * with the scripts defined, for return codes the store does not let through and for
 * damaging a tag by hand.
 */
import type { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createRedisClient } from '../../../src/store/redis/client.js';
import type { RedisStore } from '../../../src/store/redis/store.js';
import { segmentTag, testStore } from '../../support/store.js';

export { segmentTag };

export interface LuaFixture {
  readonly store: RedisStore;
  /** A general client with the idalloc scripts defined (replies as strings). */
  readonly raw: Redis;
  /** The key of a tag in this fixture's prefix. */
  key(name: string): string;
  /** The run_id of the server the tests run against. */
  runId(): Promise<string>;
  close(): Promise<void>;
}

export function luaFixture(now?: () => number): LuaFixture {
  const url = inject('redisUrl');
  const store = testStore(url, undefined, now);
  const raw = createRedisClient({ kind: 'redis', url }, 'general') as Redis;
  return {
    store,
    raw,
    key: (name) => store.keys.tag(name),
    async runId() {
      const info = await raw.info('server');
      const m = /run_id:([0-9a-f]+)/.exec(info);
      if (!m) throw new Error('INFO server has no run_id');
      return m[1]!;
    },
    async close() {
      await Promise.allSettled([store.close(), raw.quit()]);
    },
  };
}
