/**
 * The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json` (public, like
 * `/healthz`): its paths here, its components (with the configured limits) in
 * openapi-components.ts and openapi-schemas.ts. docs/openapi.json is this document with
 * the default settings (scripts/openapi.ts writes it; a test keeps the two equal;
 * `npm run lint` lints it with Redocly).
 */
import type { Express } from 'express';
import type { HttpSettings } from '../core/settings.js';
import { JSON_TYPE, sendOk, type RouteContext } from './context.js';
import {
  COMMON_HEADERS,
  ID_ROUTE_HEADERS,
  keyedHeaders,
  components,
  ref,
  responses,
  type Obj,
} from './openapi-components.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { ROUTES } from './routes.js';
import { readQuery } from './validate.js';

/** The package version (core/version.ts), as the document names it. */
export const API_VERSION = PACKAGE_VERSION;

const json = (schema: string): Obj => ({ 'application/json': { schema: ref('schemas', schema) } });

function ok(description: string, content: Obj, headers: Obj = COMMON_HEADERS): Obj {
  return { description, headers, content };
}

const tagParam = ref('parameters', 'Tag');
const REQUEST_ID_PARAM = ref('parameters', 'RequestId');
const secured = [{ bearerAuth: [] }];

function op(
  operationId: string,
  summary: string,
  description: string,
  extra: Obj,
  tags: string[],
): Obj {
  const parameters = [...((extra.parameters as Obj[] | undefined) ?? []), REQUEST_ID_PARAM];
  return { get: { operationId, summary, description, tags, ...extra, parameters } };
}

