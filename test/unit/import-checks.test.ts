/**
 * What `tag import` watches besides each outcome (src/cli/import-checks.ts): how long it
 * keeps trying a store that does not answer, and which tags it calls near their max.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError, unavailable } from '../../src/core/errors.js';
import type { ImportResult, TagConfig, TagRecord } from '../../src/core/store-ports.js';
import { roomAfter, StoreLost, untilStoreLost } from '../../src/cli/import-checks.js';
import { PLAIN } from '../../src/core/shape.js';

describe('untilStoreLost', () => {
  it('tries the same step again while the store is unavailable, and returns once it answers', async () => {
    let tries = 0;
    const value = await untilStoreLost(async () => {
      if (++tries < 3) throw unavailable('store unreachable during import of x: gone');
      return 'done';
    });
    expect([value, tries]).toEqual(['done', 3]);
  });

  it('stops once every try has failed for the bound, counted from the first failed try', async () => {
    let clock = 0;
    let tries = 0;
    const attempt = untilStoreLost(
      async () => {
        tries++;
        clock += 4000; // each try fails after about 4 s, as a command to a dead Redis does
        throw unavailable('store unreachable during import of x: max retries');
      },
      5000,
      () => clock,
    );
    await expect(attempt).rejects.toThrow(
      new StoreLost('store unreachable during import of x: max retries'),
    );
    expect(tries).toBe(2);
  });

  it('does not retry a refusal or a damaged tag', async () => {
    let tries = 0;
    const attempt = untilStoreLost(async () => {
      tries++;
      throw new IdAllocError(ErrorCode.INTERNAL, "tag 'x' is damaged");
    });
    await expect(attempt).rejects.toThrow(/damaged/);
    expect(tries).toBe(1);
  });
});

describe('roomAfter', () => {
  const segment = (max: bigint, step = 10, gap = 1000n): TagConfig => ({
    name: 'order',
    mode: 'segment',
    description: '',
    createdAt: 0,
    step,
    shape: PLAIN,
    regions: 1,
    max,
    gap,
    next: 1n,
  });
  const live = (tag: TagConfig): TagRecord => ({ state: 'live', tag });
  const noStore = { getTag: () => Promise.reject(new Error('not read for a created tag')) };
  const created = (after: bigint): ImportResult => ({ outcome: 'created', found: 'none', after });

  it('calls a tag near max below its gap or 100 segments of its step, whichever is more', async () => {
    expect(await roomAfter(noStore, live(segment(7000n)), created(6001n), 1000n)).toMatchObject({
      idsLeft: 1000n,
      threshold: 1000n,
      near: false,
    });
    expect(await roomAfter(noStore, live(segment(6999n)), created(6001n), 1000n)).toMatchObject({
      idsLeft: 999n,
      near: true,
    });
    // 100 segments of step 50 are 5000 IDs: more than the gap.
    expect(await roomAfter(noStore, live(segment(9000n, 50)), created(6001n), 1000n)).toMatchObject(
      {
        idsLeft: 3000n,
        threshold: 5000n,
        near: true,
      },
    );
    expect(await roomAfter(noStore, live(segment(6000n)), created(6001n), 1000n)).toMatchObject({
      idsLeft: 0n,
      near: true,
    });
  });

  it("reads a tag that existed again: its stored max, not the export's", async () => {
    const stored = { getTag: () => Promise.resolve(segment(6500n)) };
    const raised: ImportResult = { outcome: 'raised', found: 'segment', before: 1n, after: 6001n };
    expect(await roomAfter(stored, live(segment(10n ** 12n)), raised, 1000n)).toMatchObject({
      max: 6500n,
      idsLeft: 500n,
      near: true,
    });
  });

  it('has nothing to say of a tag left as it was, a snowflake tag or a tombstone', async () => {
    const unchanged: ImportResult = {
      outcome: 'unchanged',
      found: 'segment',
      before: 5n,
      after: 5n,
    };
    expect(await roomAfter(noStore, live(segment(6n)), unchanged, 1000n)).toBeUndefined();
    const snowflake: TagConfig = { name: 'ev', mode: 'snowflake', description: '', createdAt: 0 };
    expect(await roomAfter(noStore, live(snowflake), created(5n), 1000n)).toBeUndefined();
    const tombstone: TagRecord = { state: 'tombstone', name: 'old', next: 5n, deletedAt: 0 };
    expect(await roomAfter(noStore, tombstone, created(1005n), 1000n)).toBeUndefined();
  });
});
