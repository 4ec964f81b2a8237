/**
 * The options of {@link IdClient} (client/id-client.ts): what a caller may set, the
 * defaults, and the one schema that checks them (zod, the library the service's
 * config/schema.ts uses; it loads nothing else, so the client stays free of express, ioredis,
 * pino and prom-client). A bad option fails at construction with an INVALID_ARGUMENT
 * naming the option, the value and what is allowed, never later on the request path.
 */
import { z } from 'zod';
import { invalidArgument } from '../core/errors.js';
import {
  silentLog,
  systemClock,
  withTimers,
  type Log,
  type TimerClock,
} from '../core/time-and-log.js';

/** Time as the client sees it: wall-clock milliseconds and one-shot timers. */
export type ClientClock = TimerClock;

/** The real clock: `Date.now` and `setTimeout` (a waiting caller keeps the process alive). */
export const systemClientClock: ClientClock = withTimers(systemClock, { unref: false });

export interface IdClientOptions {
  /** Base URLs of idalloc services sharing one store, e.g. `http://ids-1:8080`. */
  readonly urls: readonly string[];
  /** Sent as `Authorization: Bearer <token>` (the service's `API_TOKENS`). */
  readonly token?: string;
  /**
   * IDs per lease (`GET /v1/ranges/{tag}?size=N`), the smallest; at most the service's
   * `MAX_RANGE`. Leases grow from it while a range lasts less than `rangeTargetMs`, up to
   * `maxRangeSize`, and shrink back when ranges last twice as long.
   * @default 1000
   */
  readonly rangeSize?: number;
  /**
   * The largest lease the size rule grows to; at most the service's `MAX_RANGE`.
   * @default 100 000 (the service's default `MAX_RANGE`) when `rangeSize` is not set,
   * else `rangeSize` (a size set by hand stays fixed)
   */
  readonly maxRangeSize?: number;
  /** How long one range should last: shorter, the next lease doubles. @default 1000 */
  readonly rangeTargetMs?: number;
  /** Fraction of a range used before the next is leased in the background. @default 0.2 */
  readonly refillAt?: number;
  /** Longest one HTTP attempt may take, answer body included. @default 2000 */
  readonly timeoutMs?: number;
  /**
   * The longest a URL is left alone after an answer with `Retry-After` (a 503, 429…): a
   * larger `Retry-After` (a proxy's maintenance page says 600) counts as this, so a
   * short blip of the only URL costs at most this long. 0 asks again at once.
   * @default 30000
   */
  readonly maxRetryAfterMs?: number;
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
  /**
   * At `close()`, return each tag's unserved tail of its last range to the service that
   * leased it (`POST /v1/returns/{tag}`, one try, `timeoutMs`); off, it stays a gap.
   * @default true
   */
  readonly handBack?: boolean;
  /**
   * Send every lease with an `Idempotency-Key` (a fresh UUID per lease, the same on each
   * retry): a lost answer costs nothing. Keyed ranges are handed back like any (the
   * service deletes the key's record with the return); one answered by a replay from
   * another node than the one that granted it carries no lease key and stays a gap.
   * @default true
   */
  readonly idempotencyKeys?: boolean;
}

/** The checked options, with every default filled in. */
export interface ClientSettings {
  /** Base URLs without a trailing slash. */
  readonly urls: readonly string[];
  readonly token: string | undefined;
  readonly rangeSize: number;
  readonly maxRangeSize: number;
  readonly rangeTargetMs: number;
  readonly refillAt: number;
  readonly timeoutMs: number;
  readonly maxRetryAfterMs: number;
  readonly waitTimeoutMs: number;
  readonly fetch: typeof fetch;
  readonly clock: ClientClock;
  readonly random: () => number;
  readonly log: Log;
  readonly handBack: boolean;
  readonly idempotencyKeys: boolean;
}

/** The largest `MAX_RANGE` a service accepts (config/schema.ts), so the largest useful lease. */
export const MAX_RANGE_SIZE = 100_000_000;
/** The service's default `MAX_RANGE`: how far leases grow unless told otherwise. */
export const DEFAULT_MAX_RANGE_SIZE = 100_000;
/** How long a `Retry-After` may bench a URL unless told otherwise (`maxRetryAfterMs`). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;
/** setTimeout's limit (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

/** One message for every way a value can miss: what is allowed. */
const allowed = (error: string) => ({ error });

const int = (min: number, max: number) => {
  const m = allowed(`expected an integer from ${min} to ${max}`);
  return z.number(m).int(m).min(min, m).max(max, m);
};

const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', allowed(`expected ${what}`));

const hasFunctions = (v: unknown, keys: readonly string[]) =>
  typeof v === 'object' &&
  v !== null &&
  keys.every((k) => typeof (v as Record<string, unknown>)[k] === 'function');

/** A base URL: http(s), no query, fragment or credentials; trailing slashes dropped. */
const baseUrl = z.string(allowed('expected a URL string')).transform((value, ctx) => {
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message, input: value });
    return z.NEVER;
  };
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return fail('not a URL: expected e.g. http://ids-1:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return fail('expected an http: or https: URL');
  }
  if (u.search !== '' || u.hash !== '') return fail('a base URL takes no query or fragment');
  if (u.username !== '' || u.password !== '') {
    return fail('credentials do not belong in the URL: use the token option');
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
});

