/**
 * The options of {@link IdClient} (client/id-client.ts): what a caller may set, the
 * defaults, and the one function that checks them and freezes the result. A bad option
 * fails at construction with an INVALID_ARGUMENT naming the option, the value and what
 * is allowed, never later on the request path.
 */
import { invalidArgument } from '../core/errors.js';
import { silentLog, type Log } from '../core/time-and-log.js';

/** Time as the client sees it: wall-clock milliseconds and one-shot timers. */
export interface ClientClock {
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** The real clock: `Date.now` and `setTimeout`. */
export const systemClientClock: ClientClock = Object.freeze({
  now: () => Date.now(),
  schedule(fn: () => void, ms: number) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
});

export interface IdClientOptions {
  /** Base URLs of idalloc services sharing one store, e.g. `http://ids-1:8080`. */
  readonly urls: readonly string[];
  /** Sent as `Authorization: Bearer <token>` (the service's `API_TOKENS`). */
  readonly token?: string;
  /**
   * IDs per lease (`GET /v1/ranges/{tag}?size=N`); at most the service's `MAX_RANGE`.
   * @default 1000
   */
  readonly rangeSize?: number;
  /** Fraction of a range used before the next is leased in the background. @default 0.2 */
  readonly refillAt?: number;
  /** Longest one HTTP attempt may take, answer body included. @default 2000 */
  readonly timeoutMs?: number;
  /**
   * Longest `next`/`nextBatch` wait for a range before failing UNAVAILABLE.
   * @default 5000, or timeoutMs × urls.length when that is longer (one try of each URL)
   */
  readonly waitTimeoutMs?: number;
  /** The fetch to use (tests, proxies, instrumentation). @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default the system clock */
  readonly clock?: ClientClock;
  /** For the jitter of retry delays. @default Math.random */
  readonly random?: () => number;
  /** Failovers (warn) and refused answers (error) are logged here. @default silent */
  readonly log?: Log;
}

/** The checked options, with every default filled in. */
export interface ClientSettings {
  /** Base URLs without a trailing slash. */
  readonly urls: readonly string[];
  readonly token: string | undefined;
  readonly rangeSize: number;
  readonly refillAt: number;
  readonly timeoutMs: number;
  readonly waitTimeoutMs: number;
  readonly fetch: typeof fetch;
  readonly clock: ClientClock;
  readonly random: () => number;
  readonly log: Log;
}

/** The largest `MAX_RANGE` a service accepts (config.ts), so the largest useful lease. */
export const MAX_RANGE_SIZE = 100_000_000;
/** setTimeout's limit (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const KNOWN = new Set<string>([
  'urls',
  'token',
  'rangeSize',
  'refillAt',
  'timeoutMs',
  'waitTimeoutMs',
  'fetch',
  'clock',
  'random',
  'log',
]);

const shown = (v: unknown): string => {
  if (typeof v === 'string') return `'${v.length > 80 ? `${v.slice(0, 80)}…` : v}'`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

function bad(option: string, value: unknown, allowed: string): never {
  throw invalidArgument(`IdClient option '${option}' is ${shown(value)}: ${allowed}`, { option });
}

function int(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    bad(option, value, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** A base URL: http(s), no query, fragment or credentials; trailing slashes dropped. */
function baseUrl(value: unknown, i: number): string {
  const option = `urls[${i}]`;
  if (typeof value !== 'string') bad(option, value, 'expected a URL string');
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    bad(option, value, 'not a URL: expected e.g. http://ids-1:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    bad(option, value, 'expected an http: or https: URL');
  }
  if (u.search !== '' || u.hash !== '') {
    bad(option, value, 'a base URL takes no query or fragment');
  }
  if (u.username !== '' || u.password !== '') {
    bad(option, value, 'credentials do not belong in the URL: use the token option');
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function fn<T>(option: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') bad(option, value, 'expected a function');
  return value as T;
}

/**
 * Checks `opts` and fills in the defaults.
 * @throws IdAllocError INVALID_ARGUMENT naming the option, its value and what is allowed
 */
export function resolveOptions(opts: IdClientOptions): Readonly<ClientSettings> {
  if (typeof opts !== 'object' || opts === null) {
    bad('options', opts, 'expected an object with at least { urls: [...] }');
  }
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) {
      bad(key, (opts as unknown as Record<string, unknown>)[key], 'unknown option');
    }
  }
  const list: unknown = opts.urls;
  if (!Array.isArray(list) || list.length === 0) {
    bad('urls', list, 'expected a non-empty array of service base URLs');
  }
  const urls = list.map(baseUrl);
  const dup = urls.find((u, i) => urls.indexOf(u) !== i);
  if (dup !== undefined) bad('urls', list, `'${dup}' is listed twice`);

  const token: unknown = opts.token;
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token))) {
    // Shown by length only: a token must never reach a log.
    throw invalidArgument(
      `IdClient option 'token' is not allowed: expected a non-empty string of printable ASCII without spaces`,
      { option: 'token' },
    );
  }
  const refillAt: unknown = opts.refillAt ?? 0.2;
  if (typeof refillAt !== 'number' || !(refillAt >= 0 && refillAt <= 1)) {
    bad('refillAt', refillAt, 'expected a fraction from 0 to 1');
  }
  const timeoutMs = int('timeoutMs', opts.timeoutMs ?? 2000, 1, MAX_TIMER_MS);
  const waitTimeoutMs = int(
    'waitTimeoutMs',
    opts.waitTimeoutMs ?? Math.min(MAX_TIMER_MS, Math.max(5000, timeoutMs * urls.length)),
    1,
    MAX_TIMER_MS,
  );

  const clock: unknown = opts.clock ?? systemClientClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof (clock as ClientClock).now !== 'function' ||
    typeof (clock as ClientClock).schedule !== 'function'
  ) {
    bad('clock', clock, 'expected { now(): number, schedule(fn, ms): cancel }');
  }
  const log: unknown = opts.log ?? silentLog;
  if (
    typeof log !== 'object' ||
    log === null ||
    !(['error', 'warn', 'info'] as const).every((k) => typeof (log as Log)[k] === 'function')
  ) {
    bad('log', log, 'expected { error, warn, info } functions (a pino logger fits)');
  }
  const fetchFn = fn<typeof fetch | undefined>('fetch', opts.fetch, globalThis.fetch);
  if (fetchFn === undefined) {
    bad('fetch', fetchFn, 'this runtime has no global fetch: pass one');
  }

  return Object.freeze({
    urls: Object.freeze(urls),
    token,
    rangeSize: int('rangeSize', opts.rangeSize ?? 1000, 1, MAX_RANGE_SIZE),
    refillAt,
    timeoutMs,
    waitTimeoutMs,
    fetch: fetchFn,
    clock: clock as ClientClock,
    random: fn('random', opts.random, Math.random),
    log: log as Log,
  });
}