/** The document for `config`'s limits. */
export function openApiDocument(config: Pick<HttpSettings, 'maxBatch' | 'maxRange'>): Obj {
  const text = (pattern: string, description: string): Obj => ({
    'text/plain': { schema: { type: 'string', pattern, description } },
  });
  const idText = text('^([0-9]+\\n)*$', 'IDs as decimal digits, one per line');
  const leafText = text('^[0-9]+$', 'The bare ID, no newline');
  const v1 = { security: secured };
  /** A Leaf route: the bare ID of a tag of `mode`, the other mode refused WRONG_MODE. */
  const leafOperation = (mode: 'segment' | 'snowflake', description: string): Obj =>
    op(
      mode === 'segment' ? 'leafSegment' : 'leafSnowflake',
      `Leaf: one ID of a ${mode} tag`,
      description,
      {
        ...v1,
        parameters: [tagParam],
        responses: responses(
          ok('The ID', leafText, ID_ROUTE_HEADERS),
          'BadRequest',
          'Unauthorized',
          'TagNotFound',
          'Conflict',
          'Unavailable',
        ),
      },
      ['leaf'],
    );
  return {
    openapi: '3.1.0',
    info: {
      title: 'idalloc',
      version: API_VERSION,
      summary: 'Unique 64-bit IDs per business tag',
      description:
        'Every ID is a JSON string of decimal digits. Routes under `/v1` and `/api`, and `/metrics` (unless METRICS_PUBLIC=true), need `Authorization: Bearer <token>` when API_TOKENS is set. Every error body is `{"error":{"code","message"}}`, JSON even when text was asked for; a request no route matches gets 404 NOT_FOUND (components/responses/NotFound); requests the HTTP parser refuses get 400 INVALID_ARGUMENT, or 431/408 with the same body. A client `X-Request-Id` (1-128 of A-Za-z0-9_.:@-) is echoed. HEAD works wherever GET does (on ID routes it takes an ID).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'this node' }],
    tags: [
      { name: 'ids', description: 'Taking IDs' },
      { name: 'tags', description: 'Tag configuration and state' },
      { name: 'leaf', description: "Meituan Leaf's routes, for Leaf clients" },
      { name: 'ops', description: 'Status, probes, metrics and this document' },
    ],
    paths: {
      [ROUTES.ids.openApiPath]: op(
        'getIds',
        'Take one ID, or `count` IDs',
        "Without `count`: one ID. With `count`: that many, in the order issued (ascending for plain tags). IDs are the tag's shape of its counter values (docs/design.md §13): decimal digits, or `prefix_` and 13 base32 characters for a tag with a prefix. `Accept: text/plain` gives the IDs, one per line.",
        {
          ...v1,
          parameters: [
            tagParam,
            ref('parameters', 'Count'),
            ref('parameters', 'Accept'),
            ref('parameters', 'IdempotencyKey'),
          ],
          responses: responses(
            ok(
              'The ID or IDs',
              {
                'application/json': {
                  schema: { oneOf: [ref('schemas', 'OneId'), ref('schemas', 'IdBatch')] },
                },
                ...idText,
              },
              keyedHeaders(ID_ROUTE_HEADERS),
            ),
            'BadRequest',
            'Unauthorized',
            'TagNotFound',
            'Conflict',
            'Unprocessable',
            'Unavailable',
          ),
        },
        ['ids'],
      ),
      [ROUTES.ranges.openApiPath]: op(
        'getRange',
        'Reserve `size` IDs for the caller alone',
        "Segment tags only (a snowflake tag is WRONG_MODE). Straight from the store, all or nothing. `start`..`end` are counter values; `shape` says how to turn each into the tag's ID. A permute tag's range is FORBIDDEN unless the bearer token is one of KEY_TOKENS, whose answer carries the key.",
        {
          ...v1,
          parameters: [tagParam, ref('parameters', 'Size'), ref('parameters', 'IdempotencyKey')],
          responses: responses(
            ok('The range', json('IdRange'), keyedHeaders(COMMON_HEADERS)),
            'BadRequest',
            'Unauthorized',
            'Forbidden',
            'TagNotFound',
            'Conflict',
            'Unprocessable',
            'Unavailable',
          ),
        },
        ['ids'],
      ),
      [ROUTES.returns.openApiPath]: {
        post: {
          operationId: 'returnRange',
          summary: "Give back the unserved tail of the caller's last range",
          description:
            'An IdClient\'s hand-back at close (docs/design.md §5 "Hand-back"): `from`..end of the range whose answer carried `lease` goes back to the tag\'s counter when it is the last range this node leased of the tag and nothing was granted after it (the store\'s compare-and-set); one return per lease. The answer says what happened: `returned` IDs, or "0" and why; IDs not taken back stay skipped (a gap, never a duplicate). Not retried, not failed over.',
          tags: ['ids'],
          ...v1,
          parameters: [tagParam, REQUEST_ID_PARAM],
          requestBody: { required: true, content: json('RangeReturn') },
          responses: responses(
            ok('What became of the return', json('RangeReturned')),
            'BadRequest',
            'Unauthorized',
            'Unavailable',
          ),
        },
      },
      [ROUTES.tagList.openApiPath]: op(
        'listTags',
        'The tags and their configuration, a page at a time',
        'In name order, `limit` tags (default 100) named after `after`; `nextAfter` is the `after` of the next page, null on the last one.',
        {
          ...v1,
          parameters: [ref('parameters', 'Limit'), ref('parameters', 'After')],
          responses: responses(
            ok('The tags', json('TagList')),
            'BadRequest',
            'Unauthorized',
            'Unavailable',
          ),
        },
        ['tags'],
      ),
      [ROUTES.tag.openApiPath]: op(
        'getTag',
        "A tag's configuration and this node's buffers of it",
        '`node` is null before this node served the tag.',
        {
          ...v1,
          parameters: [tagParam],
          responses: responses(
            ok('The tag', json('TagWithNode')),
            'BadRequest',
            'Unauthorized',
            'TagNotFound',
            'Unavailable',
          ),
        },
        ['tags'],
      ),
      [ROUTES.snowflake.openApiPath]: op(
        'decodeSnowflake',
        'Take a snowflake ID apart',
        "Refuses anything that is not decimal digits, is 2^63 or more, or exceeds the layout's bits. A timestamp more than 60 s ahead of this node's clock is decoded all the same, with a `note` saying by how much.",
        {
          ...v1,
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'A snowflake ID of this node’s layout',
              schema: ref('schemas', 'Id'),
            },
          ],
          responses: responses(
            ok('The parts', json('DecodedSnowflake')),
            'BadRequest',
            'Unauthorized',
          ),
        },
        ['tags'],
      ),
      [ROUTES.decode.openApiPath]: op(
        'decodeId',
        "Take a segment tag's ID back to its counter value and region",
        "By the tag's stored shape and region count. A permute tag's IDs need a bearer token of KEY_TOKENS (FORBIDDEN otherwise). `issued` says whether the store granted the counter value yet.",
        {
          ...v1,
          parameters: [
            tagParam,
            {
              name: 'id',
              in: 'query',
              required: true,
              description: 'An ID of the tag, as GET /v1/ids/{tag} gave it',
              schema: ref('schemas', 'PublicId'),
            },
          ],
          responses: responses(
            ok('The counter value and region', json('DecodedId')),
            'BadRequest',
            'Unauthorized',
            'Forbidden',
            'TagNotFound',
            'Unavailable',
          ),
        },
        ['tags'],
      ),
      [ROUTES.status.openApiPath]: op(
        'getStatus',
        "This node's live status (what the page at / shows)",
        "The node's identity (NODE_ID or hostname:pid, host, version, start time) and every worker process of it (WORKERS; gathered by the cluster primary), each with its store, snowflake worker ID and fence, and per tag it serves: buffers, step, remaining IDs, IDs/s, last fetch. The top-level store, snowflake and tags are the answering worker's. From memory, plus a readiness check reused for a second.",
        {
          ...v1,
          responses: responses(ok('The status', json('Status')), 'BadRequest', 'Unauthorized'),
        },
        ['ops'],
      ),
      [ROUTES.leafSegment.openApiPath]: leafOperation(
        'segment',
        'The bare ID as text/plain, so Leaf clients switch without a change; a shaped tag gives its numeric ID. A snowflake tag is WRONG_MODE; a tag with a prefix (string IDs, which Leaf clients cannot parse) is INVALID_ARGUMENT, pointing to /v1/ids/{tag}.',
      ),
      [ROUTES.leafSnowflake.openApiPath]: leafOperation(
        'snowflake',
        'The bare ID as text/plain. A segment tag is WRONG_MODE.',
      ),
      [ROUTES.statusPage.openApiPath]: op(
        'statusPage',
        'The status page',
        'One self-contained HTML page (no data in it) that polls /v1/status every 1.5 s, asking for a token when that answers 401.',
        {
          security: [],
          responses: responses(
            ok('The page', { 'text/html': { schema: { type: 'string' } } }),
            'BadRequest',
          ),
        },
        ['ops'],
      ),
      [ROUTES.openApi.openApiPath]: op(
        'getOpenApi',
        'This document',
        'With the limits this node is configured with.',
        {
          security: [],
          responses: responses(
            ok('The document', { 'application/json': { schema: { type: 'object' } } }),
            'BadRequest',
          ),
        },
        ['ops'],
      ),
      [ROUTES.metrics.openApiPath]: op(
        'getMetrics',
        'Prometheus metrics',
        'Text exposition 0.0.4. A scrape never calls the store. Needs the bearer token when API_TOKENS is set, unless the node runs with METRICS_PUBLIC=true: it names every served tag and its remaining IDs.',
        {
          ...v1,
          responses: responses(
            ok(
              'The metrics',
              { 'text/plain': { schema: { type: 'string' } } },
              { 'X-Request-Id': ref('headers', 'RequestId') },
            ),
            'Unauthorized',
          ),
        },
        ['ops'],
      ),
      [ROUTES.health.openApiPath]: op(
        'getHealth',
        'Liveness',
        '200 while the process runs.',
        { security: [], responses: responses(ok('Alive', json('Health'))) },
        ['ops'],
      ),
      [ROUTES.ready.openApiPath]: op(
        'getReady',
        'Readiness',
        '200 while this node can serve IDs: the store answers, its buffers hold IDs, or its snowflake worker ID mints for a snowflake tag it knows. 503 with the reason while starting, draining (shutdown), after a fault of the embedded store or the grant log, or when it can serve nothing.',
        {
          security: [],
          responses: responses(ok('Ready', json('Ready')), 'Unavailable'),
        },
        ['ops'],
      ),
    },
    components: components(config),
  };
}

/** Registers `GET /openapi.json`; the document is built once. */
export function openApiRoute(app: Express, ctx: RouteContext): void {
  const body = `${JSON.stringify(openApiDocument(ctx.config), null, 2)}\n`;
  const none = [] as const;
  app.get(ROUTES.openApi.pattern, (req, res) => {
    readQuery(req, none);
    sendOk(res, JSON_TYPE, body);
  });
}
