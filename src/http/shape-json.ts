/**
 * Shapes on the HTTP API (docs/design.md §13, docs/api.md): the shape descriptor of a
 * range answer, the decode answer, and who may see a permute key. The key leaves the
 * node only in a range answer to a caller whose bearer token is in `KEY_TOKENS`.
 */
import type { DecodedTagId } from '../allocator/types.js';
import type { ServedShape } from '../allocator/shaping.js';
import { ErrorCode, IdAllocError } from '../core/errors.js';
import { publicShape, type TagShape } from '../core/shape.js';
import { bearerCheck } from './auth.js';
import { ROUTES, pathTo } from './routes.js';

/** Whether the `Authorization` header's token may hold permute keys. */
export type KeyHolder = (header: string | undefined) => boolean;

/** The check of `KEY_TOKENS`: without any, no caller may hold a key. */
export function keyHolderOf(tokens: readonly string[] | undefined): KeyHolder {
  if (tokens === undefined || tokens.length === 0) return () => false;
  const check = bearerCheck(tokens);
  return (header) => check(header) === undefined;
}

/**
 * The shape of a range answer: what a client needs to shape the counter values itself
 * (core/shape.ts `Shaper`), the key only when `withKey`.
 */
export function shapeDescriptor(s: ServedShape, withKey: boolean): Record<string, unknown> {
  const shown: TagShape = withKey ? s.shape : publicShape(s.shape);
  return { ...shown, regions: s.regions, region: s.region };
}

/** Refuses a keyed tag's range or decode to a caller without a key token (403). */
export function needsKey(tag: string, what: string): IdAllocError {
  return new IdAllocError(
    ErrorCode.FORBIDDEN,
    `tag '${tag}' is a permute tag: ${what} would reveal its key or its counter; it needs a bearer token of KEY_TOKENS (IDs: GET ${pathTo(ROUTES.ids, tag)}?count=N)`,
    { tag },
  );
}

/** The answer of `GET /v1/decode/{tag}`. */
export function decodedJson(tag: string, id: string, d: DecodedTagId): Record<string, unknown> {
  return {
    tag,
    id,
    counter: d.counter.toString(),
    region: d.region,
    regions: d.regions,
    shape: publicShape(d.shape),
    ...(d.issued === undefined ? {} : { issued: d.issued }),
  };
}
