/**
 * The service's logger: pino writing one JSON object per line to stdout (or a given
 * stream in tests). No credential reaches a log line. Redaction is by allow-list: only
 * the request headers in {@link SAFE_HEADERS} and the query parameters in
 * {@link SAFE_QUERY} are logged as sent; every other header value and query value is
 * {@link CENSOR}, by one rule for the logged `url`, `query` and a `Referer`'s URL
 * ({@link censorHeaders}, {@link censorUrl}, {@link censorQuery}). A deny-list of names
 * that look secret always missed some (`Signature`, `X-Jwt`, `sig`, `code`, `%74oken`).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { stdoutDestination } from './log-destination.js';

export type { Logger } from 'pino';

/** What a blanked value reads as. */
export const CENSOR = '[Redacted]';

/**
 * Paths pino blanks out whatever the serializers did: the credential-bearing headers of
 * requests and answers (answer headers are ours, but a `Set-Cookie` would be a secret).
 */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'res.headers["www-authenticate"]',
]);

/**
 * Request headers whose values are logged as sent (lower case, as Node gives them):
 * what describes the request, its client and its route through proxies, never what
 * proves who sends it. Any other header keeps its name in the log, its value blanked.
 */
export const SAFE_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'connection',
  'content-length',
  'content-type',
  'dnt',
  'expect',
  'forwarded',
  'host',
  'if-modified-since',
  'if-none-match',
  'keep-alive',
  'origin',
  'pragma',
  'sec-fetch-dest',
  'sec-fetch-mode',
  'sec-fetch-site',
  'te',
  'traceparent',
  'tracestate',
  'user-agent',
  'via',
  'x-client-id',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-real-ip',
  'x-request-id',
]);

/** Headers whose value is a URL: logged with {@link censorUrl} applied. */
const URL_HEADERS: ReadonlySet<string> = new Set(['referer']);

/**
 * Query parameters whose values are logged as sent: the API's own (`count`, `size`,
 * and `/v1/tags`'s `limit` and `after`), compared after percent-decoding the name.
 */
export const SAFE_QUERY: ReadonlySet<string> = new Set(['count', 'size', 'limit', 'after']);

/**
 * A copy of `headers` with the value of every header outside {@link SAFE_HEADERS}
 * replaced by {@link CENSOR} (a `Referer` keeps its URL with its query censored); the
 * names stay, so a log shows that one was sent.
 */
export function censorHeaders(headers: unknown): unknown {
  if (typeof headers !== 'object' || headers === null) return headers;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    out[name] = SAFE_HEADERS.has(lower)
      ? value
      : URL_HEADERS.has(lower) && typeof value === 'string'
        ? censorUrl(value)
        : CENSOR;
  }
  return out;
}

/** A query parameter's name as the query parser reads it; undefined when it does not decode. */
function decodedName(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * One `name=value` part of a query string, its value censored unless its name is safe.
 * Names stay (the request log's error message names an unknown parameter anyway).
 */
function censorPart(part: string): string {
  const eq = part.indexOf('=');
  if (eq < 0) return part;
  const name = part.slice(0, eq);
  return SAFE_QUERY.has(decodedName(name) ?? '') ? part : `${name}=${CENSOR}`;
}

/** The `user:password@` of an absolute URL. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i;

/**
 * `url` with every query value whose name is not in {@link SAFE_QUERY} replaced by
 * {@link CENSOR} (names stay), the user and password of an absolute URL too, and any
 * fragment. For request targets and `Referer` values alike.
 */
export function censorUrl(url: string): string;
export function censorUrl(url: unknown): unknown;
export function censorUrl(url: unknown): unknown {
  if (typeof url !== 'string') return url;
  const hash = url.indexOf('#');
  const target = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : `#${CENSOR}`;
  const q = target.indexOf('?');
  const path = (q < 0 ? target : target.slice(0, q)).replace(USER_INFO, `$1${CENSOR}@`);
  const query =
    q < 0
      ? ''
      : `?${target
          .slice(q + 1)
          .split('&')
          .map(censorPart)
          .join('&')}`;
  return path + query + fragment;
}

/**
 * A copy of a parsed query object (names already decoded) with the value of every
 * parameter outside {@link SAFE_QUERY} replaced by {@link CENSOR}: the rule of
 * {@link censorUrl}.
 */
export function censorQuery(query: unknown): unknown {
  if (typeof query !== 'object' || query === null) return query;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    out[name] = SAFE_QUERY.has(name) ? value : CENSOR;
  }
  return out;
}

/** The options of every idalloc logger (also the tests'), at `level`. */
export function loggerOptions(level: string) {
  return {
    level,
    name: 'idalloc',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: CENSOR },
  };
}

/**
 * Builds the root logger at `LOG_LEVEL`. Times are ISO-8601 so that log lines read well
 * without a formatter.
 * @param destination where lines go; stdout when omitted, through a destination that never
 *   blocks nor holds the exit (log-destination.ts)
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = loggerOptions(level);
  return pino(options, destination ?? stdoutDestination());
}
