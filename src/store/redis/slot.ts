/**
 * Redis Cluster key slots, computed here so that allocation can go straight to the node
 * that owns a tag (and its `WAIT` to the same node) without asking the cluster first.
 *
 * The rule (Redis Cluster specification): CRC16-CCITT (XMODEM: polynomial 0x1021, initial
 * value 0) of the key's bytes, modulo 16384; when the key holds a `{…}` with at least one
 * byte between the first `{` and the first `}` after it, only those bytes are hashed.
 */

export const SLOT_COUNT = 16384;

/** CRC16-CCITT (XMODEM) of `bytes`. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The bytes of `key` that decide its slot (its hash tag, when it has one). */
function hashedPart(key: Buffer): Buffer {
  const open = key.indexOf(0x7b); // '{'
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1); // '}'
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The cluster slot (0–16383) of a key. */
export function keySlot(key: string): number {
  return crc16(hashedPart(Buffer.from(key, 'utf8'))) % SLOT_COUNT;
}
