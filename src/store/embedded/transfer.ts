/**
 * `tag export` and `tag import` on the embedded store: the export reads every row in
 * one read transaction (a snapshot of all tags at once); each import is one write
 * transaction making the decisions of import-1.lua, with the file's incarnation in place
 * of its `run_id` (incarnation.ts).
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import { MAX_ID } from '../../core/tags.js';
import { Refusal, refusal } from '../refusals.js';
import { MAX_NEXT, recordFromFields, recordName, recordNumberShape } from '../transfer.js';
import type { ImportResult, TagExport, TagRecord } from '../../core/store-ports.js';
import type { TagShape } from '../../core/shape.js';
import { numberSignature, shapeSignature } from '../shape-fields.js';
import {
  decValid,
  newRow,
  rowShape,
  shapeColumns,
  segmentFields,
  smallValid,
  type TagRow,
  type TagRows,
} from './tag-rows.js';

/** A row's columns as the strings a Redis hash would hold (null: absent). */
function fieldsOf(row: TagRow): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [column, value] of Object.entries(row) as [string, SQLOutputValue][]) {
    if (
      column !== 'name' &&
      column !== 'incarnation' &&
      value !== null &&
      !(value instanceof Uint8Array)
    ) {
      out[column] = String(value);
    }
  }
  return out;
}

export class EmbeddedTransfer {
  private readonly selectAll: StatementSync;

  constructor(
    private readonly db: DatabaseSync,
    private readonly rows: TagRows,
  ) {
    this.selectAll = db.prepare('SELECT * FROM tags ORDER BY name');
    this.selectAll.setReadBigInts(true);
  }

  /** Every row, tombstones included, in one read transaction. */
  exportTags(): TagExport {
    this.db.exec('BEGIN');
    try {
      const rows = this.selectAll.all() as unknown as TagRow[];
      const records = rows
        .map((row) => recordFromFields(row.name, fieldsOf(row)))
        .filter((r): r is TagRecord => r !== undefined);
      return { records, consistency: 'snapshot' };
    } finally {
      if (this.db.isTransaction) this.db.exec('COMMIT');
    }
  }

  /**
   * One record, inside the caller's write transaction under the file's `incarnation`;
   * with `dryRun` the same decision and no write.
   */
  importTag(
    record: TagRecord,
    target: bigint | undefined,
    dryRun: boolean,
    now: number,
    incarnation: string,
  ): ImportResult {
    const name = recordName(record);
    const old = this.rows.get(name);
    const write = (row: TagRow) => {
      if (!dryRun) this.rows.put(row);
    };
    if (!old) {
      // The current incarnation: the gap is already in target, so no jump on top.
      write({ ...createdRow(record, target, now), incarnation });
      return {
        outcome: 'created',
        found: 'none',
        ...(target === undefined ? {} : { after: target }),
      };
    }
    const found: ImportResult['found'] =
      old.deleted_at !== null
        ? 'tombstone'
        : old.mode === 'segment' || old.mode === 'snowflake'
          ? old.mode
          : damagedTag(name);
    const before = decValid(old.next) ? BigInt(old.next) : undefined;
    const kept = { found, ...(before === undefined ? {} : { before }) };
    const wanted = record.state === 'tombstone' ? 'tombstone' : record.tag.mode;
    // Another mode, or a segment tag of another shape or region count: left alone (a
    // shape never changes silently; import-1.lua decides alike).
    const otherShape =
      found === 'segment' &&
      record.state === 'live' &&
      record.tag.mode === 'segment' &&
      shapeSignature(record.tag.shape, record.tag.regions) !==
        shapeSignature(...storedShape(name, old));
    // Likewise across a delete: a counter or floor keeps the numbers of the shape it was
    // issued under, and one floor cannot guard IDs of two bijections (create refuses alike).
    const counted =
      record.state === 'tombstone' || record.tag.mode === 'segment' || target !== undefined;
    const otherNumbers =
      counted && before !== undefined && numberSignatureOf(record) !== storedNumbers(name, old);
    if (
      (found !== 'tombstone' && wanted !== 'tombstone' && found !== wanted) ||
      otherShape ||
      otherNumbers
    ) {
      return { outcome: 'conflict', ...kept, ...(before === undefined ? {} : { after: before }) };
    }
    // As allocate-1 or create-1 would first: a counter or floor written under another
    // incarnation skips the gap the row holds.
    const other = old.incarnation !== incarnation;
    let after: bigint | undefined;
    if (found === 'segment') {
      const s = segmentFields(old) ?? damagedTag(name);
      const room = s.max + 1n;
      let from = s.next;
      if (other) from = s.next + s.gap > room ? (s.next > room ? s.next : room) : s.next + s.gap;
      const goal = target === undefined ? s.next : target > room ? room : target;
      after = goal > from ? goal : from;
    } else {
      let floor = before;
      if (floor !== undefined && other && smallValid(old.gap, 0)) floor += old.gap;
      if (target === undefined) after = floor;
      else after = floor !== undefined && floor > target ? floor : target;
    }
    if (after === undefined || after === before) {
      return { outcome: 'unchanged', ...kept, ...(after === undefined ? {} : { after }) };
    }
    // A floor where none was (a snowflake tag without one): with the record's shape.
    const floorColumns = before === undefined ? numberColumns(record) : {};
    write({ ...old, next: after.toString(), incarnation, ...floorColumns });
    return { outcome: 'raised', ...kept, after };
  }
}

