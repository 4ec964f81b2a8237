/**
 * The hot routes: `GET /v1/ids/{tag}` and the Leaf-compatible `GET /api/segment/get/{tag}`
 * and `GET /api/snowflake/get/{tag}`. When the allocator has the IDs buffered it answers
 * synchronously and so do these handlers: no promise, no extra tick per request.
 *
 * The answers are built by {@link serveIds} and {@link serveLeaf}, which both the express
 * routes below and the lean path (lean.ts, ahead of express) call once a request is
 * validated; express serves whatever the lean path leaves to it (HEAD, escapes, refusals).
 */
import type { ServerResponse } from 'node:http';
import type { Express } from 'express';
import { ErrorCode, IdAllocError, isIdAllocError } from '../core/errors.js';
import type { TagMode } from '../core/store-ports.js';
import type { IdempotencyKey, KeyedRange } from '../allocator/types.js';
import { REPLAY_HEADER } from './idempotency.js';
import { checkTagName } from '../core/tags.js';
import { JSON_TYPE, TEXT_TYPE, refusePaths, sendAscii, type RouteContext } from './context.js';
import { LEAF_ROUTES, ROUTES, pathTo } from './routes.js';
import { intParam, pathParam, readQuery, wantsText } from './validate.js';

export const COUNT = ['count'] as const;
export const NONE = [] as const;

// IDs are decimal digits or `prefix_` and base32 (core/shape.ts): no JSON escaping either.
function sendId(res: ServerResponse, tag: string, id: string, text: boolean): void {
  // Tag names are [A-Za-z0-9_.-] (checked), so they need no JSON escaping.
  if (text) sendAscii(res, TEXT_TYPE, `${id}\n`);
  else sendAscii(res, JSON_TYPE, `{"tag":"${tag}","id":"${id}"}`);
}

function sendIds(res: ServerResponse, tag: string, ids: readonly string[], text: boolean): void {
  if (text) {
    sendAscii(res, TEXT_TYPE, ids.length === 0 ? '' : `${ids.join('\n')}\n`);
    return;
  }
  // One join: half the cost of quoting each ID in its own string first.
  const list = ids.length === 0 ? '' : `"${ids.join('","')}"`;
  sendAscii(res, JSON_TYPE, `{"tag":"${tag}","ids":[${list}]}`);
}

/**
 * Answers `GET /v1/ids/{tag}` for a checked tag: one ID, or `count` (a validated
 * integer) of them, as callers see them (shaped, `prefix_…` for a tag with a prefix).
 * Synchronous when the allocator is.
 */
export function serveIds(
  ctx: RouteContext,
  res: ServerResponse,
  tag: string,
  count: number | undefined,
  text: boolean,
): Promise<void> | void {
  const { allocator } = ctx;
  if (count === undefined) {
    const id = allocator.nextId(tag);
    if (id instanceof Promise) return id.then((v) => sendId(res, tag, v, text));
    sendId(res, tag, id, text);
    return;
  }
  const ids = allocator.nextIds(tag, count);
  if (ids instanceof Promise) return ids.then((v) => sendIds(res, tag, v, text));
  sendIds(res, tag, ids, text);
}

/** The `count` parameter of `GET /v1/ids/{tag}`, when given. @throws INVALID_ARGUMENT */
export function countParam(ctx: RouteContext, count: string | undefined): number | undefined {
  return count === undefined ? undefined : intParam('count', count, 1, ctx.config.maxBatch);
}

/**
 * Answers a keyed `GET /v1/ids/{tag}` (an Idempotency-Key): one store round trip that
 * records the grant with the key, or answers the grant recorded before, formatted as the
 * node that granted it formatted it (its region) — the same IDs byte for byte.
 */
async function serveKeyedIds(
  ctx: RouteContext,
  res: ServerResponse,
  tag: string,
  count: number | undefined,
  key: IdempotencyKey,
  text: boolean,
): Promise<void> {
  const r = await ctx.allocator.keyed(tag, key, count === undefined ? 'id' : 'ids', count ?? 1);
  const ids = keyedIds(r);
  if (r.replay) res.setHeader(REPLAY_HEADER, 'true');
  if (count === undefined) sendId(res, tag, ids[0]!, text);
  else sendIds(res, tag, ids, text);
}

