import { describe, expect, it } from 'vitest';
import { crc16, keySlot, SLOT_COUNT } from '../../src/store/redis/slot.js';

describe('crc16', () => {
  it('is CRC16-CCITT (XMODEM): 0x31C3 for "123456789"', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it('is 0 for no bytes', () => {
    expect(crc16(new Uint8Array())).toBe(0);
  });
});

describe('keySlot', () => {
  it('matches the slots Redis names for plain keys', () => {
    // CLUSTER KEYSLOT on redis-server 7.0.15
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('idalloc:tag:order')).toBe(crc16(Buffer.from('idalloc:tag:order')) % 16384);
  });

  it('hashes only the hash tag when the key has one', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('{user1000}.following'));
    expect(keySlot('x{a}y{b}')).toBe(keySlot('a'));
  });

  it('hashes the whole key when the braces hold nothing or do not close', () => {
    expect(keySlot('{}foo')).toBe(crc16(Buffer.from('{}foo')) % SLOT_COUNT);
    expect(keySlot('foo{}{bar}')).toBe(crc16(Buffer.from('foo{}{bar}')) % SLOT_COUNT);
    expect(keySlot('foo{bar')).toBe(crc16(Buffer.from('foo{bar')) % SLOT_COUNT);
  });

  it('stays within 0..16383', () => {
    for (const k of ['', 'a', 'idalloc:tag:invoice', '\u00e9t\u00e9']) {
      const s = keySlot(k);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(SLOT_COUNT);
    }
  });
});
