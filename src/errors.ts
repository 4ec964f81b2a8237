/**
 * The error vocabulary shared by the allocator, the stores, the admin script and the
 * HTTP layer. Domain code throws {@link IdAllocError} with a {@link ErrorCode}; only the
 * HTTP error handler turns a code into a status, and only the admin script into an exit
 * code.
 */

/** Every error code a caller can see (SPEC §2), plus the admin-only ones. */
export const ErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TAG_NOT_FOUND: 'TAG_NOT_FOUND',
  WRONG_MODE: 'WRONG_MODE',
  TAG_EXHAUSTED: 'TAG_EXHAUSTED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  /** Admin only: `tag create` of a name that exists. */
  TAG_EXISTS: 'TAG_EXISTS',
  /** Admin only: a change that would lower a counter or a limit below issued IDs. */
  REFUSED: 'REFUSED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a code a caller can act on; `details` carries what a diagnosis needs. */
export class IdAllocError extends Error {
  override readonly name = 'IdAllocError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** For `UNAVAILABLE`: when the caller may usefully try again. */
  readonly retryAfterSeconds: number | undefined;
}

export function isIdAllocError(err: unknown, code?: ErrorCode): err is IdAllocError {
  return err instanceof IdAllocError && (code === undefined || err.code === code);
}

export const invalidArgument = (message: string, details?: Record<string, unknown>) =>
  new IdAllocError(ErrorCode.INVALID_ARGUMENT, message, details);

export const tagNotFound = (tag: string) =>
  new IdAllocError(ErrorCode.TAG_NOT_FOUND, `tag '${tag}' does not exist`, { tag });

export const unavailable = (message: string, retryAfterSeconds = 1, cause?: unknown) =>
  new IdAllocError(ErrorCode.UNAVAILABLE, message, {}, { cause, retryAfterSeconds });

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
} as const;
export type ScriptCode = (typeof ScriptCode)[keyof typeof ScriptCode];

/** The one place a script's negative reply becomes a typed error. */
export function scriptError(code: number, tag: string, context: Record<string, unknown> = {}) {
  switch (code) {
    case ScriptCode.TAG_NOT_FOUND:
      return tagNotFound(tag);
    case ScriptCode.TAG_DAMAGED:
      return new IdAllocError(
        ErrorCode.INTERNAL,
        `tag '${tag}' is damaged in the store (its hash has no valid 'next'); refusing to allocate`,
        { tag, ...context },
      );
    case ScriptCode.WRONG_MODE:
      return new IdAllocError(
        ErrorCode.WRONG_MODE,
        `tag '${tag}' is a ${String(context.mode ?? 'different')}-mode tag; this needs a ${String(context.wanted ?? 'segment')} tag`,
        { tag, ...context },
      );
    case ScriptCode.TAG_EXHAUSTED:
      return new IdAllocError(
        ErrorCode.TAG_EXHAUSTED,
        `tag '${tag}' reached its max${context.max === undefined ? '' : ` (${String(context.max)})`}`,
        { tag, ...context },
      );
    case ScriptCode.WOULD_LOWER:
      return new IdAllocError(
        ErrorCode.REFUSED,
        `bump would lower tag '${tag}': its next ID is ${String(context.next)}, above ${String(context.to)}; bump only raises`,
        { tag, ...context },
      );
    case ScriptCode.TAG_EXISTS:
      return new IdAllocError(ErrorCode.TAG_EXISTS, `tag '${tag}' already exists`, { tag });
    case ScriptCode.MAX_BELOW_NEXT:
      return new IdAllocError(
        ErrorCode.REFUSED,
        `max ${String(context.max)} for tag '${tag}' is below IDs already issued (next ID is ${String(context.next)})`,
        { tag, ...context },
      );
    // The worker scripts (snowflake leases) pass 'worker <id>' as the subject.
    case ScriptCode.NOT_HOLDER:
      return unavailable(
        `the lease on ${tag} is not this node's any more (it expired, or another node holds it)`,
      );
    case ScriptCode.HORIZON_BEHIND:
      return unavailable(
        `${tag} is fenced until ${String(context.floor ?? 'later')}: an earlier holder may have used timestamps up to then`,
      );
    case ScriptCode.WORKER_TAKEN:
      return unavailable(`${tag} is leased by another node`);
    case ScriptCode.WORKER_DAMAGED:
      return new IdAllocError(
        ErrorCode.INTERNAL,
        `${tag} is damaged in the store (its horizon hash has no valid 'h'); refusing to use it`,
        { worker: tag, ...context },
      );
    default:
      return new IdAllocError(ErrorCode.INTERNAL, `unexpected script reply ${code} for '${tag}'`, {
        tag,
        code,
        ...context,
      });
  }
}
