/**
 * Refused requests (400, 401, 404) must not be able to fill a disk: anyone can send
 * them as fast as the network allows. Each one is counted in `idalloc_http_refused_total`
 * by its error code and logged at debug; at warn, at most one line a minute says that
 * refusals happen, with how many were left out since the previous such line.
 */

/** The statuses of refused requests. */
const REFUSED_STATUSES: ReadonlySet<number> = new Set([400, 401, 404]);

/** At most one warn line about refusals per this many ms. */
const WARN_INTERVAL_MS = 60_000;

/** What the refusal log decided for one refused request. */
export type RefusalLevel =
  { readonly level: 'warn'; readonly leftOut: number } | { readonly level: 'debug' };

/** The error code of a refused answer, or undefined when `res` is not a refusal. */
export function refusalCode(res: {
  readonly statusCode: number;
  readonly locals?: { readonly error?: { readonly code: string } };
}): string | undefined {
  if (!REFUSED_STATUSES.has(res.statusCode)) return undefined;
  // What errors.ts leaves on `res.locals` for the request log.
  return res.locals?.error?.code ?? `HTTP_${res.statusCode}`;
}

/** The rate limit of the warn line; one per app. */
export class RefusalLog {
  private lastWarnAt = -Infinity;
  private leftOut = 0;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly intervalMs = WARN_INTERVAL_MS,
  ) {}

  /** The level of the next refused request's line (`warn` at most once per interval). */
  next(): RefusalLevel {
    const now = this.clock();
    if (now - this.lastWarnAt < this.intervalMs) {
      this.leftOut += 1;
      return { level: 'debug' };
    }
    const leftOut = this.leftOut;
    this.lastWarnAt = now;
    this.leftOut = 0;
    return { level: 'warn', leftOut };
  }
}
