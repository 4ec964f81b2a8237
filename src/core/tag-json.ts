/**
 * A tag as JSON, one shape for the HTTP API (`GET /v1/tags`, `GET /v1/tags/{tag}`) and the
 * admin script's `--json`: 64-bit values as strings of decimal digits, times ISO-8601
 * UTC; segment tags with their counter and settings (`next` null when the tag is damaged
 * in the store), snowflake tags without them (their IDs come from the clock).
 */
import type { TagConfig } from './store-ports.js';

export function tagJson(t: TagConfig): Record<string, unknown> {
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
  };
}
