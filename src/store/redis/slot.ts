/**
 * Redis Cluster key slots, computed here so that allocation can go straight to the node
 * that owns a tag (and its `WAIT` to the same node) without asking the cluster first.
 *
 * The rule (Redis Cluster specification): CRC16-CCITT (XMODEM) of the key's bytes, modulo
 * 16384; when the key holds a `{…}` with at least one byte between the first `{` and the
 * first `}` after it, only those bytes are hashed. `cluster-key-slot` is the package
 * ioredis itself routes with (pinned to ioredis's version), so the node chosen here is the
 * node ioredis would choose.
 *
 * One shape where it parts from Redis: an empty `{}` followed by another `{…}`
 * ('a{}b{c}': Redis hashes the whole key, cluster-key-slot 'c'). idalloc's keys never
 * have it — KEY_PREFIX and tag names allow no braces, worker keys hold one `{id}` — and
 * test/unit/slot.test.ts checks every key shape idalloc builds against the rule.
 */
import calculateSlot from 'cluster-key-slot';

export const SLOT_COUNT = 16384;

/** The cluster slot (0–16383) of a key. */
export function keySlot(key: string): number {
  return calculateSlot(key);
}
