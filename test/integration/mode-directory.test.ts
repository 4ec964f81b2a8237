/**
 * The allocator's mode directory: `/v1/ids` (no mode) and the Leaf routes (a wanted
 * mode) learn a tag's mode the same way, with at most one store round trip for a tag
 * this node has not served, and none once it has. Round trips are counted on a real
 * Redis store.
 */
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { createLayout, SnowflakeGenerator } from '../../src/allocator/snowflake/index.js';
import type { IdAllocator } from '../../src/allocator/types.js';
import { ErrorCode } from '../../src/core/errors.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { segmentTag, testStore } from '../support/store.js';

const url = inject('redisUrl');

let store: RedisStore;
let alloc: IdAllocator;
let trips: string[];

beforeEach(async () => {
  store = testStore(url);
  await store.createTag(segmentTag('order', { step: 100 }));
  await store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
  trips = [];
  // The facade sees the store through these three calls only; each is one round trip.
  const counted = {
    allocate: (tag: string, count: number, exact: boolean) => {
      trips.push(`allocate ${tag}`);
      return store.allocate(tag, count, exact);
    },
    raiseFloor: (tag: string, floor: bigint) => {
      trips.push(`raiseFloor ${tag}`);
      return store.raiseFloor(tag, floor);
    },
    getTag: (name: string) => {
      trips.push(`getTag ${name}`);
      return store.getTag(name);
    },
    ping: () => store.ping(),
  };
  const snowflake = new SnowflakeGenerator({ layout: createLayout(), workerId: 7 });
  await snowflake.start();
  // Prefetch only past 90 % of a 100-ID segment: the few IDs taken here start no
  // background fetch, so every trip counted is a request's own.
  alloc = createAllocator({ store: counted, snowflake, segment: { prefetchAt: 0.9 } });
});

afterEach(async () => {
  await alloc.close();
  await store.close();
});

async function refusal(p: () => unknown): Promise<{ code: string; details: object }> {
  try {
    await p();
  } catch (err) {
    return err as { code: string; details: object };
  }
  throw new Error('expected a refusal');
}

describe('the mode directory', () => {
  it('serves an unserved segment tag with one trip (the allocation), then none', async () => {
    expect(await alloc.next('order')).toBe(1n);
    expect(trips).toEqual(['allocate order']);
    expect(alloc.modeOf('order')).toBe('segment');
    expect(alloc.next('order', 'segment')).toBe(2n);
    expect(trips).toHaveLength(1);
  });

  it('serves an unserved snowflake tag from /v1/ids with one trip: the refusal names the mode', async () => {
    const id = await alloc.next('flake');
    expect(alloc.decodeSnowflake(String(id)).workerId).toBe(7);
    expect(trips).toEqual(['allocate flake']);
    expect(alloc.modeOf('flake')).toBe('snowflake');
    await alloc.nextBatch('flake', 3, 'snowflake');
    expect(trips).toHaveLength(1);
  });

  it('serves an unserved snowflake tag on the Leaf snowflake route with one trip, then none', async () => {
    await alloc.next('flake', 'snowflake');
    expect(trips).toEqual(['getTag flake']);
    await alloc.next('flake');
    expect(trips).toHaveLength(1);
  });

  it('refuses a segment tag on the snowflake route with one trip and takes no segment', async () => {
    const err = await refusal(() => alloc.next('order', 'snowflake'));
    expect(err).toMatchObject({ code: ErrorCode.WRONG_MODE, details: { mode: 'segment' } });
    expect(trips).toEqual(['getTag order']);
    expect((await store.getTag('order'))?.next).toBe(1n);
    // Learned: the second refusal asks nothing.
    await refusal(() => alloc.next('order', 'snowflake'));
    expect(trips).toHaveLength(1);
  });

  it('refuses a snowflake tag on the segment route with one trip, then none', async () => {
    const err = await refusal(() => alloc.next('flake', 'segment'));
    expect(err).toMatchObject({ code: ErrorCode.WRONG_MODE, details: { mode: 'snowflake' } });
    expect(trips).toEqual(['allocate flake']);
    await refusal(() => alloc.next('flake', 'segment'));
    expect(trips).toHaveLength(1);
  });

  it('answers TAG_NOT_FOUND for an unknown tag with one trip, whichever route asks', async () => {
    for (const mode of [undefined, 'segment', 'snowflake'] as const) {
      trips = [];
      const err = await refusal(() => alloc.next('nope', mode));
      expect(err.code).toBe(ErrorCode.TAG_NOT_FOUND);
      expect(trips).toHaveLength(1);
    }
  });
});
