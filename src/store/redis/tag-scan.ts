/**
 * Finding a Redis store's tags: a SCAN of the tag pattern on every master. The pattern
 * (`{prefix}tag:*`) also matches the keys of another deployment whose `KEY_PREFIX` is
 * nested in this one (`a:` and `a:tag:`: its `a:tag:tag:order`, `a:tag:worker:{3}`); those
 * are told apart by their name ({@link Keys.tagName}) and, once read, by their type, and
 * left out of listings and exports with one report instead of being shown as tags.
 */
import { Cluster, type Redis } from 'ioredis';
import { whenReady, type RedisLike } from './client.js';
import type { Keys } from './keys.js';

/** What a scan found: tag names, sorted, and keys under the pattern that are not tags. */
export interface ScannedTags {
  readonly names: string[];
  readonly foreign: string[];
}

/**
 * Every tag name (tombstones included) on every master, and the keys the pattern matched
 * whose rest is not a tag name. Errors are the client's: the caller maps them.
 */
export async function scanTagNames(
  client: RedisLike,
  keys: Keys,
  readyTimeoutMs: number,
): Promise<ScannedTags> {
  const names = new Set<string>();
  const foreign = new Set<string>();
  await scanKeys(client, keys.tagPattern, readyTimeoutMs, (key) => {
    const name = keys.tagName(key);
    if (name !== undefined) names.add(name);
    else foreign.add(key);
  });
  return { names: [...names].sort(), foreign: [...foreign] };
}

/**
 * Every key matching `pattern`, scanned on every master (one SCAN cursor per node), each
 * passed to `each`. Errors are the client's: the caller maps them.
 */
export async function scanKeys(
  client: RedisLike,
  pattern: string,
  readyTimeoutMs: number,
  each: (key: string) => void,
): Promise<void> {
  // A Cluster client knows its masters only once it is ready.
  if (client instanceof Cluster) await whenReady(client, readyTimeoutMs);
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      batch.forEach(each);
    } while (cursor !== '0');
  }
}

/** A key under the tag pattern that holds another type than a hash: not a tag. */
export function isWrongType(err: unknown): boolean {
  return err instanceof Error && /^WRONGTYPE\b/.test(err.message);
}
