/**
 * Ranges, tag information and decoding: `GET /v1/ranges/{tag}`, `GET /v1/tags`,
 * `GET /v1/tags/{tag}`, `GET /v1/snowflake/{id}`, `GET /v1/decode/{tag}?id=`. 64-bit values are JSON
 * strings; times are ISO-8601 UTC.
 */
import type { Express, Request } from 'express';
import type { SegmentState, SegmentView } from '../allocator/types.js';
import type { ServedShape } from '../allocator/shaping.js';
import type { IdRange } from '../core/ids.js';
import { REPLAY_HEADER } from './idempotency.js';
import { invalidArgument, tagNotFound } from '../core/errors.js';
import { tagJson } from '../core/tag-json.js';
import { checkTagName, parseId, TAG_NAME_PATTERN } from '../core/tags.js';
import { JSON_TYPE, refusePaths, sendOk, type RouteContext } from './context.js';
import { ROUTES } from './routes.js';
import { intParam, pathParam, readQuery, shown } from './validate.js';
import { decodedJson, needsKey, shapeDescriptor } from './shape-json.js';
import { publicShape } from '../core/shape.js';
import type { TagConfig } from '../core/store-ports.js';

/** A tag as the API shows it: never its permute key. */
function publicTagJson(t: TagConfig): Record<string, unknown> {
  return tagJson(t.mode === 'segment' ? { ...t, shape: publicShape(t.shape) } : t);
}

function viewJson(v: SegmentView | null) {
  return v === null
    ? null
    : {
        start: v.start.toString(),
        end: v.end.toString(),
        next: v.next.toString(),
        remaining: v.remaining.toString(),
      };
}

/** This node's live state of a segment tag as the API shows it. */
export function stateJson(s: SegmentState) {
  return {
    current: viewJson(s.current),
    next: viewJson(s.next),
    nextReady: s.nextReady,
    fetching: s.fetching,
    step: s.step,
    configuredStep: s.configuredStep,
    lastFetchAt: s.lastFetchAt === null ? null : new Date(s.lastFetchAt).toISOString(),
    highWater: s.highWater === null ? null : s.highWater.toString(),
  };
}

const SIZE = ['size'] as const;
const ID = ['id'] as const;
const NONE = [] as const;
const PAGE = ['limit', 'after'] as const;

/** Tags one `GET /v1/tags` answer lists without `limit`, and the most it may ask for. */
export const TAGS_PAGE = 100;
export const TAGS_PAGE_MAX = 1000;

/** `after`: the name of the last tag of the previous page (any tag name, existing or not). */
function afterParam(value: string): string {
  if (!TAG_NAME_PATTERN.test(value)) {
    throw invalidArgument(
      `after '${shown(value)}' is not allowed: expected a tag name (the nextAfter of the previous page)`,
      { parameter: 'after' },
    );
  }
  return value;
}

const checkSnowflakeId = (id: string) => parseId('snowflake id', id);

/** A client id the grant log may carry: short, printable, no spaces or quotes. */
const CLIENT_ID = /^[A-Za-z0-9_.:@/-]{1,64}$/;

/**
 * Who leased a range, for the grant log: the `X-Client-Id` header when it is a plain id,
 * else the peer address (a malformed header is ignored rather than refused: it names,
 * it does not authorize).
 */
function clientOf(req: Request): string | undefined {
  const given = req.headers['x-client-id'];
  if (typeof given === 'string' && CLIENT_ID.test(given)) return given;
  return req.socket.remoteAddress;
}

