/**
 * One lease over HTTP with failover (docs/design.md §2 `GET /v1/ranges/{tag}?size=N`, §7).
 *
 * A lease tries the service URLs round robin, starting from the last one that answered,
 * each at most once per lease:
 * - a network error, a timeout, a 5xx, a 408/429, a redirect, or an answer that is not
 *   the service's (malformed, wrong tag or size, a 4xx without an idalloc error body):
 *   the next URL;
 * - a 503 (or any such answer with `Retry-After`): that URL is left alone until its
 *   Retry-After has passed (1 s when absent), `maxRetryAfterMs` at most — a proxy's
 *   maintenance page saying 600 must not cost a single-URL client ten minutes of IDs;
 * - an answer body is read up to {@link MAX_ANSWER_BYTES}: a 200 with more is refused
 *   (a lease answer is under 200 bytes; a broken URL may stream without end), any other
 *   status is judged on what was read;
 * - a 4xx with an idalloc error body: final, an {@link IdAllocError} with the body's
 *   code and message, and no other URL is asked (they share the store and would agree).
 * When no URL gives a range, the lease fails UNAVAILABLE listing what each URL did.
 */
import { ErrorCode, IdAllocError, unavailable } from '../core/errors.js';
import { MAX_ID } from '../core/tags.js';
import type { IdRange } from '../core/ids.js';
import type { Shaper } from '../core/shape.js';
import { shaperOf } from './shape-descriptor.js';
import type { ClientSettings } from './options.js';

/** A leased range of counter values and how they become the tag's IDs (docs/design.md §13). */
export interface ShapedRange extends IdRange {
  /** Built from the answer's shape descriptor; undefined when the IDs are the counter values. */
  readonly shaper: Shaper | undefined;
  /** The answer's lease key, for a return of the range's tail (give-back.ts). */
  readonly lease?: string;
  /** The URL that leased it: a return goes there and nowhere else. */
  readonly url?: string;
}

/** A 503 without Retry-After (a proxy's, say) benches its URL this long. */
const DEFAULT_RETRY_AFTER_MS = 1000;
/**
 * The most of an answer's body read. A lease answer is under 200 bytes and an idalloc
 * error under 1 KiB; more is not the service, and is not buffered.
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** Codes a service answers with a 4xx that no other URL would answer differently. */
const FINAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.FORBIDDEN,
  ErrorCode.TAG_NOT_FOUND,
  ErrorCode.WRONG_MODE,
  ErrorCode.WRONG_REGION,
  ErrorCode.TAG_EXHAUSTED,
  // The lease's key was used with another size: a bug of the caller's, the same on every URL.
  ErrorCode.IDEMPOTENCY_MISMATCH,
]);

const DECIMAL = /^(0|[1-9]\d{0,18})$/;
const LEASE_KEY = /^[A-Za-z0-9_-]{22}$/;

type Outcome =
  | { readonly kind: 'ok'; readonly range: ShapedRange }
  | { readonly kind: 'final'; readonly error: IdAllocError }
  | {
      readonly kind: 'retry';
      readonly reason: string;
      readonly retryAfterMs?: number;
      /** A 200 whose range is not served: a bug or a store gone back, logged as an error. */
      readonly refused?: boolean;
    };

const retry = (reason: string, retryAfterMs?: number): Outcome =>
  retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };

const refuse = (reason: string): Outcome => ({ kind: 'retry', reason, refused: true });

