/**
 * Snowflake worker IDs split between regions (allocator/snowflake/region-block.ts): region
 * i of N owns [⌊i·W/N⌋, ⌊(i+1)·W/N⌋) of the W worker IDs; the blocks of one N are disjoint
 * and cover every worker ID; a pinned worker ID outside its region's block, and more
 * regions than worker IDs, are refused with the values named.
 */
import { describe, expect, it } from 'vitest';
import { SnowflakeGenerator } from '../../src/allocator/snowflake/generator.js';
import { snowflakeFromSettings } from '../../src/allocator/snowflake/index.js';
import { createLayout } from '../../src/allocator/snowflake/layout.js';
import { checkPinnedWorker, workerBlock } from '../../src/allocator/snowflake/region-block.js';
import { isIdAllocError } from '../../src/core/errors.js';
import { parseRegion } from '../../src/core/shape.js';

describe('workerBlock', () => {
  it('gives region i of N the worker IDs floor(i·W/N) to floor((i+1)·W/N) - 1', () => {
    expect(workerBlock(parseRegion('0/1'), 1024)).toEqual({ first: 0, count: 1024 });
    expect(workerBlock(parseRegion('0/3'), 1024)).toEqual({ first: 0, count: 341 });
    expect(workerBlock(parseRegion('1/3'), 1024)).toEqual({ first: 341, count: 341 });
    expect(workerBlock(parseRegion('2/3'), 1024)).toEqual({ first: 682, count: 342 });
  });

  it('splits every worker ID into exactly one block, for every N up to W', () => {
    for (const w of [1, 2, 16, 1000, 1024]) {
      for (let n = 1; n <= Math.min(w, 64); n++) {
        let next = 0;
        for (let i = 0; i < n; i++) {
          const b = workerBlock({ index: i, count: n }, w);
          expect(b.first).toBe(next);
          expect(b.count).toBeGreaterThanOrEqual(1);
          next = b.first + b.count;
        }
        expect(next).toBe(w);
      }
    }
  });

  it('refuses more regions than worker IDs, naming both', () => {
    expect(() => workerBlock(parseRegion('0/5'), 4)).toThrow(
      /region 0\/5 is not allowed for snowflake IDs: 5 regions need at least 5 worker IDs and the layout has 4 \(2 worker bits\)/,
    );
  });
});

describe('a pinned worker ID in a region', () => {
  it('is accepted inside its region block and refused outside it, the block named', () => {
    expect(checkPinnedWorker(341, parseRegion('1/3'), 1024)).toBe(341);
    expect(checkPinnedWorker(681, parseRegion('1/3'), 1024)).toBe(681);
    let err: unknown;
    try {
      checkPinnedWorker(682, parseRegion('1/3'), 1024);
    } catch (e) {
      err = e;
    }
    expect(isIdAllocError(err)).toBe(true);
    expect((err as Error).message).toBe(
      'snowflake worker ID 682 is not allowed in region 1/3: its worker IDs are 341 to 681 (of 1024, split between 3 regions), so that no other region can hold it',
    );
  });

  it('is refused by the generator and by the settings path before anything starts', () => {
    const layout = createLayout();
    expect(
      () => new SnowflakeGenerator({ layout, workerId: 7, region: parseRegion('1/2') }),
    ).toThrow(/worker ID 7 is not allowed in region 1\/2: its worker IDs are 512 to 1023/);
    expect(
      () => new SnowflakeGenerator({ layout, workerId: 600, region: parseRegion('1/2') }),
    ).not.toThrow();
    const settings = {
      layout: { epochMs: layout.epochMs, workerBits: 10, sequenceBits: 12 },
      workerId: 3,
      leaseMs: 30_000,
      maxBackwardMs: 5,
    };
    expect(() => snowflakeFromSettings(settings, { region: parseRegion('2/4') })).toThrow(
      /worker ID 3 is not allowed in region 2\/4: its worker IDs are 512 to 767/,
    );
  });

  it('is refused when the layout has fewer worker IDs than regions', () => {
    const layout = createLayout({ workerBits: 1 });
    expect(
      () => new SnowflakeGenerator({ layout, workerId: 0, region: parseRegion('0/3') }),
    ).toThrow(/3 regions need at least 3 worker IDs and the layout has 2/);
  });
});
