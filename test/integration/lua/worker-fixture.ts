/**
 * What the worker-*-2.lua tests share: a general client with the scripts defined, the
 * keys of a fresh prefix, and the executing server's run_id.
 */
import type { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createRedisClient } from '../../../src/store/redis/client.js';
import { createKeys, type Keys } from '../../../src/store/redis/keys.js';
import { testPrefix } from '../../support/prefix.js';

export interface WorkerFixture {
  readonly raw: Redis;
  readonly keys: Keys;
  /** [lease key, horizon key] of a worker ID. */
  pair(id: number): [string, string];
  /** The horizon hash as Redis holds it. */
  horizon(id: number): Promise<Record<string, string>>;
  runId(): Promise<string>;
  close(): Promise<void>;
}

export function workerFixture(): WorkerFixture {
  const raw = createRedisClient({ kind: 'redis', url: inject('redisUrl') }, 'general') as Redis;
  const keys = createKeys(testPrefix());
  return {
    raw,
    keys,
    pair: (id) => [keys.worker(id), keys.workerHorizon(id)],
    horizon: (id) => raw.hgetall(keys.workerHorizon(id)),
    async runId() {
      const m = /run_id:([0-9a-f]+)/.exec(await raw.info('server'));
      if (!m) throw new Error('INFO server has no run_id');
      return m[1]!;
    },
    async close() {
      await raw.quit();
    },
  };
}

/** A Unix ms comfortably in the present, for ARGV now. */
export const NOW = Date.UTC(2025, 0, 1);
