/**
 * The request log: one pino line per request (pino-http) for every route but the hot ID
 * routes, whose failures the error handler logs. Credentials never reach it (only
 * known-safe headers and query parameters keep their values: observe/logger.ts); probes
 * log at debug; refusals a line a minute per kind (refusals.ts); an expected 503 is one
 * line without a made-up stack.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { ErrorCode } from '../core/errors.js';
import { censorHeaders, censorQuery, censorUrl } from '../observe/logger.js';
import { UNMATCHED_ROUTE } from '../observe/metrics/index.js';
import type { ErrorLocals } from './errors.js';
import { refusalCode, type RefusalLog } from './refusals.js';
import { PROBES } from './routes.js';

/** The route pattern that served a request (docs/design.md §9: never the raw path). */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : UNMATCHED_ROUTE;
}

/** What the request log reads from `res.locals`. */
interface RequestLogLocals extends ErrorLocals {
  /** On the refusal logged at warn: refusals logged at debug since the previous one. */
  refusalsLeftOut?: number;
}

/**
 * A failure the service answers on purpose — UNAVAILABLE with `Retry-After`, from a
 * route or `/readyz` — rather than a bug (`res.err`, set for INTERNAL).
 */
function expected(res: Response): boolean {
  return (
    res.err === undefined &&
    (res.getHeader('Retry-After') !== undefined ||
      (res.locals as RequestLogLocals).error?.code === ErrorCode.UNAVAILABLE)
  );
}

/** The error body and the refusal count a request log line carries. */
function details(res: unknown, value: object): object {
  const locals = (res as { locals?: RequestLogLocals }).locals;
  return {
    ...value,
    ...(locals?.error ? { error: locals.error } : {}),
    ...(locals?.refusalsLeftOut !== undefined ? { refusalsLeftOut: locals.refusalsLeftOut } : {}),
  };
}

/** The request log's middleware, over the app's logger and refusal log. */
export function requestLog(logger: Logger, refusals: RefusalLog): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req) => req.id,
    // Credentials never reach the log: only known-safe headers and query parameters
    // keep their values (observe/logger.ts), in `url` and `query` by the same rule.
    serializers: {
      req: (req: Record<string, unknown>) => ({
        ...req,
        url: censorUrl(req.url),
        query: censorQuery(req.query),
        headers: censorHeaders(req.headers),
      }),
    },
    customLogLevel: (req, res, err) => {
      const locals = (res as unknown as { locals: RequestLogLocals }).locals;
      if (err || res.err) return 'error';
      // 400, 401, 404, 409 and an expected 503: a line a minute per kind (refusals.ts).
      if (refusalCode(res as unknown as Response) !== undefined) {
        const decided = refusals.next(res.statusCode, PROBES.has(routeOf(req as Request)));
        if (decided.level !== 'debug') locals.refusalsLeftOut = decided.leftOut;
        return decided.level;
      }
      if (res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return PROBES.has(routeOf(req as Request)) ? 'debug' : 'info';
    },
    customSuccessObject: (_req, res, value) => details(res, value),
    // An expected 503 (UNAVAILABLE, with Retry-After) is one line without a stack:
    // pino-http would attach a made-up Error('failed with status code 503').
    customErrorObject: (_req, res, _err, value) => {
      if (!expected(res as unknown as Response)) return value;
      const { err: _made, ...line } = value as Record<string, unknown>;
      return details(res, line);
    },
    customErrorMessage: (_req, res) =>
      expected(res as unknown as Response) ? 'request failed' : 'request errored',
  });
}
