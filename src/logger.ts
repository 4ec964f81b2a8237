/**
 * The service's logger: pino writing one JSON object per line to stdout (or a given
 * stream in tests). No credential reaches a log line: the headers that carry one are
 * blanked by pino's `redact` (fixed names) and by {@link censorHeaders} (any header whose
 * name says it holds a secret), which the request log's serializer applies.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { stdoutDestination } from './log-destination.js';

export type { Logger } from 'pino';

/** What a blanked value reads as. */
export const CENSOR = '[Redacted]';

/** Paths pino blanks out: the credential-bearing headers of requests and answers. */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'res.headers["www-authenticate"]',
]);

/**
 * Header names that say they carry a secret, whatever the header: `x-auth-token`,
 * `x-client-secret`, `api-key`, `x-password`, `authorization`, `cookie`… Casting the net
 * wide costs a blanked harmless header now and then; a missed secret costs more.
 */
const SECRET_NAME = /token|secret|key|auth|passw|cookie|session|credential/i;

/**
 * A copy of `headers` with the value of every header whose name says it holds a secret
 * replaced by {@link CENSOR}; the names stay, so a log shows that one was sent.
 */
export function censorHeaders(headers: unknown): unknown {
  if (typeof headers !== 'object' || headers === null) return headers;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_NAME.test(name) ? CENSOR : value;
  }
  return out;
}

/** Query parameters whose names say they hold a secret, in a logged URL. */
const SECRET_PARAM = /([?&][^=&#]*(?:token|secret|key|auth|passw)[^=&#]*=)[^&#]*/gi;

/** `url` with the values of secret-looking query parameters replaced by {@link CENSOR}. */
export function censorUrl(url: unknown): unknown {
  return typeof url === 'string' ? url.replace(SECRET_PARAM, `$1${CENSOR}`) : url;
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
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  destination?: DestinationStream,
): Logger {
  const options = loggerOptions(config.LOG_LEVEL);
  return pino(options, destination ?? stdoutDestination());
}
