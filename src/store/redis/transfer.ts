/**
 * `tag export` and `tag import` on Redis. Export reads each tag hash with one HGETALL
 * (atomic per key); tags live in separate keys — on a Cluster in different slots of
 * different masters — so no read spans them all: the export is consistent per tag, not
 * across tags, and the import's gap covers what was issued meanwhile. Import is one
 * import-1.lua call per tag (its reply read in reply-shapes.ts).
 */
import { MAX_ID } from '../../core/tags.js';
import { shapeFields } from '../shape-fields.js';
import { recordFromFields, recordNumberShape } from '../transfer.js';
import type { TagExport, TagRecord } from '../../core/store-ports.js';
import type { RedisLike } from './client.js';
import type { Keys } from './keys.js';
import type { ScriptReply } from './scripts.js';

/** How many HGETALLs are in flight at once. */
const READ_BATCH = 64;

/**
 * Reads every named tag (as a listing found them) one HGETALL each.
 * @param read the store's read of one hash, with its error mapping; undefined for a key
 *   that is not a hash (not a tag: left out, the store reports it)
 */
export async function exportFromRedis(
  names: readonly string[],
  read: (name: string) => Promise<Record<string, string> | undefined>,
): Promise<TagExport> {
  const records: TagRecord[] = [];
  for (let i = 0; i < names.length; i += READ_BATCH) {
    const batch = names.slice(i, i + READ_BATCH);
    const hashes = await Promise.all(batch.map(read));
    batch.forEach((name, k) => {
      const hash = hashes[k];
      if (hash === undefined) return;
      // A key gone between the scan and the read (deleted without tombstone) is skipped.
      const record = recordFromFields(name, hash);
      if (record) records.push(record);
    });
  }
  return { records, consistency: 'per-tag' };
}

/** The arguments of import-1.lua for a record (see its header). */
export function importArgs(
  record: TagRecord,
  target: bigint | undefined,
  dryRun: boolean,
): string[] {
  const t = target === undefined ? '' : target.toString();
  const dry = dryRun ? '1' : '0';
  // The numbers a tombstone's or a snowflake tag's floor was issued under (no prefix).
  const floor = recordNumberShape(record);
  const floorShape = Object.values(shapeFields(floor.shape, floor.regions));
  if (record.state === 'tombstone') {
    const gap = record.gap === undefined ? '' : record.gap.toString();
    return ['tombstone', t, '1', '0', gap, '', String(record.deletedAt), dry, ...floorShape];
  }
  const { tag } = record;
  if (tag.mode === 'snowflake') {
    // No counter settings: import-1 reads step and max only for segment tags.
    const gap = record.gap === undefined ? '' : record.gap.toString();
    return [
      tag.mode,
      t,
      '1',
      MAX_ID.toString(),
      gap,
      tag.description,
      String(tag.createdAt),
      dry,
      ...floorShape,
    ];
  }
  return [
    tag.mode,
    t,
    String(Math.max(1, tag.step)),
    tag.max.toString(),
    tag.gap.toString(),
    tag.description,
    String(tag.createdAt),
    dry,
    ...Object.values(shapeFields(tag.shape, tag.regions)),
  ];
}

/** Runs import-1 for one record on `client`. */
export async function importToRedis(
  client: RedisLike,
  keys: Keys,
  record: TagRecord,
  target: bigint | undefined,
  dryRun: boolean,
): Promise<ScriptReply> {
  const name = record.state === 'tombstone' ? record.name : record.tag.name;
  return client.idallocImport(keys.tag(name), ...importArgs(record, target, dryRun));
}
