/**
 * `isTagName` (the lean ID path's check) says exactly what TAG_NAME_PATTERN says: the
 * pattern is the rule, the loop a faster way to apply it.
 */
import { describe, expect, it } from 'vitest';
import { TAG_NAME_PATTERN, isTagName } from '../../src/core/tags.js';

/** Every character up to U+017F and a few beyond: ASCII, Latin-1, and ones whose low bits look like letters. */
const CHARS = [
  ...Array.from({ length: 0x180 }, (_, i) => String.fromCharCode(i)),
  '\u0141',
  '\u0461',
  '\uff21',
  '\u{1f600}',
];

describe('isTagName', () => {
  it('agrees with the pattern on every one- and two-character name', () => {
    let names = 0;
    for (const a of CHARS) {
      expect(isTagName(a), JSON.stringify(a)).toBe(TAG_NAME_PATTERN.test(a));
      for (const b of CHARS) {
        const name = a + b;
        if (isTagName(name) !== TAG_NAME_PATTERN.test(name)) {
          expect.fail(`${JSON.stringify(name)}: pattern ${TAG_NAME_PATTERN.test(name)}`);
        }
        names++;
      }
    }
    expect(names).toBe(CHARS.length ** 2);
  });

  it('agrees at the length limit and on empty names', () => {
    for (const name of ['', 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(65), `a${'-'.repeat(63)}`]) {
      expect(isTagName(name), `length ${name.length}`).toBe(TAG_NAME_PATTERN.test(name));
    }
    expect(isTagName('a'.repeat(64))).toBe(true);
    expect(isTagName('a'.repeat(65))).toBe(false);
  });

  it('agrees on random names of the allowed characters and a few others', () => {
    const pool = 'aZ09_.-%/ é\n';
    let seed = 19;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const length = next() % 70;
      const name = Array.from({ length }, () => pool[next() % pool.length]).join('');
      expect(isTagName(name), JSON.stringify(name)).toBe(TAG_NAME_PATTERN.test(name));
    }
  });
});
