/**
 * The HTTP service (docs/design.md §2) as an express app. `createApp` only builds it; the entry
 * file (index.ts) listens, and tests start it on port 0.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { IdAllocator } from '../allocator/types.js';
import { ErrorCode } from '../core/errors.js';
import { bearerAuth, bearerCheck } from './auth.js';
import type { RouteContext } from './context.js';
import { errorHandler, notFound, type ErrorLocals } from './errors.js';
import { idRoutes } from './ids.js';
import { leanIdPath } from './lean.js';
import { openApiRoute } from './openapi.js';
import { opsRoutes } from './ops.js';
import { RefusalLog, refusalCode } from './refusals.js';
import { PROBES } from './routes.js';
import { censorHeaders, censorQuery, censorUrl } from '../observe/logger.js';
import type { ReadyState } from './ready.js';
import { statusRoutes, type StatusDeps } from './status.js';
import { assignRequestId } from './request-id.js';
import { tagRoutes } from './tags.js';
import { UNMATCHED_ROUTE, type Metrics } from '../observe/metrics/index.js';
import type { HttpSettings } from '../core/settings.js';
import type { TagStore } from '../core/store-ports.js';

export { ReadyState } from './ready.js';

export interface AppDeps {
  readonly allocator: IdAllocator;
  /** Read-only tag access for `GET /v1/tags…` and the Leaf routes' first request. */
  readonly tags: Pick<TagStore, 'getTag' | 'listTags'>;
  readonly metrics: Metrics;
  readonly config: HttpSettings;
  readonly logger: Logger;
  readonly ready: ReadyState;
  /** What `GET /v1/status` (and the page at `/`) shows beyond the allocator's buffers. */
  readonly status?: StatusDeps;
}

/** The route pattern that served a request (docs/design.md §9: never the raw path). */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : UNMATCHED_ROUTE;
}

/**
 * First on every request: the request id (echoed in `X-Request-Id`), the duration
 * histogram, and the ready state for `closeIfDraining` (context.ts).
 */
function requestContext(metrics: Metrics, ready: ReadyState): RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    req.id = assignRequestId(req, res);
    (res.locals as { ready?: ReadyState }).ready = ready;
    res.once('finish', () => {
      const refused = refusalCode(res);
      if (refused !== undefined) metrics.requestRefused(refused);
      metrics.observeRequest(
        req.method,
        routeOf(req),
        res.statusCode,
        (performance.now() - start) / 1000,
      );
    });
    next();
  };
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

/**
 * Puts the lean ID path (http/lean.ts) ahead of express: `app.listen` and
 * `http.createServer(app)` call `app.handle` for every request, so the ID routes skip
 * express's per-request set-up and router, and everything the lean path leaves goes on
 * to express unchanged.
 */
function serveLeanFirst(
  app: Express,
  lean: (req: IncomingMessage, res: ServerResponse) => boolean,
): void {
  const target = app as unknown as { handle: (...args: unknown[]) => void };
  const handle = target.handle.bind(app);
  target.handle = (req: unknown, res: unknown, next: unknown) => {
    if (!lean(req as IncomingMessage, res as ServerResponse)) handle(req, res, next);
  };
}

/** Builds the app; never listens. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // IDs are never the same twice: no ETag hashing, no conditional GETs.
  app.set('etag', false);
  deps.metrics.watch(deps.allocator);

  const authorize = bearerCheck(deps.config.apiTokens);
  const refusals = new RefusalLog();
  const ctx: RouteContext = {
    allocator: deps.allocator,
    tags: deps.tags,
    metrics: deps.metrics,
    config: deps.config,
    logger: deps.logger,
    ready: deps.ready,
    auth: bearerAuth(authorize),
    authorize,
    refusals,
  };
  serveLeanFirst(app, leanIdPath(ctx));

  app.use(requestContext(deps.metrics, deps.ready));
  // The hot routes come before the request log: a line per ID would cost more than the
  // ID. Their failures are logged by the error handler.
  idRoutes(app, ctx);
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req) => req.id,
      // Credentials never reach the log: only known-safe headers and query parameters
      // keep their values (logger.ts), in `url` and `query` by the same rule.
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
    }),
  );
  tagRoutes(app, ctx);
  statusRoutes(app, ctx, deps.status ?? { storeKind: 'unknown' });
  openApiRoute(app, ctx);
  opsRoutes(app, ctx, deps.config.metricsPublic);
  app.use(notFound);
  app.use(errorHandler(deps.logger, refusals));
  return app;
}