/** The IDs of a keyed grant, as callers see them. */
export function keyedIds(r: KeyedRange): string[] {
  const { shaper } = r.served;
  const out: string[] = [];
  for (let c = r.start; c <= r.end; c++)
    out.push(shaper.identity ? c.toString() : shaper.format(c));
  return out;
}

/** Registers the ID routes on `app`. */
export function idRoutes(app: Express, ctx: RouteContext): void {
  app.get(ROUTES.ids.pattern, ctx.auth, (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    const { count } = readQuery(req, COUNT);
    const text = wantsText(req);
    const n = countParam(ctx, count);
    const key = ctx.idempotency(req.headers);
    if (key !== undefined) return serveKeyedIds(ctx, res, tag, n, key, text);
    return serveIds(ctx, res, tag, n, text);
  });
  refusePaths(app, ROUTES.ids.base, ctx.auth, checkTagName);

  for (const mode of ['segment', 'snowflake'] as const) {
    app.get(LEAF_ROUTES[mode].pattern, ctx.auth, (req, res) => {
      const tag = checkTagName(pathParam(req.params.tag));
      readQuery(req, NONE);
      return serveLeaf(ctx, res, tag, mode);
    });
    refusePaths(app, LEAF_ROUTES[mode].base, ctx.auth, checkTagName);
  }
}

/**
 * A Leaf answer: the bare ID, no newline (Leaf clients parse the body as a number); a
 * shaped tag's numeric ID. A tag with a prefix has no numeric form a Leaf client could
 * use: refused, pointing to `/v1/ids` (before any ID is taken once this node knows the
 * tag's shape; the first request of a tag not yet served loses its one ID). The
 * allocator's mode directory learns an unserved tag's mode (at most one store trip); a
 * tag of the other mode is refused WRONG_MODE, pointing to the route that serves it.
 */
export function serveLeaf(
  ctx: RouteContext,
  res: ServerResponse,
  tag: string,
  wanted: TagMode,
): Promise<void> | void {
  if (wanted === 'segment') refuseStringIds(ctx, tag);
  let id: bigint | Promise<bigint>;
  try {
    id = ctx.allocator.next(tag, wanted);
  } catch (err) {
    throw leafHint(err, tag, wanted);
  }
  if (!(id instanceof Promise)) return sendAscii(res, TEXT_TYPE, id.toString());
  return id.then(
    (v) => {
      if (wanted === 'segment') refuseStringIds(ctx, tag);
      sendAscii(res, TEXT_TYPE, v.toString());
    },
    (err: unknown) => {
      throw leafHint(err, tag, wanted);
    },
  );
}

/** @throws IdAllocError INVALID_ARGUMENT for a tag whose IDs are strings (a prefix) */
function refuseStringIds(ctx: RouteContext, tag: string): void {
  const prefix = ctx.allocator.shapeOf(tag)?.shape.prefix;
  if (prefix === undefined) return;
  throw new IdAllocError(
    ErrorCode.INVALID_ARGUMENT,
    `tag '${tag}' issues string IDs (${prefix}_…), which a Leaf client cannot parse as a number: ask ${pathTo(ROUTES.ids, tag)} instead`,
    { tag, prefix },
  );
}

/** A WRONG_MODE refusal of a tag of the other mode, pointing to the route that serves it. */
function leafHint(err: unknown, tag: string, wanted: TagMode): unknown {
  if (!isIdAllocError(err, ErrorCode.WRONG_MODE)) return err;
  const actual = err.details.mode;
  if ((actual !== 'segment' && actual !== 'snowflake') || actual === wanted) return err;
  return new IdAllocError(
    ErrorCode.WRONG_MODE,
    `tag '${tag}' is a ${actual}-mode tag: ask ${pathTo(LEAF_ROUTES[actual], tag)} instead`,
    { tag, mode: actual },
  );
}
