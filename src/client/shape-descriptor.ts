/**
 * The shape descriptor of a range answer (docs/design.md §13, docs/api.md "Shaped IDs"):
 * how the leased counter values become the tag's IDs, read into a {@link Shaper} so
 * IdClient shapes them as the service would.
 */
import { ErrorCode, IdAllocError } from '../core/errors.js';
import { Shaper, checkRegions, checkShape, type ShapeKind } from '../core/shape.js';

/**
 * The shaper of a range answer's descriptor `{kind, prefix?, width?, key?, regions,
 * region}`; undefined for plain IDs of one region (nothing to do per ID).
 * @throws IdAllocError INVALID_ARGUMENT for a descriptor that is not a valid shape
 */
export function shaperOf(descriptor: unknown): Shaper | undefined {
  if (descriptor === undefined) return undefined;
  const d = (typeof descriptor === 'object' && descriptor !== null ? descriptor : {}) as Record<
    string,
    unknown
  >;
  const { kind, prefix, width, key, regions, region } = d;
  const shape = checkShape({
    kind: kind as ShapeKind,
    ...(typeof prefix === 'string' ? { prefix } : {}),
    ...(typeof width === 'number' ? { width } : {}),
    ...(typeof key === 'string' ? { key } : {}),
  });
  const count = checkRegions(Number(regions));
  const index = Number(region);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new IdAllocError(
      ErrorCode.INVALID_ARGUMENT,
      `region ${String(region)} is not a region of ${count}`,
    );
  }
  const shaper = new Shaper(shape, count, index);
  return shaper.identity ? undefined : shaper;
}