/** A stored segment row's shape and region count; a damaged one refuses the import. */
function storedShape(name: string, row: TagRow): [TagShape, number] {
  const shaped = rowShape(row) ?? damagedTag(name);
  return [shaped.shape, shaped.regions];
}

/** A record's numeric shape as {@link numberSignature} writes it. */
function numberSignatureOf(record: TagRecord): string {
  const { shape, regions } = recordNumberShape(record);
  return numberSignature(shape, regions);
}

/** A stored row's numeric shape (a tag's, or a floor's); a damaged one refuses the import. */
function storedNumbers(name: string, row: TagRow): string {
  return numberSignature(...storedShape(name, row));
}

/** The numeric shape columns of a tombstone's or a snowflake tag's floor. */
function numberColumns(record: TagRecord): Pick<TagRow, 'shape' | 'width' | 'key' | 'regions'> {
  const { shape, regions } = recordNumberShape(record);
  const { prefix: _prefix, ...columns } = shapeColumns(shape, regions);
  return columns;
}

function damagedTag(name: string): never {
  throw refusal(Refusal.TAG_DAMAGED, name);
}

/** The row a record is created as, at `target`. */
function createdRow(record: TagRecord, target: bigint | undefined, now: number): TagRow {
  const next = target === undefined ? null : (target > MAX_NEXT ? MAX_NEXT : target).toString();
  if (record.state === 'tombstone') {
    return newRow(record.name, {
      next,
      gap: record.gap ?? null,
      deleted_at: BigInt(Math.floor(record.deletedAt || now)),
      ...numberColumns(record),
    });
  }
  const { tag } = record;
  if (tag.mode === 'snowflake') {
    return newRow(tag.name, {
      mode: tag.mode,
      next,
      step: 1n,
      max: MAX_ID.toString(),
      gap: record.gap ?? null,
      description: tag.description,
      created_at: BigInt(Math.floor(tag.createdAt || now)),
      ...(next === null ? {} : numberColumns(record)),
    });
  }
  return newRow(tag.name, {
    mode: tag.mode,
    next,
    step: BigInt(Math.max(1, tag.step)),
    max: tag.max.toString(),
    gap: tag.gap,
    description: tag.description,
    created_at: BigInt(Math.floor(tag.createdAt || now)),
    // No `first`: where the counter stood at creation is not known here, so the
    // imported tag's shape is fixed.
    ...shapeColumns(tag.shape, tag.regions),
  });
}
