/**
 * The service's logger: pino writing one JSON object per line to stdout (or a given
 * stream in tests). Bearer tokens never reach a log line.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger } from 'pino';

/** Paths pino blanks out: the token of every request that carries one. */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers.cookie',
]);

/**
 * Builds the root logger at `LOG_LEVEL`. Times are ISO-8601 so that log lines read well
 * without a formatter.
 * @param destination where lines go; stdout when omitted
 */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.LOG_LEVEL,
    name: 'idalloc',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
