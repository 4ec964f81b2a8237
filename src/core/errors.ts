/**
 * The public error vocabulary shared by the allocator, the stores, the client, the admin
 * script and the HTTP layer. Domain code throws {@link IdAllocError} with a
 * {@link ErrorCode}; only the HTTP error mapper (http/errors.ts) turns a code into a
 * status, and only the admin script into an exit code. The stores' refusals are built in
 * store/refusals.ts, the Lua reply codes live with the Redis store (store/redis/replies.ts).
 */

/** Every error code a caller can see (docs/design.md §2), plus the admin-only ones. */
export const ErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A keyed (permute) tag's key or decoding asked with a token not in `KEY_TOKENS`. */
  FORBIDDEN: 'FORBIDDEN',
  TAG_NOT_FOUND: 'TAG_NOT_FOUND',
  WRONG_MODE: 'WRONG_MODE',
  /** The tag's region count is not the node's (`REGION`): serving it could collide. */
  WRONG_REGION: 'WRONG_REGION',
  TAG_EXHAUSTED: 'TAG_EXHAUSTED',
  /** An Idempotency-Key reused with other parameters (route kind, count or size). */
  IDEMPOTENCY_MISMATCH: 'IDEMPOTENCY_MISMATCH',
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

/**
 * A caught error as log fields. A known cause (an IdAllocError other than INTERNAL: the
 * store unreachable, a refusal) is its code and message, one short line however often it
 * repeats; anything else may be a bug and keeps its stack, as `err`.
 */
export function errorLogFields(
  err: unknown,
): { error: { code: ErrorCode; message: string; storeError?: string } } | { err: unknown } {
  if (!(err instanceof IdAllocError) || err.code === ErrorCode.INTERNAL) return { err };
  const storeError = storeErrorOf(err);
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(storeError === undefined ? {} : { storeError }),
    },
  };
}

/**
 * The store client's own text behind an error (`details.storeError`, set where a
 * store's failure is put in idalloc's words), looked for along the `cause` chain: for
 * the log line only, never for a caller (docs/errors-and-logs.md).
 */
export function storeErrorOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const text = e instanceof IdAllocError ? e.details.storeError : undefined;
    if (typeof text === 'string') return text;
  }
  return undefined;
}

export const invalidArgument = (message: string, details?: Record<string, unknown>) =>
  new IdAllocError(ErrorCode.INVALID_ARGUMENT, message, details);

export const tagNotFound = (tag: string) =>
  new IdAllocError(ErrorCode.TAG_NOT_FOUND, `tag '${tag}' does not exist`, { tag });

export const unavailable = (message: string, retryAfterSeconds = 1, cause?: unknown) =>
  new IdAllocError(ErrorCode.UNAVAILABLE, message, {}, { cause, retryAfterSeconds });

/** How long a failing grant log is left before it is tried again, ms (src/grants). */
export const GRANT_LOG_PROBE_MS = 5_000;

/** A grant that must not be served: its grant line could not be written. */
export class GrantLogError extends IdAllocError {
  constructor(message: string) {
    super(ErrorCode.UNAVAILABLE, message, {}, { retryAfterSeconds: GRANT_LOG_PROBE_MS / 1000 });
  }
}

/** A configuration problem: one line naming the variable, the value and what is allowed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
