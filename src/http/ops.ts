/**
 * Operations routes: `GET /healthz` and `GET /readyz`, always open (probes carry no
 * token), and `GET /metrics`, behind the bearer token when API_TOKENS is set unless
 * METRICS_PUBLIC: it names every served tag and its remaining IDs.
 */
import type { Express, RequestHandler } from 'express';
import { ErrorCode } from '../core/errors.js';
import { JSON_TYPE, sendOk, type RouteContext } from './context.js';
import { sendError, type ErrorLocals } from './errors.js';
import { ROUTES } from './routes.js';

const READY = { status: 'ready' } as const;

/** Lets every request through. */
const open: RequestHandler = (_req, _res, next) => next();

/**
 * Registers the routes on `app`.
 * @param metricsPublic serve `/metrics` without `ctx.auth` (METRICS_PUBLIC)
 */
export function opsRoutes(app: Express, ctx: RouteContext, metricsPublic: boolean): void {
  app.get(ROUTES.metrics.pattern, metricsPublic ? open : ctx.auth, async (_req, res) => {
    const { contentType, body } = await ctx.metrics.render();
    sendOk(res, contentType, body);
  });

  app.get(ROUTES.health.pattern, (_req, res) => {
    sendOk(res, JSON_TYPE, '{"status":"ok"}');
  });

  app.get(ROUTES.ready.pattern, async (_req, res) => {
    const readiness = await ctx.ready.check();
    if (readiness.ready) {
      // What it serves from: `buffers` or `snowflake` while the store does not answer.
      const body = readiness.serving ? { status: 'ready', serving: readiness.serving } : READY;
      sendOk(res, JSON_TYPE, JSON.stringify(body));
      return;
    }
    const message = `not ready: ${readiness.reason ?? 'the allocator is not ready'}`;
    // For the request log and idalloc_http_refused_total{code="UNAVAILABLE"}.
    (res.locals as ErrorLocals).error = { code: ErrorCode.UNAVAILABLE, message };
    sendError(res, { status: 503, code: ErrorCode.UNAVAILABLE, message, retryAfterSeconds: 1 });
  });
}
