/**
 * The lean ID path: `GET /v1/ids/{tag}` and the Leaf routes answered ahead of express's
 * router, which costs more than the ID itself (request/response prototypes, the router's
 * layer walk, the request context). It calls the same code as the express routes:
 * validation (validate.ts, the tag pattern), authentication (auth.ts), the answer
 * (ids.ts), error bodies and their log line (errors.ts), and the same metric series.
 *
 * It only takes a request it can answer without doubt: anything else (another method,
 * a `%` escape, a header it reads sent twice, a refusal of any kind, a Leaf tag not yet
 * known here) is left to express,
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
import { assignRequestId, saneRequestId } from './request-id.js';
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
  // What closeIfDraining reads once shutdown began; shared, never written to on this path.
  const locals: DrainLocals = Object.freeze({ ready: ctx.ready });

  /** Answers a request this path took with the error its serving threw. */
  const fail = (
    req: IncomingMessage,
    res: ServerResponse,
    r: LeanRoute,
    given: string | undefined,
    start: number,
    err: unknown,
  ) => {
    if (res.headersSent) {
      res.destroy(); // too late for a body, as express does
      return;
    }
    (res as { locals?: object }).locals = { ready: ctx.ready };
    const id = given ?? assignRequestId(req, res);
    answerError(logger, ctx.refusals, { id, method: 'GET', url: req.url ?? '' }, res, err, false);
    const refused = refusalCode(res);
    if (refused !== undefined) metrics.requestRefused(refused);
    metrics.observeRequest('GET', r.pattern, res.statusCode, (performance.now() - start) / 1000);
  };

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
    const h = leanHeaders(req.rawHeaders);
    if (h === undefined) return false;
    if (ctx.authorize(h.authorization)) return false;
    // A keyed request is one store round trip anyway: express serves it (ids.ts).
    if (h.keyed) return false;
    let count: number | undefined;
    let text = false;
    if (r.leaf) {
      if (ctx.allocator.modeOf(tag) !== r.leaf) return false;
      if (q >= 0 && !valid(() => readQuery(req as { url: string }, NONE))) return false;
    } else {
      const accept = plainAccept(h.accept);
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
    const given = saneRequestId(h.requestId);
    if (given !== undefined) res.setHeader('X-Request-Id', given);
    let pending: Promise<void> | void;
    try {
      if (ctx.ready.shuttingDown) (res as { locals?: DrainLocals }).locals = locals;
      pending = r.leaf ? serveLeaf(ctx, res, tag, r.leaf) : serveIds(ctx, res, tag, count, text);
    } catch (err) {
      fail(req, res, r, given, start, err);
      return true;
    }
    if (pending === undefined) {
      r.ok((performance.now() - start) / 1000);
      return true;
    }
    // Shutdown may begin while the answer waits for a range: sendOk reads it then.
    (res as { locals?: DrainLocals }).locals = locals;
    pending.then(
      () => r.ok((performance.now() - start) / 1000),
      (err: unknown) => fail(req, res, r, given, start, err),
    );
    return true;
  };
}

/** The request headers the lean path reads. */
interface LeanHeaders {
  authorization: string | undefined;
  accept: string | undefined;
  requestId: string | undefined;
  /** An Idempotency-Key was sent. */
  keyed: boolean;
}

/**
 * The headers the lean path reads, from one pass over `rawHeaders` (name, value, name, …)
 * instead of `req.headers`, which Node builds on first read, a property per header line.
 * Undefined when one of them is sent twice: Node joins or drops repeats by rules of its
 * own, so express, which reads `req.headers`, answers such a request.
 */
function leanHeaders(raw: readonly string[]): LeanHeaders | undefined {
  const h: LeanHeaders = {
    authorization: undefined,
    accept: undefined,
    requestId: undefined,
    keyed: false,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Most lines are none of the four: their lengths tell, without lower-casing.
    switch (name.length) {
      case 6:
        if (name.toLowerCase() !== 'accept') break;
        if (h.accept !== undefined) return undefined;
        h.accept = raw[i + 1]!;
        break;
      case 12:
        if (name.toLowerCase() !== 'x-request-id') break;
        if (h.requestId !== undefined) return undefined;
        h.requestId = raw[i + 1]!;
        break;
      case 13:
        if (name.toLowerCase() !== 'authorization') break;
        if (h.authorization !== undefined) return undefined;
        h.authorization = raw[i + 1]!;
        break;
      case IDEMPOTENCY_HEADER.length:
        if (name.toLowerCase() === IDEMPOTENCY_HEADER) h.keyed = true;
        break;
    }
  }
  return h;
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
