/**
 * What both stores share for `tag export` and `tag import`: reading a stored tag (the
 * Redis hash, the SQLite row, both as strings) into a {@link TagRecord} with every field
 * checked, and the target a record is restored at.
 */
import { ErrorCode, IdAllocError } from '../core/errors.js';
import { MAX_ID, MAX_SMALL } from '../core/tags.js';
import type { TagRecord } from '../core/store-ports.js';
import { PLAIN, type TagShape } from '../core/shape.js';
import { numberShape, readShape } from './shape-fields.js';

/** One past the largest ID: the next of an exhausted tag, the highest a floor goes. */
export const MAX_NEXT = MAX_ID + 1n;

const DECIMAL = /^(0|[1-9]\d{0,19})$/;

function damaged(name: string, why: string): IdAllocError {
  return new IdAllocError(
    ErrorCode.INTERNAL,
    `tag '${name}' is damaged in the store (${why}); fix or delete it, then export again`,
    { tag: name },
  );
}

function id(name: string, field: string, v: string | undefined, limit: bigint): bigint {
  if (v === undefined || !DECIMAL.test(v) || BigInt(v) > limit) {
    throw damaged(name, `${field} ${v === undefined ? 'missing' : `'${v}'`}`);
  }
  return BigInt(v);
}

function small(name: string, field: string, v: string | undefined, min: number): bigint {
  const n = id(name, field, v, BigInt(MAX_SMALL));
  if (n < BigInt(min)) throw damaged(name, `${field} '${v}' below ${min}`);
  return n;
}

function millis(v: string | undefined): number {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : 0;
}

/**
 * A stored tag or tombstone, its fields as strings (absent ones undefined), as a record.
 * @returns undefined when nothing is stored under the name
 * @throws IdAllocError INTERNAL naming the tag and the field when it is damaged
 */
export function recordFromFields(
  name: string,
  f: Readonly<Record<string, string | undefined>>,
): TagRecord | undefined {
  if (Object.values(f).every((v) => v === undefined)) return undefined;
  if (f.deleted_at !== undefined) {
    const gap = f.gap !== undefined && /^\d{1,16}$/.test(f.gap) ? BigInt(f.gap) : undefined;
    const kept = floorShape(name, f);
    return {
      state: 'tombstone',
      name,
      next: id(name, 'next', f.next, MAX_NEXT),
      ...(gap !== undefined && gap <= BigInt(MAX_SMALL) ? { gap } : {}),
      deletedAt: millis(f.deleted_at),
      ...(kept && { shape: kept.shape, regions: kept.regions }),
    };
  }
  const common = { name, description: f.description ?? '', createdAt: millis(f.created_at) };
  if (f.mode === 'segment') {
    const max = id(name, 'max', f.max, MAX_ID);
    // Exported as stored, key included: a tag imported elsewhere must issue the same IDs.
    const shaped = readShape(f);
    if (!shaped) {
      throw damaged(
        name,
        `shape fields '${[f.shape, f.prefix, f.width, f.regions].map((v) => v ?? '').join('|')}'`,
      );
    }
    const tag = {
      ...common,
      mode: 'segment' as const,
      step: Number(small(name, 'step', f.step, 1)),
      max,
      gap: small(name, 'gap', f.gap, 0),
      next: id(name, 'next', f.next, max + 1n),
      shape: shaped.shape,
      regions: shaped.regions,
    };
    return { state: 'live', tag };
  }
  if (f.mode === 'snowflake') {
    const gap = f.gap !== undefined && /^\d{1,16}$/.test(f.gap) ? BigInt(f.gap) : undefined;
    const tag = { ...common, mode: 'snowflake' as const };
    const floor = f.next === undefined ? undefined : id(name, 'next', f.next, MAX_NEXT);
    const kept = floor === undefined ? undefined : floorShape(name, f);
    return {
      state: 'live',
      tag,
      ...(floor === undefined ? {} : { floor }),
      ...(gap === undefined || gap > BigInt(MAX_SMALL) ? {} : { gap }),
      ...(kept && { floorShape: kept.shape, floorRegions: kept.regions }),
    };
  }
  throw damaged(name, `mode ${f.mode === undefined ? 'missing' : `'${f.mode}'`}`);
}

/**
 * The numeric shape a floor keeps (a tombstone's, or a snowflake tag's over one), with
 * the key: undefined for plain, one region (also what older stores left: no fields).
 * @throws IdAllocError INTERNAL when the fields are damaged
 */
function floorShape(
  name: string,
  f: Readonly<Record<string, string | undefined>>,
): { shape: TagShape; regions: number } | undefined {
  const kept = readShape({ shape: f.shape, width: f.width, key: f.key, regions: f.regions });
  if (!kept) {
    throw damaged(
      name,
      `the deleted tag's shape fields '${[f.shape, f.width, f.regions].map((v) => v ?? '').join('|')}'`,
    );
  }
  return kept.shape.kind === 'plain' && kept.regions === 1 ? undefined : kept;
}

/**
 * The numeric shape and region count a record's counter or floor was issued under
 * (absent ones: plain, one region), as import-1.lua and the embedded import compare them.
 */
export function recordNumberShape(record: TagRecord): { shape: TagShape; regions: number } {
  if (record.state === 'tombstone') {
    return { shape: record.shape ?? PLAIN, regions: record.regions ?? 1 };
  }
  if (record.tag.mode === 'segment') {
    return { shape: numberShape(record.tag.shape), regions: record.tag.regions };
  }
  return { shape: record.floorShape ?? PLAIN, regions: record.floorRegions ?? 1 };
}

/**
 * Where `tag import` puts a record: its next (or floor) plus `gap`, stopping at the
 * tag's max + 1 (exhausted, never overflowed); undefined for a snowflake tag without a
 * floor (it has no counter).
 */
export function importTarget(record: TagRecord, gap: bigint): bigint | undefined {
  const min = (a: bigint, b: bigint) => (a < b ? a : b);
  if (record.state === 'tombstone') return min(record.next + gap, MAX_NEXT);
  const { tag } = record;
  if (tag.mode === 'segment') return min((tag.next ?? 0n) + gap, tag.max + 1n);
  return record.floor === undefined ? undefined : min(record.floor + gap, MAX_NEXT);
}

/** A record's name. */
export function recordName(record: TagRecord): string {
  return record.state === 'tombstone' ? record.name : record.tag.name;
}
