/**
 * The hot routes: `GET /v1/ids/{tag}` and the Leaf-compatible `GET /api/segment/get/{tag}`
 * and `GET /api/snowflake/get/{tag}`. When the allocator has the IDs buffered it answers
 * synchronously and so do these handlers: no promise, no extra tick per request.
 */
import type { Express, Response } from 'express';
import { ErrorCode, IdAllocError, isIdAllocError } from '../core/errors.js';
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
      // The allocator's mode directory learns an unserved tag's mode (one store trip).
      let id: bigint | Promise<bigint>;
      try {
        id = allocator.next(tag, mode);
      } catch (err) {
        throw leafHint(err, tag, mode);
      }
      // A Leaf answer: the bare ID, no newline (Leaf clients parse the body as a number).
      if (!(id instanceof Promise)) return sendOk(res, TEXT_TYPE, id.toString());
      return id.then(
        (v) => sendOk(res, TEXT_TYPE, v.toString()),
        (err: unknown) => {
          throw leafHint(err, tag, mode);
        },
      );
    });
    refusePaths(app, base, ctx.auth, checkTagName);
  }
}

/** A WRONG_MODE refusal of a tag of the other mode, pointing to the route that serves it. */
function leafHint(err: unknown, tag: string, wanted: TagMode): unknown {
  if (!isIdAllocError(err, ErrorCode.WRONG_MODE)) return err;
  const actual = err.details.mode;
  if ((actual !== 'segment' && actual !== 'snowflake') || actual === wanted) return err;
  return new IdAllocError(
    ErrorCode.WRONG_MODE,
    `tag '${tag}' is a ${actual}-mode tag: ask /api/${actual}/get/${tag} instead`,
    { tag, mode: actual },
  );
}
