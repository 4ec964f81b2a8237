/**
 * Reading many tags on Redis for {@link RedisStore}: the listing (`tag list`, a page of
 * it) and the export (`tag export`). Both scan the tag names (tag-scan.ts), read each
 * hash with one HGETALL, and report once the keys under the tag pattern they left out
 * (foreign names, keys that are not hashes) instead of showing them as tags.
 */
import type { IgnoredKeys, TagConfig, TagExport, TagPage } from '../../core/store-ports.js';
import type { RedisLike } from './client.js';
import type { Keys } from './keys.js';
import { storeFailure } from './replies.js';
import { parseTag } from './tag-admin.js';
import { isWrongType, scanTagNames, type ScannedTags } from './tag-scan.js';
import { exportFromRedis } from './transfer.js';

/** What a listing needs of its store. */
export interface TagReader {
  readonly client: RedisLike;
  readonly keys: Keys;
  /** How long the scan waits for each master's connection. */
  readonly scanTimeoutMs: number;
  /** Hears of the keys left out, once per listing or export (not when there were none). */
  readonly reportIgnored: (ignored: IgnoredKeys) => void;
}

/** Every tag, in name order, or one page of them. */
export async function listTags(db: TagReader, page?: TagPage): Promise<TagConfig[]> {
  const tags: TagConfig[] = [];
  const after = page?.after;
  await scanTags(db, async (names) => {
    const notHashes = new Set<string>();
    // One read per tag: a page reads only its own (10 000 tags took 1 s a listing).
    for (const name of names) {
      if (after !== undefined && name <= after) continue;
      if (page && tags.length >= page.limit) break;
      const fields = await readTagHash(db, name);
      const tag = fields && parseTag(name, fields);
      if (fields === undefined) notHashes.add(name);
      else if (tag) tags.push(tag);
    }
    return notHashes;
  });
  return tags;
}

/** Every tag and tombstone, each read with one HGETALL (see transfer.ts). */
export async function exportTags(db: TagReader): Promise<TagExport> {
  let exported: TagExport = { records: [], consistency: 'per-tag' };
  await scanTags(db, async (names) => {
    const notHashes = new Set<string>();
    exported = await exportFromRedis(names, async (name) => {
      const fields = await readTagHash(db, name);
      if (fields === undefined) notHashes.add(name);
      return fields;
    });
    return notHashes;
  });
  return exported;
}

/** One tag hash; undefined when the key holds another type (not a tag of this store). */
async function readTagHash(
  db: TagReader,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    return await db.client.hgetall(db.keys.tag(name));
  } catch (err) {
    if (isWrongType(err)) return undefined;
    throw storeFailure(err, `the read of '${name}'`);
  }
}

/**
 * Scans the tag names, has `read` read them (it answers the names that were not
 * hashes), then reports every key left out: those whose rest is not a tag name (see
 * {@link Keys.tagName}) and those that were not hashes.
 */
async function scanTags(
  db: TagReader,
  read: (names: readonly string[]) => Promise<ReadonlySet<string>>,
): Promise<void> {
  let found: ScannedTags;
  try {
    found = await scanTagNames(db.client, db.keys, db.scanTimeoutMs);
  } catch (err) {
    throw storeFailure(err, 'the tag listing');
  }
  const { names, foreign } = found;
  const ignored = [...foreign];
  for (const name of await read(names)) ignored.push(db.keys.tag(name));
  if (ignored.length === 0) return;
  db.reportIgnored({ count: ignored.length, example: ignored.sort()[0]! });
}
