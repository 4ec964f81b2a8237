/**
 * Tag administration on Redis for {@link RedisStore}: create, read, update, bump and
 * delete one tag, each change one Lua script (create-1, update-1, bump-1, delete-1) whose
 * reply reply-shapes.ts reads. A refusal becomes its typed error here, where the request
 * is known: some messages name the tag's current next ID, read after the refusal.
 */
import { checkCreateInput, checkMaxLimit, checkTagChanges, MAX_ID } from '../../core/tags.js';
import type { BumpResult, CreateTagInput, TagChanges, TagConfig } from '../../core/store-ports.js';
import type { RedisLike } from './client.js';
import type { Keys } from './keys.js';
import { bumpReply, createReply, doneReply } from './reply-shapes.js';
import { badReply, ScriptCode, scriptError, storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';
import { counterLimit, PLAIN } from '../../core/shape.js';
import { readFirst, readShape, shapeFields, shapeSignature } from '../shape-fields.js';

/** The general connection, the key builder and the wall clock of a store. */
export interface TagDb {
  readonly client: RedisLike;
  readonly keys: Keys;
  /** Wall clock for created_at / deleted_at (ms since the Unix epoch). */
  readonly now: () => number;
}

/**
 * bump-1 on `client` (the allocation connection for a floor raised by the allocator, the
 * general one for `tag bump`); `value` already checked.
 */
export async function bump(
  db: TagDb,
  client: RedisLike,
  tag: string,
  how: 'to' | 'by' | 'atleast',
  value: bigint,
): Promise<BumpResult> {
  let reply: ScriptReply;
  try {
    reply = await client.idallocBump(db.keys.tag(tag), how, value.toString());
  } catch (err) {
    throw storeFailure(err, `the bump of '${tag}'`);
  }
  const bumped = bumpReply(reply);
  if (bumped.ok) return bumped.value;
  const { code } = bumped;
  const current = code === ScriptCode.WOULD_LOWER ? await getTag(db, tag) : undefined;
  throw scriptError(code, tag, {
    wanted: 'segment',
    mode: 'snowflake',
    to: value,
    next: current?.next,
  });
}

export async function createTag(
  db: TagDb,
  input: CreateTagInput,
): Promise<{ tag: TagConfig; raisedByTombstone: boolean }> {
  checkCreateInput(input);
  let reply: ScriptReply;
  try {
    reply = await db.client.idallocCreate(
      db.keys.tag(input.name),
      input.mode,
      String(input.step),
      input.start.toString(),
      input.max.toString(),
      input.gap.toString(),
      input.description,
      String(db.now()),
      ...(input.mode === 'segment'
        ? Object.values(shapeFields(input.shape ?? PLAIN, input.regions ?? 1))
        : []),
    );
  } catch (err) {
    throw storeFailure(err, `the creation of '${input.name}'`);
  }
  const created = createReply(reply);
  if (!created.ok) {
    const { code } = created;
    // MAX_BELOW_NEXT: the tombstone of a deleted tag of this name already reaches max.
    const floor =
      code === ScriptCode.MAX_BELOW_NEXT ? await tombstoneNext(db, input.name) : undefined;
    // SHAPE_OF_DELETED: the message names the deleted tag's shape, as its tombstone keeps it.
    const deleted =
      code === ScriptCode.SHAPE_OF_DELETED ? await tombstoneShape(db, input.name) : {};
    throw scriptError(code, input.name, {
      max: input.max,
      next: `${floor ?? 'above max'}, left by a deleted tag of this name`,
      ...deleted,
    });
  }
  const tag = await getTag(db, input.name);
  if (!tag) throw badReply('create (tag missing right after)', reply);
  return { tag, raisedByTombstone: created.value.raisedByTombstone };
}

/** The next ID a deleted tag's tombstone keeps, if any (for messages). */
async function tombstoneNext(db: TagDb, name: string): Promise<string | undefined> {
  try {
    return (await db.client.hget(db.keys.tag(name), 'next')) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The kind, width and region count a tombstone keeps (never the key), for messages. */
async function tombstoneShape(db: TagDb, name: string): Promise<Record<string, unknown>> {
  try {
    const [shape, width, regions] = await db.client.hmget(
      db.keys.tag(name),
      'shape',
      'width',
      'regions',
    );
    return {
      kind: shape ?? 'plain',
      ...(width ? { width: Number(width) } : {}),
      regions: regions ? Number(regions) : 1,
    };
  } catch {
    return {};
  }
}

export async function getTag(db: TagDb, name: string): Promise<TagConfig | undefined> {
  let fields: Record<string, string>;
  try {
    fields = await db.client.hgetall(db.keys.tag(name));
  } catch (err) {
    throw storeFailure(err, `the read of '${name}'`);
  }
  return parseTag(name, fields);
}

export async function updateTag(db: TagDb, name: string, changes: TagChanges): Promise<TagConfig> {
  checkTagChanges(changes);
  const args: string[] = [];
  if (changes.step !== undefined) args.push('step', String(changes.step));
  if (changes.max !== undefined) args.push('max', changes.max.toString());
  if (changes.gap !== undefined) args.push('gap', changes.gap.toString());
  if (changes.description !== undefined) args.push('description', changes.description);
  if (changes.shape !== undefined || changes.regions !== undefined || changes.max !== undefined) {
    // The limit on max depends on the shape the tag will have: read it, and have the
    // script check that it is still the one read (expect), atomically with the write.
    const current = await getTag(db, name);
    if (!current) throw scriptError(ScriptCode.TAG_NOT_FOUND, name);
    if (current.mode === 'segment') {
      const shape = changes.shape ?? current.shape;
      const regions = changes.regions ?? current.regions;
      checkMaxLimit(changes.max ?? current.max, shape, regions);
      args.push('expect', shapeSignature(current.shape, current.regions));
      args.push('limit', counterLimit(shape, regions).toString());
      if (changes.shape !== undefined || changes.regions !== undefined) {
        for (const [field, value] of Object.entries(shapeFields(shape, regions))) {
          args.push(field, value);
        }
      }
    } else if (changes.shape !== undefined || changes.regions !== undefined) {
      // As update-1 answers step, max or gap of a snowflake tag (and the embedded store).
      throw scriptError(ScriptCode.WRONG_MODE, name, { wanted: 'segment', mode: 'snowflake' });
    }
  }
  if (args.length === 0) {
    const tag = await getTag(db, name);
    if (!tag) throw scriptError(ScriptCode.TAG_NOT_FOUND, name);
    return tag;
  }
  let reply: ScriptReply;
  try {
    reply = await db.client.idallocUpdate(db.keys.tag(name), ...args);
  } catch (err) {
    throw storeFailure(err, `the update of '${name}'`);
  }
  const updated = doneReply('update', reply);
  if (!updated.ok) {
    const { code } = updated;
    const current =
      code === ScriptCode.MAX_BELOW_NEXT || code === ScriptCode.SHAPE_FIXED
        ? await getTag(db, name)
        : undefined;
    const first = current?.mode === 'segment' ? current.first : undefined;
    throw scriptError(code, name, {
      wanted: 'segment',
      mode: 'snowflake',
      max: changes.max,
      next: current?.next,
      first: first ?? 'unknown (created before shapes, or imported)',
    });
  }
  const tag = await getTag(db, name);
  if (!tag) throw scriptError(ScriptCode.TAG_NOT_FOUND, name);
  return tag;
}

export async function deleteTag(db: TagDb, name: string): Promise<void> {
  let reply: ScriptReply;
  try {
    reply = await db.client.idallocDelete(db.keys.tag(name), String(db.now()));
  } catch (err) {
    throw storeFailure(err, `the deletion of '${name}'`);
  }
  const deleted = doneReply('delete', reply);
  if (!deleted.ok) throw scriptError(deleted.code, name);
}

/** A tag hash as a {@link TagConfig}, or undefined for none or a tombstone. */
export function parseTag(name: string, f: Record<string, string>): TagConfig | undefined {
  if (!f.mode || f.deleted_at !== undefined) return undefined;
  const common = {
    name,
    description: f.description ?? '',
    createdAt: Number(f.created_at ?? 0),
  };
  if (f.mode === 'snowflake') return Object.freeze({ ...common, mode: 'snowflake' });
  const big = (s: string | undefined, fallback: bigint) =>
    s !== undefined && /^\d{1,20}$/.test(s) ? BigInt(s) : fallback;
  // Damaged shape fields read as plain here (a listing shows the tag); allocate-1's
  // reply is checked strictly, so such a tag is never served.
  const shaped = readShape(f) ?? { shape: PLAIN, regions: 1 };
  const first = readFirst(f.first);
  return Object.freeze({
    ...common,
    mode: 'segment',
    step: Number(f.step ?? 0),
    max: big(f.max, MAX_ID),
    gap: big(f.gap, 0n),
    shape: shaped.shape,
    regions: shaped.regions,
    ...(first === undefined ? {} : { first }),
    ...(f.next !== undefined && /^\d{1,20}$/.test(f.next) ? { next: BigInt(f.next) } : {}),
  });
}
