/**
 * Refused requests must not be able to fill a disk: anyone can send them as fast as the
 * network allows. That holds for 400, 401 and 404, for 409 (a range of a snowflake tag,
 * an exhausted tag: 300–600 B of log each), for 422 (an Idempotency-Key reused) and for the 503 every request gets while the
 * store is down (≈350 B each). Each one is counted in `idalloc_http_refused_total` by its
 * error code and logged at debug; at most one line a minute per kind (client errors,
 * conflicts, unavailable, and a probe's refusal — a not-ready `/readyz`) is logged at its
 * own level — warn, or error for 503 — with how many of that kind were left out since the
 * previous such line. A kind of its own each, so that a flood of 404s cannot hide the
 * first 503 of an outage, nor a balancer polling a not-ready node every second.
 */

/** The kinds of refusal, each with its own line a minute, by status. */
const KIND_OF: ReadonlyMap<number, RefusalKind> = new Map([
  [400, 'client'],
  [401, 'client'],
  [404, 'client'],
  [409, 'conflict'],
  // An Idempotency-Key reused with other parameters.
  [422, 'conflict'],
  [503, 'unavailable'],
]);

export type RefusalKind = 'client' | 'conflict' | 'unavailable' | 'probe';

/** The level of the line a minute of each kind. */
const LOUD: Readonly<Record<RefusalKind, 'warn' | 'error'>> = {
  client: 'warn',
  conflict: 'warn',
  unavailable: 'error',
  probe: 'warn',
};

/** At most one loud line per kind per this many ms. */
const LOUD_INTERVAL_MS = 60_000;

/** What the refusal log decided for one refused request. */
export type RefusalLevel =
  { readonly level: 'warn' | 'error'; readonly leftOut: number } | { readonly level: 'debug' };

/** The error code of a refused answer, or undefined when `res` is not a refusal. */
export function refusalCode(res: {
  readonly statusCode: number;
  readonly locals?: { readonly error?: { readonly code: string } };
}): string | undefined {
  if (!KIND_OF.has(res.statusCode)) return undefined;
  // What errors.ts (and /readyz) leave on `res.locals` for the request log.
  return res.locals?.error?.code ?? `HTTP_${res.statusCode}`;
}

/** The rate limit of the loud lines; one per app. */
export class RefusalLog {
  private readonly kinds = new Map<RefusalKind, { lastAt: number; leftOut: number }>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly intervalMs = LOUD_INTERVAL_MS,
  ) {}

  /**
   * The level of the line of a refused request answered with `status` (a status
   * {@link refusalCode} accepts): loud at most once per interval and kind, else debug.
   * @param probe the request was a health probe (`/healthz`, `/readyz`)
   */
  next(status: number, probe = false): RefusalLevel {
    const kind = probe ? 'probe' : (KIND_OF.get(status) ?? 'client');
    const now = this.clock();
    let state = this.kinds.get(kind);
    if (!state) {
      state = { lastAt: -Infinity, leftOut: 0 };
      this.kinds.set(kind, state);
    }
    if (now - state.lastAt < this.intervalMs) {
      state.leftOut += 1;
      return { level: 'debug' };
    }
    const leftOut = state.leftOut;
    state.lastAt = now;
    state.leftOut = 0;
    return { level: LOUD[kind], leftOut };
  }
}
