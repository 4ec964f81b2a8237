/**
 * The Redis store's reply vocabulary: the small negative integers the Lua scripts in
 * src/lua answer with, how to read them, and how a failed command becomes an error.
 * Nothing outside store/redis speaks in these codes; they map onto the stores' shared
 * refusals (../refusals.ts), never the other way; a failed command's words are in
 * store-failure.ts. Each script's reply is read in
 * reply-shapes.ts (the tag scripts) or worker-replies.ts (the worker scripts).
 */
import { ErrorCode, IdAllocError } from '../../core/errors.js';
import { Refusal, refusal } from '../refusals.js';

/**
 * Domain failures returned by the Lua scripts as small negative integers (one list for
 * every script in src/lua; each script's header says which it can return).
 */
export const ScriptCode = {
  TAG_NOT_FOUND: -1,
  TAG_DAMAGED: -2,
  WRONG_MODE: -3,
  TAG_EXHAUSTED: -4,
  WOULD_LOWER: -5,
  TAG_EXISTS: -6,
  MAX_BELOW_NEXT: -7,
  NOT_HOLDER: -8,
  HORIZON_BEHIND: -9,
  WORKER_TAKEN: -10,
  WORKER_DAMAGED: -11,
  WORKER_MOVED: -12,
  WRONG_REGION: -13,
  SHAPE_FIXED: -14,
  SHAPE_OF_DELETED: -15,
  IDEMPOTENCY_MISMATCH: -16,
} as const;
export type ScriptCode = (typeof ScriptCode)[keyof typeof ScriptCode];

const REFUSAL_OF: Readonly<Record<number, Refusal>> = {
  [ScriptCode.TAG_NOT_FOUND]: Refusal.TAG_NOT_FOUND,
  [ScriptCode.TAG_DAMAGED]: Refusal.TAG_DAMAGED,
  [ScriptCode.WRONG_MODE]: Refusal.WRONG_MODE,
  [ScriptCode.TAG_EXHAUSTED]: Refusal.TAG_EXHAUSTED,
  [ScriptCode.WOULD_LOWER]: Refusal.WOULD_LOWER,
  [ScriptCode.TAG_EXISTS]: Refusal.TAG_EXISTS,
  [ScriptCode.MAX_BELOW_NEXT]: Refusal.MAX_BELOW_NEXT,
  [ScriptCode.NOT_HOLDER]: Refusal.NOT_HOLDER,
  [ScriptCode.HORIZON_BEHIND]: Refusal.HORIZON_BEHIND,
  [ScriptCode.WORKER_TAKEN]: Refusal.WORKER_TAKEN,
  [ScriptCode.WORKER_DAMAGED]: Refusal.WORKER_DAMAGED,
  [ScriptCode.WRONG_REGION]: Refusal.WRONG_REGION,
  [ScriptCode.SHAPE_FIXED]: Refusal.SHAPE_FIXED,
  [ScriptCode.SHAPE_OF_DELETED]: Refusal.SHAPE_OF_DELETED,
  [ScriptCode.IDEMPOTENCY_MISMATCH]: Refusal.IDEMPOTENCY_MISMATCH,
};

/** The one place a script's negative reply becomes a typed error. */
export function scriptError(
  code: number,
  tag: string,
  context: Record<string, unknown> = {},
): IdAllocError {
  const kind = REFUSAL_OF[code];
  if (kind !== undefined) return refusal(kind, tag, context);
  return new IdAllocError(ErrorCode.INTERNAL, `unexpected script reply ${code} for '${tag}'`, {
    tag,
    code,
    ...context,
  });
}

/** A reply that is not what a script's header promises (`what`: the script, the subject). */
export function badReply(what: string, reply: unknown): IdAllocError {
  return new IdAllocError(ErrorCode.INTERNAL, `unexpected reply from ${what}`, {
    reply: JSON.stringify(reply),
  });
}

/**
 * A negative code as a number. With `stringNumbers` ioredis hands integer replies over
 * as strings, so both shapes are accepted.
 */
export function codeOf(reply: unknown): number | undefined {
  if (typeof reply === 'number') return reply;
  if (typeof reply === 'string' && /^-?\d+$/.test(reply)) return Number(reply);
  return undefined;
}

/** A failed command as an error in idalloc's words (store-failure.ts). */
export { storeFailure } from './store-failure.js';
