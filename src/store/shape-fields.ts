/**
 * A segment tag's shape and region count as both stores keep them (docs/design.md §13):
 * the Redis hash fields and the SQLite columns `shape`, `prefix`, `width`, `key`,
 * `regions` and `first`, all as strings. Missing fields read as plain, one region, so
 * tags written before shapes existed keep working; `first` (the counter at creation)
 * says whether the tag has issued an ID, and is missing on older and imported tags,
 * whose shape is then fixed.
 */
import { checkRegions, checkShape, PLAIN, type ShapeKind, type TagShape } from '../core/shape.js';

/** The stored fields, absent ones undefined (or null, as SQLite hands them over). */
export interface ShapeFields {
  readonly shape?: string | null | undefined;
  readonly prefix?: string | null | undefined;
  readonly width?: string | null | undefined;
  readonly key?: string | null | undefined;
  readonly regions?: string | null | undefined;
}

const opt = (v: string | null | undefined): string | undefined =>
  v === null || v === undefined || v === '' ? undefined : v;

/**
 * The shape and region count the fields hold; undefined when they are damaged (an
 * unknown kind, a malformed width or key): such a tag is refused, never served as plain.
 */
export function readShape(f: ShapeFields): { shape: TagShape; regions: number } | undefined {
  const kind = opt(f.shape);
  const prefix = opt(f.prefix);
  const width = opt(f.width);
  const key = opt(f.key);
  const regionsText = opt(f.regions) ?? '1';
  if (!/^\d{1,4}$/.test(regionsText)) return undefined;
  if (width !== undefined && !/^\d{1,2}$/.test(width)) return undefined;
  const shape: TagShape =
    kind === undefined && prefix === undefined && width === undefined && key === undefined
      ? PLAIN
      : Object.freeze({
          kind: (kind ?? 'plain') as ShapeKind,
          ...(prefix === undefined ? {} : { prefix }),
          ...(width === undefined ? {} : { width: Number(width) }),
          ...(key === undefined ? {} : { key }),
        });
  try {
    checkShape(shape);
    return { shape, regions: checkRegions(Number(regionsText)) };
  } catch {
    return undefined;
  }
}

/**
 * The fields to store for a shape and region count: every field named, '' for the ones
 * the shape has not (so a change to another shape clears what the old one had).
 */
export function shapeFields(
  shape: TagShape,
  regions: number,
): {
  shape: string;
  prefix: string;
  width: string;
  key: string;
  regions: string;
} {
  return {
    shape: shape.kind,
    prefix: shape.prefix ?? '',
    width: shape.width === undefined ? '' : String(shape.width),
    key: shape.key ?? '',
    regions: String(regions),
  };
}

/**
 * One string that differs whenever two tags' shapes or region counts differ (the key
 * included): what update-1 and import-1 compare with the stored tag. Built alike by
 * tag.lua's shape_signature.
 */
export function shapeSignature(shape: TagShape, regions: number): string {
  const f = shapeFields(shape, regions);
  return [f.shape, f.prefix, f.width, f.key, f.regions].join('|');
}

/**
 * The numbers a counter value becomes under a shape and region count: kind, width, key
 * and regions, the prefix left out (it only writes that number another way). A deleted
 * segment tag's tombstone keeps these, and a tag created again under its name must have
 * the same (docs/design.md §3): under another bijection its new counter values could map
 * onto IDs the deleted tag issued. Built alike by tag.lua's number_signature.
 */
export function numberSignature(shape: TagShape, regions: number): string {
  const f = shapeFields(shape, regions);
  return [f.shape, f.width, f.key, f.regions].join('|');
}

/** The shape without its prefix: what a tombstone keeps of it. */
export function numberShape(shape: TagShape): TagShape {
  if (shape.prefix === undefined) return shape;
  const { prefix: _prefix, ...rest } = shape;
  return Object.freeze(rest);
}

/** Reads `first` (a decimal counter value), or undefined. */
export function readFirst(v: string | null | undefined): bigint | undefined {
  return typeof v === 'string' && /^(0|[1-9]\d{0,19})$/.test(v) ? BigInt(v) : undefined;
}
