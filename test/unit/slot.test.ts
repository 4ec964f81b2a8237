import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/store/redis/keys.js';
import { keySlot, SLOT_COUNT } from '../../src/store/redis/slot.js';

/**
 * The specification's rule written out plainly, as an oracle for keys Redis was not asked
 * about: CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0) of the hashed bytes.
 */
function specSlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  const close = open === -1 ? -1 : bytes.indexOf(0x7d, open + 1);
  if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % SLOT_COUNT;
}

describe('keySlot', () => {
  it('matches the slots Redis names for plain keys', () => {
    // CLUSTER KEYSLOT on redis-server 7.0.15
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('123456789')).toBe(12739); // CRC16/XMODEM check value 0x31C3
    expect(keySlot('idalloc:tag:order')).toBe(5648);
    expect(keySlot('')).toBe(0);
    expect(keySlot('\u00e9t\u00e9')).toBe(10087); // UTF-8 bytes, not UTF-16 code units
  });

  it('hashes only the hash tag when the key has one', () => {
    // CLUSTER KEYSLOT on redis-server 7.0.15
    expect(keySlot('{user1000}.following')).toBe(3443);
    expect(keySlot('user1000')).toBe(3443);
    expect(keySlot('x{a}y{b}')).toBe(15495);
    expect(keySlot('x{a}y{b}')).toBe(keySlot('a'));
    // A worker's lease and horizon share a slot, so one script can touch both.
    expect(keySlot('idalloc:worker:{5}')).toBe(9974);
    expect(keySlot('idalloc:worker:{5}:horizon')).toBe(9974);
  });

  it('hashes the whole key when the braces hold nothing or do not close', () => {
    // CLUSTER KEYSLOT on redis-server 7.0.15
    expect(keySlot('{}foo')).toBe(9500);
    expect(keySlot('foo{bar')).toBe(15278);
    // Not asserted: an empty '{}' followed by another '{…}' ('foo{}{bar}', Redis: 8363).
    // cluster-key-slot 1.1.1 (and ioredis's own routing with it) hashes 'bar' there; no
    // idalloc key has that shape (KEY_PREFIX and tag names allow no braces; see below).
  });

  it("agrees with the specification's rule on many keys, within 0..16383", () => {
    const keys = ['', 'a', 'idalloc:tag:invoice', '\u00e9t\u00e9', '\u{1f600}{x}', '{app}:tag:a'];
    for (let i = 0; i < 2000; i++) keys.push(`idalloc:tag:t${i}`, `p{${i % 37}}:${i}`);
    for (const k of keys) {
      const s = keySlot(k);
      expect(s, k).toBe(specSlot(k));
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(SLOT_COUNT);
    }
  });

  it('agrees with Redis on every key shape idalloc builds', () => {
    // Prefixes as KEY_PREFIX allows them (no braces), tag names as the tag rules allow.
    for (const prefix of ['', 'idalloc:', 'a.b-c_d:', 'x'.repeat(64)]) {
      const keys = createKeys(prefix);
      for (const name of ['order', 'A', '0', 'a.b-c_d', 'z'.repeat(64)]) {
        expect(keySlot(keys.tag(name))).toBe(specSlot(keys.tag(name)));
      }
      for (const id of [0, 5, 1023]) {
        expect(keySlot(keys.worker(id))).toBe(specSlot(keys.worker(id)));
        expect(keySlot(keys.workerHorizon(id))).toBe(keySlot(keys.worker(id)));
      }
    }
  });

  it("puts an Idempotency-Key's record in its tag's slot, by cluster-key-slot as by the spec", () => {
    const hex = 'ab'.repeat(32);
    for (const prefix of ['', 'idalloc:', 'a.b-c_d:', 'x'.repeat(64)]) {
      const keys = createKeys(prefix);
      for (const name of ['order', 'A', '0', 'a.b-c_d', 'z'.repeat(64)]) {
        const record = keys.idempotency(name, hex);
        expect(record).toBe(`{${keys.tag(name)}}:idem:${hex}`);
        expect(calculateSlot(record), record).toBe(calculateSlot(keys.tag(name)));
        expect(specSlot(record), record).toBe(specSlot(keys.tag(name)));
        // Never listed as a tag (the tag pattern starts with the prefix, this with '{').
        expect(keys.tagName(record)).toBeUndefined();
      }
    }
  });
});