const TOKEN_RULE = 'expected a non-empty string of printable ASCII without spaces';

const schema = z.strictObject(
  {
    urls: z
      .array(baseUrl, allowed('expected a non-empty array of service base URLs'))
      .min(1, allowed('expected a non-empty array of service base URLs'))
      .check((ctx) => {
        const dup = ctx.value.find((u, i) => ctx.value.indexOf(u) !== i);
        if (dup !== undefined) {
          ctx.issues.push({
            code: 'custom',
            message: `'${dup}' is listed twice`,
            input: ctx.value,
          });
        }
      }),
    token: z
      .string(allowed(TOKEN_RULE))
      .regex(/^[\x21-\x7e]+$/, allowed(TOKEN_RULE))
      .optional(),
    rangeSize: int(1, MAX_RANGE_SIZE).optional(),
    maxRangeSize: int(1, MAX_RANGE_SIZE).optional(),
    rangeTargetMs: int(1, MAX_TIMER_MS).default(1000),
    refillAt: z
      .number(allowed('expected a fraction from 0 to 1'))
      .min(0, allowed('expected a fraction from 0 to 1'))
      .max(1, allowed('expected a fraction from 0 to 1'))
      .default(0.2),
    timeoutMs: int(1, MAX_TIMER_MS).default(2000),
    maxRetryAfterMs: int(0, MAX_TIMER_MS).default(DEFAULT_MAX_RETRY_AFTER_MS),
    waitTimeoutMs: int(1, MAX_TIMER_MS).optional(),
    fetch: fn<typeof fetch>('a function').optional(),
    clock: z
      .custom<ClientClock>(
        (v) => hasFunctions(v, ['now', 'schedule']),
        allowed('expected { now(): number, schedule(fn, ms): cancel }'),
      )
      .optional(),
    random: fn<() => number>('a function').default(() => Math.random),
    log: z
      .custom<Log>(
        (v) => hasFunctions(v, ['error', 'warn', 'info']),
        allowed('expected { error, warn, info } functions (a pino logger fits)'),
      )
      .optional(),
    handBack: z.boolean(allowed('expected true or false')).default(true),
    idempotencyKeys: z.boolean(allowed('expected true or false')).default(true),
  },
  allowed('expected an object with at least { urls: [...] }'),
);

/** The value at `path` in the caller's options, for the message. */
function valueAt(opts: unknown, path: readonly PropertyKey[]): unknown {
  let v = opts;
  for (const k of path) v = (v as Record<PropertyKey, unknown> | undefined)?.[k];
  return v;
}

/** `urls[0]`, `rangeSize`, or `options` for the object itself. */
function optionName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'options';
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join('');
}

function bad(option: string, value: unknown, what: string): never {
  throw invalidArgument(`IdClient option '${option}' is ${shown(value)}: ${what}`, { option });
}

/**
 * Checks `opts` and fills in the defaults.
 * @throws IdAllocError INVALID_ARGUMENT naming the option, its value and what is allowed
 */
export function resolveOptions(opts: IdClientOptions): Readonly<ClientSettings> {
  const parsed = schema.safeParse(opts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      bad(key, valueAt(opts, [key]), 'unknown option');
    }
    const option = optionName(issue.path);
    if (option === 'token') {
      // Shown by length only: a token must never reach a log.
      throw invalidArgument(`IdClient option 'token' is not allowed: ${TOKEN_RULE}`, { option });
    }
    bad(option, valueAt(opts, issue.path), issue.message);
  }
  const o = parsed.data;
  const fetchFn = o.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') {
    bad('fetch', fetchFn, 'this runtime has no global fetch: pass one');
  }
  const rangeSize = o.rangeSize ?? 1000;
  const maxRangeSize =
    o.maxRangeSize ??
    (o.rangeSize === undefined ? Math.max(DEFAULT_MAX_RANGE_SIZE, rangeSize) : rangeSize);
  if (maxRangeSize < rangeSize) {
    bad('maxRangeSize', maxRangeSize, `expected at least rangeSize (${rangeSize})`);
  }
  const waitTimeoutMs =
    o.waitTimeoutMs ?? Math.min(MAX_TIMER_MS, Math.max(5000, o.timeoutMs * o.urls.length));
  return Object.freeze({
    urls: Object.freeze(o.urls),
    token: o.token,
    rangeSize,
    maxRangeSize,
    rangeTargetMs: o.rangeTargetMs,
    refillAt: o.refillAt,
    timeoutMs: o.timeoutMs,
    maxRetryAfterMs: o.maxRetryAfterMs,
    waitTimeoutMs,
    fetch: fetchFn,
    // Defaults filled here, not by the schema: zod's defaults are copies.
    clock: o.clock ?? systemClientClock,
    random: o.random,
    log: o.log ?? silentLog,
    handBack: o.handBack,
    idempotencyKeys: o.idempotencyKeys,
  });
}
