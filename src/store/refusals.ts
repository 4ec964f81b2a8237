/**
 * The refusals a store raises, one set for both stores: the Redis store maps its Lua
 * reply codes onto them (redis/replies.ts), the embedded store raises them directly. Each
 * becomes a public {@link IdAllocError}; the wording is the same whichever store refused.
 */
import { ErrorCode, IdAllocError, tagNotFound, unavailable } from '../core/errors.js';

export const Refusal = {
  TAG_NOT_FOUND: 'TAG_NOT_FOUND',
  /** The tag's hash or row has no valid counter. */
  TAG_DAMAGED: 'TAG_DAMAGED',
  WRONG_MODE: 'WRONG_MODE',
  /** The tag's region count is not the node's. */
  WRONG_REGION: 'WRONG_REGION',
  /** A shape or region count change of a tag that issued IDs. */
  SHAPE_FIXED: 'SHAPE_FIXED',
  /** A segment tag created over a tombstone whose deleted tag had another numeric shape. */
  SHAPE_OF_DELETED: 'SHAPE_OF_DELETED',
  TAG_EXHAUSTED: 'TAG_EXHAUSTED',
  /** An Idempotency-Key recorded with other parameters. */
  IDEMPOTENCY_MISMATCH: 'IDEMPOTENCY_MISMATCH',
  /** A bump that would lower the counter. */
  WOULD_LOWER: 'WOULD_LOWER',
  TAG_EXISTS: 'TAG_EXISTS',
  /** A max below IDs already issued. */
  MAX_BELOW_NEXT: 'MAX_BELOW_NEXT',
  /** Worker leases: the lease is not this holder's any more. */
  NOT_HOLDER: 'NOT_HOLDER',
  /** Worker leases: the worker ID is fenced beyond the wait allowed. */
  HORIZON_BEHIND: 'HORIZON_BEHIND',
  WORKER_TAKEN: 'WORKER_TAKEN',
  WORKER_DAMAGED: 'WORKER_DAMAGED',
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];

/**
 * The one place a store's refusal becomes a typed error. `tag` is the tag, or
 * 'worker <id>' for the worker-lease refusals; `context` carries what the message names
 * (`mode`/`wanted` for WRONG_MODE, `max`, `next`, `to`, `floor`).
 */
export function refusal(
  kind: Refusal,
  tag: string,
  context: Record<string, unknown> = {},
): IdAllocError {
  switch (kind) {
    case Refusal.TAG_NOT_FOUND:
      return tagNotFound(tag);
    case Refusal.TAG_DAMAGED:
      return new IdAllocError(
        ErrorCode.INTERNAL,
        `tag '${tag}' is damaged in the store (its hash has no valid 'next'); refusing to allocate`,
        { tag, ...context },
      );
    case Refusal.WRONG_MODE:
      return new IdAllocError(
        ErrorCode.WRONG_MODE,
        `tag '${tag}' is a ${String(context.mode ?? 'different')}-mode tag; this needs a ${String(context.wanted ?? 'segment')} tag`,
        { tag, ...context },
      );
    case Refusal.WRONG_REGION:
      return new IdAllocError(
        ErrorCode.WRONG_REGION,
        `tag '${tag}' is shared by ${String(context.tagRegions)} region(s), and this node is set to ${String(context.nodeRegions)} (REGION): serving it could issue another region's IDs; set REGION to i/${String(context.tagRegions)}`,
        { tag, ...context },
      );
    case Refusal.SHAPE_FIXED:
      return new IdAllocError(
        ErrorCode.REFUSED,
        `tag '${tag}' has issued IDs (next ${String(context.next)} is past its first ${String(context.first)}): its shape and region count are fixed, since another would map new counter values onto IDs already issued`,
        { tag, ...context },
      );
    case Refusal.SHAPE_OF_DELETED:
      return shapeOfDeleted(tag, context);
    case Refusal.TAG_EXHAUSTED:
      return new IdAllocError(
        ErrorCode.TAG_EXHAUSTED,
        `tag '${tag}' reached its max${context.max === undefined ? '' : ` (${String(context.max)})`}`,
        { tag, ...context },
      );
    case Refusal.IDEMPOTENCY_MISMATCH:
      return new IdAllocError(
        ErrorCode.IDEMPOTENCY_MISMATCH,
        `this Idempotency-Key was used for tag '${tag}' with other parameters than ${String(context.params ?? 'these')}: a key names one request; send a new key for a new request`,
        { tag, ...context },
      );
    case Refusal.WOULD_LOWER:
      return new IdAllocError(
        ErrorCode.REFUSED,
        `bump would lower tag '${tag}': its next ID is ${String(context.next)}, above ${String(context.to)}; bump only raises`,
        { tag, ...context },
      );
    case Refusal.TAG_EXISTS:
      return new IdAllocError(ErrorCode.TAG_EXISTS, `tag '${tag}' already exists`, { tag });
    case Refusal.MAX_BELOW_NEXT:
      return new IdAllocError(
        ErrorCode.REFUSED,
        `max ${String(context.max)} for tag '${tag}' is below IDs already issued (next ID is ${String(context.next)})`,
        { tag, ...context },
      );
    // The worker refusals (snowflake leases) pass 'worker <id>' as the subject.
    case Refusal.NOT_HOLDER:
      return unavailable(
        `the lease on ${tag} is not this node's any more (it expired, or another node holds it)`,
      );
    case Refusal.HORIZON_BEHIND:
      return unavailable(
        `${tag} is fenced until ${String(context.floor ?? 'later')}: an earlier holder may have used timestamps up to then`,
      );
    case Refusal.WORKER_TAKEN:
      return unavailable(`${tag} is leased by another node`);
    case Refusal.WORKER_DAMAGED:
      return new IdAllocError(
        ErrorCode.INTERNAL,
        `${tag} is damaged in the store (its horizon hash has no valid 'h'); refusing to use it`,
        { worker: tag, ...context },
      );
  }
}

/**
 * SHAPE_OF_DELETED: `context.kind`, `width`, `regions` are the deleted tag's (as its
 * tombstone keeps them; unknown when it could not be read). Never the key: the message
 * reaches logs and terminals, and the key is in any export taken while the tag was live.
 */
function shapeOfDeleted(tag: string, context: Record<string, unknown>): IdAllocError {
  const { kind, width, regions } = context;
  const known = typeof kind === 'string';
  const shown = known
    ? `${kind}${width === undefined ? '' : ` (width ${String(width)})`}, ${String(regions ?? 1)} region(s)`
    : 'another shape or region count';
  const flags = known
    ? `--shape ${kind}${width === undefined ? '' : ` --width ${String(width)}`} --regions ${String(regions ?? 1)}` +
      (kind === 'permute'
        ? " and the deleted tag's key, passed with --key (it is in any export taken while the tag was live)"
        : '')
    : "the deleted tag's shape";
  return new IdAllocError(
    ErrorCode.REFUSED,
    `tag '${tag}' was deleted after issuing IDs as ${shown}: a tag created again under this name must keep that shape and region count, since another would map its new counter values onto IDs the deleted tag issued; create it with ${flags}, or pick another name`,
    {
      tag,
      ...(known ? { kind } : {}),
      ...(width === undefined ? {} : { width }),
      ...(regions === undefined ? {} : { regions }),
    },
  );
}
