/**
 * The HTTP service (docs/design.md §2) as an express app: the lean ID path in front, the
 * request context, the routes, the request log (request-log.ts) and the error handler.
 * `createApp` only builds it; a node (service/node.ts) listens.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { IdAllocator } from '../allocator/types.js';
import { bearerAuth, bearerCheck } from './auth.js';
import { keyHolderOf } from './shape-json.js';
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS, idempotencyReader } from './idempotency.js';
import type { RouteContext } from './context.js';
import { errorHandler, notFound } from './errors.js';
import { idRoutes } from './ids.js';
import { leanIdPath } from './lean.js';
import { openApiRoute } from './openapi.js';
import { opsRoutes } from './ops.js';
import { RefusalLog, refusalCode } from './refusals.js';
import { requestLog, routeOf } from './request-log.js';
import type { ReadyState } from './ready.js';
import { statusRoutes, type StatusDeps } from './status.js';
import { assignRequestId } from './request-id.js';
import { tagRoutes } from './tags.js';
import { returnRoutes } from './returns.js';
import type { Metrics } from '../observe/metrics/index.js';
import type { HttpSettings } from '../core/settings.js';
import type { TagStore } from '../core/store-ports.js';

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

  // A KEY_TOKENS token also passes where API_TOKENS is asked for: it is trusted more.
  const { apiTokens, keyTokens } = deps.config;
  const authorize = bearerCheck(
    apiTokens === undefined ? undefined : [...apiTokens, ...(keyTokens ?? [])],
  );
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
    keyHolder: keyHolderOf(keyTokens),
    idempotency: idempotencyReader(
      apiTokens !== undefined,
      deps.config.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    ),
    refusals,
  };
  serveLeanFirst(app, leanIdPath(ctx));

  app.use(requestContext(deps.metrics, deps.ready));
  // The hot routes come before the request log: a line per ID would cost more than the
  // ID. Their failures are logged by the error handler.
  idRoutes(app, ctx);
  app.use(requestLog(deps.logger, refusals));
  tagRoutes(app, ctx);
  returnRoutes(app, ctx);
  statusRoutes(app, ctx, deps.status ?? { storeKind: 'unknown' });
  openApiRoute(app, ctx);
  opsRoutes(app, ctx, deps.config.metricsPublic);
  app.use(notFound);
  app.use(errorHandler(deps.logger, refusals));
  return app;
}
