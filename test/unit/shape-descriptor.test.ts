/**
 * The shape descriptor of a range answer, as IdClient reads it (src/client/shape-descriptor.ts):
 * a plain tag of one region needs no shaper, a shaped one gets the service's own Shaper,
 * and a descriptor that is not a shape is refused rather than guessed at.
 */
import { describe, expect, it } from 'vitest';
import { shaperOf } from '../../src/client/shape-descriptor.js';
import { ErrorCode } from '../../src/core/errors.js';
import { Shaper, newPermuteKey } from '../../src/core/shape.js';

describe('a range answer’s shape descriptor', () => {
  it('needs no shaper for an answer without one, or for plain IDs of one region', () => {
    expect(shaperOf(undefined)).toBeUndefined();
    expect(shaperOf({ kind: 'plain', regions: 1, region: 0 })).toBeUndefined();
  });

  it('shapes as the service does, for every shape', () => {
    const key = newPermuteKey();
    const descriptors = [
      { kind: 'plain', regions: 3, region: 2 },
      { kind: 'plain', prefix: 'ord', regions: 1, region: 0 },
      { kind: 'bitreverse', regions: 2, region: 1 },
      { kind: 'permute', width: 40, key, prefix: 'u', regions: 4, region: 3 },
    ] as const;
    for (const { regions, region, ...shape } of descriptors) {
      const mine = shaperOf({ ...shape, regions, region })!;
      const service = new Shaper(shape, regions, region);
      for (const c of [0n, 1n, 77n, 123_456n]) expect(mine.format(c)).toBe(service.format(c));
    }
  });

  it('refuses a descriptor that is not a shape', () => {
    for (const bad of [
      { kind: 'rot13', regions: 1, region: 0 },
      { kind: 'permute', width: 40, regions: 1, region: 0 }, // no key
      { kind: 'plain', regions: 2, region: 2 },
      { kind: 'plain', regions: 0, region: 0 },
      { kind: 'plain', prefix: 'Bad!', regions: 1, region: 0 },
      'plain',
    ]) {
      expect(() => shaperOf(bad)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
  });
});
