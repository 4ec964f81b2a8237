/**
 * A tag as JSON, one shape for the HTTP API (`GET /v1/tags`, `GET /v1/tags/{tag}`) and the
 * admin script's `--json`: 64-bit values as strings of decimal digits, times ISO-8601
 * UTC; segment tags with their counter and settings (`next` null when the tag is damaged
 * in the store), their shape and region count (docs/design.md §13), snowflake tags
 * without them (their IDs come from the clock).
 *
 * A permute tag's key is left out of {@link tagJson}: whoever holds it can enumerate the
 * tag's IDs. Only the admin script prints it ({@link tagJsonWithKey}).
 */
import { publicShape, type TagShape } from './shape.js';
import type { TagConfig } from './store-ports.js';

/**
 * The tag as JSON, without the permute key (the HTTP API). One argument only, so that
 * `tags.map(tagJson)` can never pass an index where an option is read.
 */
export function tagJson(t: TagConfig): Record<string, unknown> {
  return tagJsonOf(t, false);
}

/** The tag as JSON with the permute key: the admin script's `tag show --json` and `--json` output. */
export function tagJsonWithKey(t: TagConfig): Record<string, unknown> {
  return tagJsonOf(t, true);
}

/** A shape as JSON: kind, and prefix, width and key where the shape has them. */
export function shapeJson(shape: TagShape, withKey: boolean): Record<string, unknown> {
  const s = withKey ? shape : publicShape(shape);
  return {
    kind: s.kind,
    ...(s.prefix === undefined ? {} : { prefix: s.prefix }),
    ...(s.width === undefined ? {} : { width: s.width }),
    ...(s.key === undefined ? {} : { key: s.key }),
  };
}

function tagJsonOf(t: TagConfig, withKey: boolean): Record<string, unknown> {
  if (t.mode === 'snowflake') {
    return {
      name: t.name,
      mode: t.mode,
      description: t.description,
      createdAt: new Date(t.createdAt).toISOString(),
    };
  }
  return {
    name: t.name,
    mode: t.mode,
    step: t.step,
    max: t.max.toString(),
    gap: t.gap.toString(),
    description: t.description,
    createdAt: new Date(t.createdAt).toISOString(),
    next: t.next === undefined ? null : t.next.toString(),
    shape: shapeJson(t.shape, withKey),
    regions: t.regions,
  };
}