/** The lease answers of every URL, and when each may be asked again. */
export class RangeTransport {
  /** Index of the URL that answered last: where the next lease starts. */
  private preferred = 0;
  /** Per URL: clock time before which it is not asked (Retry-After). */
  private readonly notBefore: number[];
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly s: ClientSettings) {
    this.notBefore = s.urls.map(() => 0);
  }

  /**
   * Leases `size` IDs of `tag`. A range that starts at or below `floor` (the highest ID
   * this client already holds) is refused like a malformed answer. With `key`, every
   * attempt sends it as `Idempotency-Key`: a URL that granted the range but whose answer
   * was lost answers the same range to the next attempt, on any URL.
   * @throws IdAllocError UNAVAILABLE when no URL gave a range; the 4xx code when final
   */
  async lease(tag: string, size: number, floor: bigint | null, key?: string): Promise<ShapedRange> {
    const { urls, clock } = this.s;
    const failures: string[] = [];
    for (let k = 0; k < urls.length; k++) {
      const i = (this.preferred + k) % urls.length;
      const url = urls[i]!;
      const wait = this.notBefore[i]! - clock.now();
      if (wait > 0) {
        failures.push(`${url}: asked to retry after ${Math.ceil(wait / 1000)} s more`);
        continue;
      }
      const out = await this.attempt(url, tag, size, floor, key);
      if (this.closed) throw closedError();
      if (out.kind === 'ok') {
        this.preferred = i;
        return { ...out.range, url };
      }
      if (out.kind === 'final') throw out.error;
      if (out.retryAfterMs !== undefined) this.notBefore[i] = clock.now() + out.retryAfterMs;
      failures.push(`${url}: ${out.reason}`);
      const line = { tag, url, reason: out.reason, failover: urls.length > 1 };
      if (out.refused) this.s.log.error(line, 'idalloc lease answer refused, never served');
      else this.s.log.warn(line, 'idalloc lease failed on this URL');
    }
    const retryMs = Math.max(0, this.eligibleAt() - clock.now());
    throw new IdAllocError(
      ErrorCode.UNAVAILABLE,
      `no idalloc service leased a range of tag '${tag}': ${failures.join('; ')}`,
      { tag, failures },
      { retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)) },
    );
  }

  /** The earliest clock time some URL may be asked again (now or earlier: at once). */
  eligibleAt(): number {
    return Math.min(...this.notBefore);
  }

  /** Aborts every request in flight; leases fail from now on. */
  close(): void {
    this.closed = true;
    for (const ac of this.inFlight) ac.abort();
    this.inFlight.clear();
  }

  private async attempt(
    url: string,
    tag: string,
    size: number,
    floor: bigint | null,
    key: string | undefined,
  ) {
    if (this.closed) throw closedError();
    const { clock, timeoutMs, token } = this.s;
    const ac = new AbortController();
    let timedOut = false;
    const cancel = clock.schedule(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    this.inFlight.add(ac);
    const target = `${url}/v1/ranges/${encodeURIComponent(tag)}?size=${size}`;
    // Raced as well as passed: a fetch that ignores its signal still cannot hold a lease.
    const aborted = new Promise<never>((_, reject) => {
      ac.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
    aborted.catch(() => {});
    try {
      const res = await Promise.race([
        this.s.fetch(target, {
          headers: {
            accept: 'application/json',
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            ...(key === undefined ? {} : { 'idempotency-key': key }),
          },
          // A redirect would carry the token elsewhere; a service never sends one.
          redirect: 'manual',
          signal: ac.signal,
        }),
        aborted,
      ]);
      const reading = readCapped(res);
      reading.catch(() => {}); // rejects on abort, after the race was lost to `aborted`
      const body = await Promise.race([reading, aborted]);
      // Over the cap the rest is not read: closing the request ends an endless stream.
      if (body.over) ac.abort();
      return this.judge(res.status, res.headers.get('retry-after'), body, tag, size, floor);
    } catch (err) {
      if (this.closed) throw closedError();
      if (timedOut) return retry(`no answer within ${timeoutMs} ms`);
      return retry(`request failed: ${describe(err)}`);
    } finally {
      cancel();
      this.inFlight.delete(ac);
    }
  }

  /** What an HTTP answer means (see the module comment). */
  private judge(
    status: number,
    retryAfter: string | null,
    { text, over }: Body,
    tag: string,
    size: number,
    floor: bigint | null,
  ): Outcome {
    if (status === 200) {
      if (over) {
        return refuse(
          `answer body larger than ${MAX_ANSWER_BYTES} bytes (a lease answer is under 200): not read further`,
        );
      }
      return parseRange(text, tag, size, floor);
    }
    const body = errorBody(text);
    const said = body ? ` ${body.code}: ${body.message}` : '';
    if (status >= 500 || status === 408 || status === 429) {
      const { maxRetryAfterMs } = this.s;
      const wait = parseRetryAfter(retryAfter, this.s.clock.now(), maxRetryAfterMs);
      return retry(
        `answered ${status}${said}`,
        wait ?? (status === 503 ? Math.min(DEFAULT_RETRY_AFTER_MS, maxRetryAfterMs) : undefined),
      );
    }
    if (status >= 400 && status < 500) {
      if (body && FINAL_CODES.has(body.code)) {
        return {
          kind: 'final',
          error: new IdAllocError(body.code as ErrorCode, body.message, { tag, status }),
        };
      }
      if (!body && (status === 401 || status === 403)) {
        const error = new IdAllocError(
          ErrorCode.UNAUTHORIZED,
          `lease of tag '${tag}' refused with ${status}: check the token`,
          { tag, status },
        );
        return { kind: 'final', error };
      }
      // Not the service's refusal: a wrong base path (NOT_FOUND), a proxy's page.
      return retry(`answered ${status}${said || ' without an idalloc error body'}`);
    }
    return retry(`answered ${status}, not a lease`);
  }
}

/**
 * A 200's body: `{"tag","start","end","shape"?}`, decimal strings, exactly `size` IDs,
 * above `floor`; `shape` (absent from services before issue 19: plain) as
 * {@link shaperOf} reads it.
 */
function parseRange(text: string, tag: string, size: number, floor: bigint | null): Outcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return refuse(`malformed answer (not JSON): ${snippet(text)}`);
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { start, end } = b;
  if (b.tag !== tag) return refuse(`malformed answer: tag ${snippet(b.tag)}, asked '${tag}'`);
  if (typeof start !== 'string' || typeof end !== 'string') {
    return refuse(`malformed answer: start and end must be decimal strings: ${snippet(text)}`);
  }
  if (!DECIMAL.test(start) || !DECIMAL.test(end) || BigInt(end) > MAX_ID) {
    return refuse(`malformed answer: start '${snippet(start)}', end '${snippet(end)}' are not IDs`);
  }
  const lo = BigInt(start);
  const hi = BigInt(end);
  if (hi < lo) return refuse(`malformed answer: end ${hi} is below start ${lo}`);
  if (hi - lo + 1n !== BigInt(size)) {
    return refuse(`malformed answer: ${hi - lo + 1n} IDs (${lo}..${hi}), asked ${size}`);
  }
  if (floor !== null && lo <= floor) {
    return refuse(
      `range ${lo}..${hi} is not above ${floor}, the highest ID this client already leased: refused (has the store gone back?)`,
    );
  }
  let shaper: Shaper | undefined;
  try {
    shaper = shaperOf(b.shape);
  } catch (err) {
    return refuse(`malformed answer: shape ${snippet(b.shape)}: ${describe(err)}`);
  }
  // A lease key (services before issue 20 send none): without one, no return.
  const lease = typeof b.lease === 'string' && LEASE_KEY.test(b.lease) ? b.lease : undefined;
  return {
    kind: 'ok',
    range: { start: lo, end: hi, shaper, ...(lease === undefined ? {} : { lease }) },
  };
}

function errorBody(text: string): { code: string; message: string } | undefined {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string' && typeof e.message === 'string') {
      return { code: e.code, message: e.message };
    }
  } catch {
    // not JSON: not the service's error body
  }
  return undefined;
}

/** Retry-After as milliseconds from `now`, delta-seconds or an HTTP date, `capMs` at most. */
export function parseRetryAfter(
  value: string | null,
  now: number,
  capMs: number,
): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  const ms = /^\d{1,10}$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(capMs, Math.max(0, ms));
}

/** An answer's body as far as it was read. */
interface Body {
  readonly text: string;
  /** The body went on past {@link MAX_ANSWER_BYTES}; `text` is its first part. */
  readonly over: boolean;
}

/** Reads `res`'s body up to {@link MAX_ANSWER_BYTES}, never buffering more. */
async function readCapped(res: Response): Promise<Body> {
  const reader = res.body?.getReader();
  if (reader === undefined) return { text: '', over: false };
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), over: false };
    const room = MAX_ANSWER_BYTES - bytes;
    if (value.byteLength > room) {
      reader.cancel().catch(() => {});
      return { text: text + decoder.decode(value.subarray(0, room)), over: true };
    }
    bytes += value.byteLength;
    text += decoder.decode(value, { stream: true });
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : cause?.message;
  return typeof detail === 'string' ? `${err.message} (${detail})` : err.message;
}

function snippet(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}

export const closedError = () => unavailable('the IdClient is closed', 1);
