/**
 * Both stores as tests of shapes and regions open them (store-shapes, store-tombstone-
 * shapes): a store of a backend as a node of `regions` regions, over a place of its own —
 * a key prefix on the suite's Redis, or a fresh directory for the embedded store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Store } from '../../src/core/store-ports.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from './prefix.js';

export interface RegionBackend {
  readonly name: string;
  /** A store of this backend as a node of `regions` regions; `place` names the data (a prefix or a directory). */
  open(place: string, regions: number): Store;
  /** A fresh place. */
  place(): string;
  cleanup(place: string): void;
}

/** The Redis and the embedded backend; `dirPrefix` names the embedded store's temporary directories. */
export function regionBackends(dirPrefix: string): readonly RegionBackend[] {
  const redis: RegionBackend = {
    name: 'RedisStore',
    open(place, regions) {
      const topology = { kind: 'redis' as const, url: inject('redisUrl') };
      return new RedisStore({
        client: createRedisClient(topology, 'general'),
        allocClient: createRedisClient(topology, 'allocation'),
        keyPrefix: place,
        regions,
      });
    },
    place: () => testPrefix(),
    cleanup: () => {},
  };
  const embedded: RegionBackend = {
    name: 'EmbeddedStore',
    open: (place, regions) => new EmbeddedStore({ dataDir: place, regions }),
    place: () => mkdtempSync(join(tmpdir(), dirPrefix)),
    cleanup: (place) => rmSync(place, { recursive: true, force: true }),
  };
  return [redis, embedded];
}
