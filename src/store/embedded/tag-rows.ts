/**
 * The `tags` table of the embedded store: one row per tag with the fields of the Redis
 * tag hash (docs/design.md §4), `incarnation` (the file incarnation, incarnation.ts) in
 * place of `run_id`. A tombstone is a row holding only `next`, `deleted_at`, `gap` and
 * `incarnation`, as delete-1.lua leaves a hash holding only those.
 *
 * Values are read as SQLite stored them (integers as bigint) and checked here before
 * use, exactly as the Lua scripts check a hash: whatever a hand edit or a damaged file
 * left in a row, a tag is used only when every counter field is well-formed.
 */
import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import { MAX_ID, MAX_SMALL } from '../../core/tags.js';
import type { TagConfig } from '../../core/store-ports.js';
import type { TagShape } from '../../core/shape.js';
import { Refusal, refusal } from '../refusals.js';
import {
  numberSignature,
  readFirst,
  readShape,
  shapeFields,
  type ShapeFields,
} from '../shape-fields.js';

const text = (v: SQLOutputValue): string | undefined => (typeof v === 'string' ? v : undefined);

/** The row's shape fields as store/shape-fields.ts reads them. */
function rowShapeFields(row: TagRow): ShapeFields {
  return {
    shape: text(row.shape),
    prefix: text(row.prefix),
    width: text(row.width),
    key: text(row.key),
    regions: text(row.regions),
  };
}

/** The row's shape and region count; undefined when damaged (the tag is then refused). */
export function rowShape(row: TagRow): { shape: TagShape; regions: number } | undefined {
  return readShape(rowShapeFields(row));
}

/**
 * The columns of a shape and region count: null where the shape has no such field and
 * for the defaults (plain, one region), as the Redis hash leaves them out (tag.lua).
 */
export function shapeColumns(
  shape: TagShape,
  regions: number,
): Pick<TagRow, 'shape' | 'prefix' | 'width' | 'key' | 'regions'> {
  const f = shapeFields(shape, regions);
  const orNull = (v: string) => (v === '' ? null : v);
  return {
    shape: f.shape === 'plain' ? null : f.shape,
    prefix: orNull(f.prefix),
    width: orNull(f.width),
    key: orNull(f.key),
    regions: f.regions === '1' ? null : f.regions,
  };
}

/** The row's `first`, if it has one. */
export function rowFirst(row: TagRow): bigint | undefined {
  return readFirst(text(row.first));
}

/**
 * The numeric shape columns a floor keeps (shape, width, key, regions; tag.lua's
 * NUMBER_FIELDS): copied from a live tag to its tombstone, and from a tombstone to a
 * snowflake tag created over it, as they stand.
 */
export function floorColumns(row: TagRow): Pick<TagRow, 'shape' | 'width' | 'key' | 'regions'> {
  return { shape: row.shape, width: row.width, key: row.key, regions: row.regions };
}

/**
 * create-1.lua's SHAPE_OF_DELETED: a segment tag created over a floor must have the
 * numeric shape the deleted tag issued its IDs under (absent columns: plain, 1 region).
 */
export function checkShapeOfDeleted(
  name: string,
  old: TagRow,
  shape: TagShape,
  regions: number,
): void {
  const kept = rowShape(old);
  if (kept && numberSignature(kept.shape, kept.regions) === numberSignature(shape, regions)) return;
  throw refusal(Refusal.SHAPE_OF_DELETED, name, {
    ...(kept
      ? {
          kind: kept.shape.kind,
          ...(kept.shape.width === undefined ? {} : { width: kept.shape.width }),
          regions: kept.regions,
        }
      : {}),
  });
}

/** A row as stored; any column may hold anything a hand edit put there. */
export interface TagRow {
  readonly name: string;
  readonly mode: SQLOutputValue;
  readonly next: SQLOutputValue;
  readonly step: SQLOutputValue;
  readonly max: SQLOutputValue;
  readonly gap: SQLOutputValue;
  readonly description: SQLOutputValue;
  readonly created_at: SQLOutputValue;
  readonly deleted_at: SQLOutputValue;
  readonly incarnation: SQLOutputValue;
  /** Segment tags: the shape fields of store/shape-fields.ts, as text; null when absent. */
  readonly shape: SQLOutputValue;
  readonly prefix: SQLOutputValue;
  readonly width: SQLOutputValue;
  readonly key: SQLOutputValue;
  readonly regions: SQLOutputValue;
  /** The counter at creation (decimal text): the shape may change while next is still there. */
  readonly first: SQLOutputValue;
}

const COLUMNS = [
  'name',
  'mode',
  'next',
  'step',
  'max',
  'gap',
  'description',
  'created_at',
  'deleted_at',
  'incarnation',
  'shape',
  'prefix',
  'width',
  'key',
  'regions',
  'first',
] as const;

/** A canonical non-negative decimal of at most 20 digits (decimal.lua's dec_valid). */
export function decValid(v: unknown): v is string {
  return typeof v === 'string' && /^(0|[1-9]\d{0,19})$/.test(v);
}

/** An integer from `lo` to 2^52 (decimal.lua's small_valid). */
export function smallValid(v: unknown, lo: number): v is bigint {
  return typeof v === 'bigint' && v >= BigInt(lo) && v <= BigInt(MAX_SMALL);
}

