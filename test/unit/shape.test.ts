/** The shape vocabulary (core/shape.ts): checks, regions, the string form, decoding. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import {
  Permutation,
  Shaper,
  checkRegions,
  checkShape,
  counterLimit,
  newPermuteKey,
  parseRegion,
  publicShape,
  reverse63,
  shapeFingerprint,
  toBase32,
} from '../../src/core/shape.js';
import { MAX_ID } from '../../src/core/tags.js';

const KEY = '00112233445566778899aabbccddeeff';

function refusal(fn: () => unknown): IdAllocError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdAllocError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('checkShape', () => {
  it('accepts each kind, with a prefix, and permute with a width and key', () => {
    expect(checkShape({ kind: 'plain' })).toEqual({ kind: 'plain' });
    expect(checkShape({ kind: 'bitreverse', prefix: 'ord' }).prefix).toBe('ord');
    expect(checkShape({ kind: 'permute', width: 63, key: KEY }).width).toBe(63);
  });

  it('refuses an unknown kind, naming the kinds allowed', () => {
    const e = refusal(() => checkShape({ kind: 'shuffle' as 'plain' }));
    expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(e.message).toMatch(/shape 'shuffle'.*plain, bitreverse, permute/);
  });

  it('refuses a prefix outside the rule, a width below 16, a missing or malformed key', () => {
    expect(refusal(() => checkShape({ kind: 'plain', prefix: 'Ord' })).message).toMatch(
      /prefix 'Ord'.*a-z 0-9/,
    );
    expect(refusal(() => checkShape({ kind: 'plain', prefix: 'a_b' })).message).toMatch(/prefix/);
    expect(refusal(() => checkShape({ kind: 'permute', width: 15, key: KEY })).message).toMatch(
      /width 15.*16 to 63/,
    );
    expect(refusal(() => checkShape({ kind: 'permute', width: 63 })).message).toMatch(/key/);
    expect(
      refusal(() => checkShape({ kind: 'permute', width: 63, key: 'XYZ' })).message,
    ).not.toMatch(/XYZ/);
  });

  it('refuses a width or key on other kinds, and any shape but plain on snowflake tags', () => {
    expect(refusal(() => checkShape({ kind: 'plain', width: 20 })).message).toMatch(/only for/);
    expect(refusal(() => checkShape({ kind: 'bitreverse' }, 'snowflake')).message).toMatch(
      /snowflake.*clock/,
    );
    expect(refusal(() => checkShape({ kind: 'plain', prefix: 'x' }, 'snowflake')).message).toMatch(
      /snowflake/,
    );
  });
});

describe('regions', () => {
  it('parses i/N and refuses what is not one', () => {
    expect(parseRegion('1/3')).toEqual({ index: 1, count: 3 });
    expect(parseRegion('0/1')).toEqual({ index: 0, count: 1 });
    for (const bad of ['3/3', '1', '-1/2', '0/0', '0/1025', 'a/b', '1/3 ']) {
      expect(refusal(() => parseRegion(bad)).message).toMatch(/region .* expected i\/N/);
    }
    expect(checkRegions(1024)).toBe(1024);
    expect(refusal(() => checkRegions(0)).message).toMatch(/regions 0/);
  });

  it('bounds max so that every region value stays in the domain', () => {
    expect(counterLimit({ kind: 'plain' }, 1)).toBe(MAX_ID);
    expect(counterLimit({ kind: 'plain' }, 2)).toBe(2n ** 62n - 1n);
    expect(counterLimit({ kind: 'permute', width: 20, key: KEY }, 4)).toBe(2n ** 18n - 1n);
  });
});

describe('Shaper', () => {
  it('plain in one region is the counter value itself', () => {
    const s = new Shaper({ kind: 'plain' }, 1, 0);
    expect(s.identity).toBe(true);
    expect(s.format(42n)).toBe('42');
  });

  it('plain over regions: c·N + i', () => {
    expect(new Shaper({ kind: 'plain' }, 3, 2).toNumber(10n)).toBe(32n);
  });

  it('bitreverse puts consecutive values far apart', () => {
    expect(reverse63(1n)).toBe(2n ** 62n);
    expect(reverse63(2n)).toBe(2n ** 61n);
    expect(new Shaper({ kind: 'bitreverse' }, 1, 0).format(1n)).toBe((2n ** 62n).toString());
  });

  it('permute depends on the key, and keeps the domain', () => {
    const a = new Shaper({ kind: 'permute', width: 32, key: KEY }, 1, 0);
    const b = new Shaper({ kind: 'permute', width: 32, key: newPermuteKey() }, 1, 0);
    const xs = [1n, 2n, 3n].map((c) => a.toNumber(c));
    expect(xs.map((c) => c < 2n ** 32n)).toEqual([true, true, true]);
    expect(xs).not.toEqual([1n, 2n, 3n].map((c) => b.toNumber(c)));
  });

  it('the string form is prefix_ and 13 base32 characters, fixed width, so it sorts', () => {
    const s = new Shaper({ kind: 'plain', prefix: 'ord' }, 1, 0);
    expect(s.format(1n)).toBe('ord_0000000000001');
    expect(s.format(32n)).toBe('ord_0000000000010');
    expect(s.format(9n) < s.format(10n)).toBe(true);
  });

  it('decode refuses an ID of another form, naming what it expected', () => {
    const s = new Shaper({ kind: 'plain', prefix: 'ord' }, 1, 0);
    expect(refusal(() => s.decode('usr_0000000000001')).message).toMatch(/not an ID.*ord_/);
    expect(refusal(() => s.decode('ord_000000000000u')).message).toMatch(/not an ID/);
    const n = new Shaper({ kind: 'permute', width: 20, key: KEY }, 1, 0);
    expect(refusal(() => n.decode(String(2 ** 20))).message).toMatch(/below 2\^20/);
  });
});

describe("permute's string form from the halves (forwardBase32)", () => {
  // The string form of a permute tag skips the bigint between the network and base32: it
  // must give exactly what formatting the number does, at every width (below and above
  // 2^53, odd widths that cycle-walk) and at the domain's edges.
  it('equals toBase32(forward(v)) for 20 000 random values per width and the edges', () => {
    for (const width of [16, 17, 31, 32, 33, 52, 53, 54, 55, 62, 63]) {
      for (const key of [KEY, newPermuteKey()]) {
        const p = new Permutation(key, width);
        const top = 1n << BigInt(width);
        const values = [0n, 1n, top - 2n, top - 1n];
        for (let i = 0; i < 20_000; i++) {
          const r =
            (BigInt(Math.floor(Math.random() * 2 ** 32)) << 32n) |
            BigInt(Math.floor(Math.random() * 2 ** 32));
          values.push(r % top);
        }
        for (const v of values) {
          const want = toBase32(p.forward(v));
          if (p.forwardBase32(v) !== want) {
            expect({ width, v, got: p.forwardBase32(v) }).toEqual({ width, v, got: want });
          }
        }
      }
    }
  });

  it('Shaper.format of a prefixed permute tag is prefix_ and the base32 of its number, over regions too', () => {
    for (const [regions, region] of [
      [1, 0],
      [3, 2],
    ] as const) {
      const sh = new Shaper(
        { kind: 'permute', width: 63, key: KEY, prefix: 'ord' },
        regions,
        region,
      );
      for (const c of [
        1n,
        2n,
        1000n,
        123_456_789n,
        2n ** 52n,
        counterLimit({ kind: 'permute', width: 63, key: KEY }, regions) - 1n,
      ]) {
        expect(sh.format(c)).toBe(`ord_${toBase32(sh.toNumber(c))}`);
        expect(sh.decode(sh.format(c))).toEqual({ counter: c, region });
      }
    }
  });

  it('refuses a value outside the domain as forward does', () => {
    const p = new Permutation(KEY, 20);
    expect(() => p.forwardBase32(1n << 20n)).toThrow(RangeError);
    expect(() => p.forwardBase32(-1n)).toThrow(RangeError);
  });
});

describe('fingerprints and the public shape', () => {
  it('tells bijections apart without showing the key', () => {
    const f = shapeFingerprint({ kind: 'permute', width: 63, key: KEY });
    expect(f).toMatch(/^permute\/63\/[0-9a-f]{8}$/);
    expect(f).not.toContain(KEY.slice(0, 8));
    expect(shapeFingerprint({ kind: 'permute', width: 63, key: newPermuteKey() })).not.toBe(f);
    expect(shapeFingerprint({ kind: 'plain', prefix: 'x' })).toBe('plain');
  });

  it('publicShape drops the key', () => {
    expect(publicShape({ kind: 'permute', width: 63, key: KEY })).toEqual({
      kind: 'permute',
      width: 63,
    });
  });
});
