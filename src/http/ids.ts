/**
 * The hot routes: `GET /v1/ids/{tag}` and the Leaf-compatible `GET /api/segment/get/{tag}`
 * and `GET /api/snowflake/get/{tag}`. When the allocator has the IDs buffered it answers
 * synchronously and so do these handlers: no promise, no extra tick per request.
 */
import type { Express, Response } from 'express';
import { ErrorCode, IdAllocError, tagNotFound } from '../core/errors.js';
import type { TagMode } from '../core/store-ports.js';
import { checkTagName } from '../core/tags.js';
import { JSON_TYPE, TEXT_TYPE, refusePaths, sendOk, type RouteContext } from './context.js';
import { intParam, pathParam, readQuery, wantsText } from './validate.js';

const COUNT = ['count'] as const;
const NONE = [] as const;

function sendId(res: Response, tag: string, id: bigint, text: boolean): void {
  // Tag names are [A-Za-z0-9_.-] (checked), so they need no JSON escaping.
  if (text) sendOk(res, TEXT_TYPE, `${id}\n`);
  else sendOk(res, JSON_TYPE, `{"tag":"${tag}","id":"${id}"}`);
}

function sendIds(res: Response, tag: string, ids: readonly bigint[], text: boolean): void {
  if (text) {
    sendOk(res, TEXT_TYPE, ids.length === 0 ? '' : `${ids.join('\n')}\n`);
    return;
  }
  sendOk(res, JSON_TYPE, `{"tag":"${tag}","ids":[${ids.map((id) => `"${id}"`).join(',')}]}`);
}

/** Registers the ID routes on `app`. */
export function idRoutes(app: Express, ctx: RouteContext): void {
  const { allocator, config } = ctx;

  app.get('/v1/ids/:tag', ctx.auth, (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    const { count } = readQuery(req, COUNT);
    const text = wantsText(req);
    if (count === undefined) {
      const id = allocator.next(tag);
      if (id instanceof Promise) return id.then((v) => sendId(res, tag, v, text));
      sendId(res, tag, id, text);
      return;
    }
    const n = intParam('count', count, 1, config.MAX_BATCH);
    const ids = allocator.nextBatch(tag, n);
    if (ids instanceof Promise) return ids.then((v) => sendIds(res, tag, v, text));
    sendIds(res, tag, ids, text);
  });
  refusePaths(app, '/v1/ids', ctx.auth, checkTagName);

  for (const mode of ['segment', 'snowflake'] as const) {
    const base = `/api/${mode}/get`;
    app.get(`${base}/:tag`, ctx.auth, (req, res) => {
      const tag = checkTagName(pathParam(req.params.tag));
      readQuery(req, NONE);
      const known = allocator.modeOf(tag);
      if (known !== undefined) return leafServe(ctx, res, tag, known, mode);
      // First request for this tag on this node: learn its mode before issuing anything.
      return ctx.tags.getTag(tag).then((found) => {
        if (!found) throw tagNotFound(tag);
        return leafServe(ctx, res, tag, found.mode, mode);
      });
    });
    refusePaths(app, base, ctx.auth, checkTagName);
  }
}

/** A Leaf answer: the bare ID, no newline (Leaf clients parse the body as a number). */
function leafServe(
  ctx: RouteContext,
  res: Response,
  tag: string,
  actual: TagMode,
  wanted: TagMode,
): Promise<void> | void {
  if (actual !== wanted) {
    throw new IdAllocError(
      ErrorCode.WRONG_MODE,
      `tag '${tag}' is a ${actual}-mode tag: ask /api/${actual}/get/${tag} instead`,
      { tag, mode: actual },
    );
  }
  const id = ctx.allocator.next(tag);
  if (id instanceof Promise) return id.then((v) => sendOk(res, TEXT_TYPE, v.toString()));
  sendOk(res, TEXT_TYPE, id.toString());
}