/** Registers the routes on `app`. */
export function tagRoutes(app: Express, ctx: RouteContext): void {
  const { allocator, tags, config } = ctx;

  app.get(ROUTES.ranges.pattern, ctx.auth, async (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    const { size } = readQuery(req, SIZE);
    if (size === undefined) {
      throw invalidArgument(
        `query parameter 'size' is required: an integer from 1 to ${config.maxRange}`,
      );
    }
    const n = intParam('size', size, 1, config.maxRange);
    const keyed = ctx.keyHolder(req.headers.authorization);
    // A permute tag's counter values are its IDs' secret: refused before any is taken.
    const before = await allocator.lookupShape(tag);
    if (before?.shape.kind === 'permute' && !keyed) throw needsKey(tag, 'a range');
    const key = ctx.idempotency(req.headers);
    // A keyed range has a lease key too, from the node that granted it (its return
    // deletes the key's record); a replay on another node has none.
    let range: IdRange & { readonly lease?: string };
    let shape: ServedShape | undefined;
    if (key === undefined) {
      range = await allocator.lease(tag, n, clientOf(req));
      // The grant's own shape (it may have been set between the look-up and the lease).
      shape = allocator.shapeOf(tag) ?? before;
    } else {
      // Recorded with the key, or the recorded range again (with its region's shape).
      const keyed = await allocator.keyed(tag, key, 'range', n, clientOf(req));
      if (keyed.replay) res.setHeader(REPLAY_HEADER, 'true');
      range = keyed;
      shape = keyed.served;
    }
    if (shape?.shape.kind === 'permute' && !keyed) throw needsKey(tag, 'a range');
    sendOk(
      res,
      JSON_TYPE,
      JSON.stringify({
        tag,
        start: range.start.toString(),
        end: range.end.toString(),
        ...(shape === undefined ? {} : { shape: shapeDescriptor(shape, keyed) }),
        // The key of a return of the range's tail (POST /v1/returns/{tag}).
        ...(range.lease === undefined ? {} : { lease: range.lease }),
      }),
    );
  });
  refusePaths(app, ROUTES.ranges.base, ctx.auth, checkTagName);

  app.get(ROUTES.tagList.pattern, ctx.auth, async (req, res) => {
    const query = readQuery(req, PAGE);
    const limit =
      query.limit === undefined ? TAGS_PAGE : intParam('limit', query.limit, 1, TAGS_PAGE_MAX);
    const after = query.after === undefined ? undefined : afterParam(query.after);
    // One more than the page: whether there is a next page at all.
    const found = await tags.listTags({
      ...(after !== undefined ? { after } : {}),
      limit: limit + 1,
    });
    const list = found.filter((t) => after === undefined || t.name > after).slice(0, limit + 1);
    const more = list.length > limit;
    const page = list.slice(0, limit);
    const nextAfter = more ? page[page.length - 1]!.name : null;
    sendOk(res, JSON_TYPE, JSON.stringify({ tags: page.map(publicTagJson), nextAfter }));
  });

  app.get(ROUTES.tag.pattern, ctx.auth, async (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    readQuery(req, NONE);
    const found = await tags.getTag(tag);
    if (!found) throw tagNotFound(tag);
    const state = allocator.segmentState(tag);
    sendOk(
      res,
      JSON_TYPE,
      JSON.stringify({ ...publicTagJson(found), node: state ? stateJson(state) : null }),
    );
  });
  refusePaths(app, ROUTES.tag.base, ctx.auth, checkTagName, { empty: false });

  app.get(ROUTES.snowflake.pattern, ctx.auth, (req, res) => {
    const id = checkSnowflakeId(pathParam(req.params.id)).toString();
    readQuery(req, NONE);
    sendOk(res, JSON_TYPE, JSON.stringify(allocator.decodeSnowflake(id)));
  });
  refusePaths(app, ROUTES.snowflake.base, ctx.auth, checkSnowflakeId);

  app.get(ROUTES.decode.pattern, ctx.auth, async (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    const { id } = readQuery(req, ID);
    if (id === undefined) {
      throw invalidArgument(`query parameter 'id' is required: an ID of tag '${tag}'`);
    }
    const found = await tags.getTag(tag);
    if (!found) throw tagNotFound(tag);
    if (found.mode === 'segment' && found.shape.kind === 'permute') {
      if (!ctx.keyHolder(req.headers.authorization)) throw needsKey(tag, 'a decode');
    }
    const decoded = await allocator.decodeId(tag, id);
    sendOk(res, JSON_TYPE, JSON.stringify(decodedJson(tag, id, decoded)));
  });
  refusePaths(app, ROUTES.decode.base, ctx.auth, checkTagName);
}