/** A live tag (not a tombstone) whose counter fields are all well-formed. */
export interface SegmentRow {
  readonly next: bigint;
  readonly max: bigint;
  readonly step: number;
  readonly gap: bigint;
}

/** tag.lua's segment_fields_valid: the counter fields, or undefined when one is damaged. */
export function segmentFields(row: TagRow): SegmentRow | undefined {
  if (!decValid(row.next) || !decValid(row.max)) return undefined;
  if (!smallValid(row.step, 1) || !smallValid(row.gap, 0)) return undefined;
  return { next: BigInt(row.next), max: BigInt(row.max), step: Number(row.step), gap: row.gap };
}

/**
 * apply_incarnation of tag.lua: a segment counter last written under another incarnation
 * of the file (a restored copy, a file from before the guard) may stand below IDs already
 * issued, so `next` first skips the tag's gap (stopping at max + 1: exhausted, never
 * overflowed) and the row records the current incarnation. Returns the fields as they
 * are now, how many IDs were skipped, and whether the guard applied (`bumped`).
 */
export function applyIncarnation(
  rows: TagRows,
  row: TagRow | undefined,
  s: SegmentRow,
  incarnation: string,
): { s: SegmentRow; skipped: bigint; bumped: boolean } {
  if (row === undefined || row.incarnation === incarnation) {
    return { s, skipped: 0n, bumped: false };
  }
  let next = s.next + s.gap;
  if (next > s.max + 1n) next = s.next > s.max + 1n ? s.next : s.max + 1n;
  rows.setNext(row.name, next, incarnation);
  return { s: { ...s, next }, skipped: next - s.next, bumped: true };
}

/** The row as a {@link TagConfig}, or undefined for a tombstone or a row without a mode. */
export function toTagConfig(row: TagRow): TagConfig | undefined {
  if (row.deleted_at !== null || (row.mode !== 'segment' && row.mode !== 'snowflake')) {
    return undefined;
  }
  const id = (v: SQLOutputValue, fallback: bigint) => (decValid(v) ? BigInt(v) : fallback);
  const int = (v: SQLOutputValue) => (typeof v === 'bigint' ? Number(v) : 0);
  const common = {
    name: row.name,
    description: typeof row.description === 'string' ? row.description : '',
    createdAt: int(row.created_at),
  };
  if (row.mode === 'snowflake') return Object.freeze({ ...common, mode: 'snowflake' });
  // Damaged shape columns read as plain here (a listing shows the tag); an allocation
  // checks them strictly, so such a tag is never served.
  const shaped = rowShape(row) ?? { shape: { kind: 'plain' as const }, regions: 1 };
  const first = rowFirst(row);
  return Object.freeze({
    ...common,
    mode: 'segment',
    step: int(row.step),
    max: id(row.max, MAX_ID),
    gap: typeof row.gap === 'bigint' && row.gap >= 0n ? row.gap : 0n,
    shape: shaped.shape,
    regions: shaped.regions,
    ...(first === undefined ? {} : { first }),
    ...(decValid(row.next) ? { next: BigInt(row.next) } : {}),
  });
}

/** The prepared statements on the table. */
export class TagRows {
  private readonly selectOne: StatementSync;
  private readonly selectAll: StatementSync;
  private readonly upsert: StatementSync;
  private readonly updateNext: StatementSync;
  private readonly remove: StatementSync;

  constructor(db: DatabaseSync) {
    this.selectOne = db.prepare(`SELECT ${COLUMNS.join(', ')} FROM tags WHERE name = ?`);
    this.selectAll = db.prepare(
      `SELECT ${COLUMNS.join(', ')} FROM tags WHERE deleted_at IS NULL ORDER BY name`,
    );
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO tags (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
    this.updateNext = db.prepare(
      'UPDATE tags SET next = ?, incarnation = coalesce(?, incarnation) WHERE name = ?',
    );
    this.remove = db.prepare('DELETE FROM tags WHERE name = ?');
    // Integers beyond 2^53 (a damaged step, say) must reach the checks, not throw.
    this.selectOne.setReadBigInts(true);
    this.selectAll.setReadBigInts(true);
  }

  /** The row of `name`, tombstone included; undefined when there is none. */
  get(name: string): TagRow | undefined {
    return this.selectOne.get(name) as TagRow | undefined;
  }

  /** Every row that is not a tombstone, by name. */
  live(): TagRow[] {
    return this.selectAll.all() as unknown as TagRow[];
  }

  /** Writes the whole row (what was not changed is written back as it was read). */
  put(row: TagRow): void {
    this.upsert.run(...COLUMNS.map((c) => row[c] as SQLInputValue));
  }

  /** Sets `next`, and the incarnation when given. */
  setNext(name: string, next: bigint, incarnation?: string): void {
    this.updateNext.run(next.toString(), incarnation ?? null, name);
  }

  delete(name: string): void {
    this.remove.run(name);
  }
}

/** The row of a new tag or a tombstone: every column named, unset ones null. */
export function newRow(name: string, fields: Partial<Omit<TagRow, 'name'>>): TagRow {
  return {
    name,
    mode: null,
    next: null,
    step: null,
    max: null,
    gap: null,
    description: null,
    created_at: null,
    deleted_at: null,
    incarnation: null,
    shape: null,
    prefix: null,
    width: null,
    key: null,
    regions: null,
    first: null,
    ...fields,
  };
}
