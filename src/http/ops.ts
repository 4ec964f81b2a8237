/**
 * Operations routes, open without a token: `GET /metrics`, `GET /healthz`, `GET /readyz`.
 */
import type { Express } from 'express';
import { ErrorCode } from '../core/errors.js';
import { JSON_TYPE, sendOk, type RouteContext } from './context.js';
import { sendError, type ErrorLocals } from './errors.js';

/** Registers the routes on `app`. */
export function opsRoutes(app: Express, ctx: RouteContext): void {
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await ctx.metrics.render();
    sendOk(res, contentType, body);
  });

  app.get('/healthz', (_req, res) => {
    sendOk(res, JSON_TYPE, '{"status":"ok"}');
  });

  app.get('/readyz', async (_req, res) => {
    const readiness = await ctx.ready.check();
    if (readiness.ready) {
      sendOk(res, JSON_TYPE, '{"status":"ready"}');
      return;
    }
    const message = `not ready: ${readiness.reason ?? 'the allocator is not ready'}`;
    // For the request log and idalloc_http_refused_total{code="UNAVAILABLE"}.
    (res.locals as ErrorLocals).error = { code: ErrorCode.UNAVAILABLE, message };
    sendError(res, { status: 503, code: ErrorCode.UNAVAILABLE, message, retryAfterSeconds: 1 });
  });
}
