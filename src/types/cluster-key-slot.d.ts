/**
 * Types for `cluster-key-slot` (the package ioredis routes Cluster commands with), which
 * ships none and has no @types package.
 */
declare module 'cluster-key-slot' {
  /**
   * The Redis Cluster slot (0–16383) of a key: CRC16 (XMODEM) of the key's UTF-8 bytes,
   * or of its hash tag (the bytes between the first `{` and the next `}`, if any), modulo
   * 16384.
   */
  function calculateSlot(key: string | Uint8Array): number;
  namespace calculateSlot {
    /** The slot shared by every key, or -1 when they do not share one. */
    function generateMulti(keys: readonly (string | Uint8Array)[]): number;
  }
  export = calculateSlot;
}
