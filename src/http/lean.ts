/**
 * The lean ID path: `GET /v1/ids/{tag}` and the Leaf routes answered ahead of express's
 * router, which costs more than the ID itself (request/response prototypes, the router's
 * layer walk, the request context). It calls the same code as the express routes:
 * validation (validate.ts, the tag pattern), authentication (auth.ts), the answer
 * (ids.ts), error bodies and their log line (errors.ts), and the same metric series.
 *
 * It only takes a request it can answer without doubt: anything else (another method,
 * a `%` escape, a refusal of any kind, a Leaf tag not yet known here) is left to express,
 * whose routes answer it exactly as before, so no refusal has a second implementation.
 * Once it took a request, it answers it (an error from the allocator included).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TagMode } from '../core/store-ports.js';
import { isTagName } from '../core/tags.js';
import type { DrainLocals, RouteContext } from './context.js';
import { answerError } from './errors.js';
import { IDEMPOTENCY_HEADER } from './idempotency.js';
import { refusalCode } from './refusals.js';
import { COUNT, NONE, countParam, serveIds, serveLeaf } from './ids.js';
import { assignRequestId, givenRequestId } from './request-id.js';
import { LEAF_ROUTES, ROUTES, type Route } from './routes.js';
import { plainAccept, readQuery } from './validate.js';

/** Answers the request and returns true, or returns false having touched nothing. */
export type LeanHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

interface LeanRoute {
  readonly prefix: string;
  readonly pattern: string;
  /** The Leaf route's mode; undefined for `/v1/ids`. */
  readonly leaf: TagMode | undefined;
  /** The pre-resolved duration histogram child of its 200 answers. */
  readonly ok: (seconds: number) => void;
}

/** Builds the lean path over the same route context as the express app. */
export function leanIdPath(ctx: RouteContext): LeanHandler {
  const { metrics, logger } = ctx;
  // The prefix is the route's pattern cut at `:tag` (routes.ts): the URL's tag follows it.
  const route = ({ prefix, pattern }: Route, leaf: TagMode | undefined): LeanRoute => ({
    prefix,
    pattern,
    leaf,
    ok: metrics.requestObserver('GET', pattern, 200),
  });
  const ids = route(ROUTES.ids, undefined);
  const segment = route(LEAF_ROUTES.segment, 'segment');
  const snowflake = route(LEAF_ROUTES.snowflake, 'snowflake');
  // What closeIfDraining reads; shared, never written to on this path.
  const locals: DrainLocals = Object.freeze({ ready: ctx.ready });

  return (req, res) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const r = url.startsWith(ids.prefix)
      ? ids
      : url.startsWith(segment.prefix)
        ? segment
        : url.startsWith(snowflake.prefix)
          ? snowflake
          : undefined;
    if (!r) return false;
    const q = url.indexOf('?', r.prefix.length);
    const tag = url.slice(r.prefix.length, q < 0 ? undefined : q);
    // Escapes, slashes, bad names: express decodes and names them.
    if (!isTagName(tag)) return false;
    if (ctx.authorize(req.headers.authorization)) return false;
    // A keyed request is one store round trip anyway: express serves it (ids.ts).
    if (req.headers[IDEMPOTENCY_HEADER] !== undefined) return false;
    let count: number | undefined;
    let text = false;
    if (r.leaf) {
      if (ctx.allocator.modeOf(tag) !== r.leaf) return false;
      if (q >= 0 && !valid(() => readQuery(req as { url: string }, NONE))) return false;
    } else {
      const accept = plainAccept(req.headers.accept);
      if (accept === undefined) return false;
      text = accept;
      if (q >= 0) {
        const ok = valid(() => {
          count = countParam(ctx, readQuery(req as { url: string }, COUNT).count);
        });
        if (!ok) return false;
      }
    }

    // Taken: from here this path answers.
    const start = performance.now();
    (res as { locals?: DrainLocals }).locals = locals;
    const given = givenRequestId(req);
    if (given !== undefined) res.setHeader('X-Request-Id', given);
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy(); // too late for a body, as express does
        return;
      }
      (res as { locals?: object }).locals = { ready: ctx.ready };
      const id = given ?? assignRequestId(req, res);
      answerError(logger, ctx.refusals, { id, method: 'GET', url }, res, err, false);
      const refused = refusalCode(res);
      if (refused !== undefined) metrics.requestRefused(refused);
      metrics.observeRequest('GET', r.pattern, res.statusCode, (performance.now() - start) / 1000);
    };
    const done = () => r.ok((performance.now() - start) / 1000);
    try {
      const pending = r.leaf
        ? serveLeaf(ctx, res, tag, r.leaf)
        : serveIds(ctx, res, tag, count, text);
      if (pending) pending.then(done, fail);
      else done();
    } catch (err) {
      fail(err);
    }
    return true;
  };
}

/** Runs a validation; false when it refused (express will answer the refusal). */
function valid(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
