/**
 * The JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses them) of every body the HTTP API
 * sends, written once as data next to the code that builds those bodies (ids.ts,
 * tags.ts, status.ts, errors.ts). test/integration/openapi.test.ts checks every real
 * answer against them.
 */
import { ErrorCode } from '../core/errors.js';
import { TAG_NAME_PATTERN } from '../core/tags.js';
import { ID_BITS, MAX_REGIONS, MIN_WIDTH, PREFIX_PATTERN, SHAPE_KINDS } from '../core/shape.js';
import { NOT_FOUND } from './errors.js';

type Schema = Record<string, unknown>;

/** A range's lease key (allocator/give-back.ts): 128 bits, base64url. */
const LEASE_KEY = '^[A-Za-z0-9_-]{22}$';

/** Why a return took nothing back (allocator/types.ts GiveBackResult). */
export const RETURN_REFUSALS = [
  'unknown_lease',
  'nothing',
  'unsupported',
  'moved',
  'incarnation',
  'uncertain',
] as const;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: 'null' }] });
const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  required: Object.keys(properties),
  properties,
  additionalProperties: false,
  ...extra,
});

/** Every error code an HTTP answer can carry (NOT_FOUND is the router's own). */
export const HTTP_ERROR_CODES = [
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.FORBIDDEN,
  NOT_FOUND,
  ErrorCode.TAG_NOT_FOUND,
  ErrorCode.WRONG_MODE,
  ErrorCode.WRONG_REGION,
  ErrorCode.TAG_EXHAUSTED,
  ErrorCode.IDEMPOTENCY_MISMATCH,
  ErrorCode.UNAVAILABLE,
  ErrorCode.INTERNAL,
] as const;

/** The error body, its code limited to `codes`. */
export function errorBody(codes: readonly string[]): Schema {
  return object({
    error: object({
      code: { type: 'string', enum: [...codes] },
      message: { type: 'string', minLength: 1 },
    }),
  });
}

const iso = { type: 'string', format: 'date-time', description: 'ISO-8601 UTC' };

/** A tag's JSON (src/core/tag-json.ts): one shape per mode; `extra` adds properties. */
const tagSchema = (extra: Record<string, Schema> = {}): Schema => ({
  oneOf: [
    object({
      name: ref('TagName'),
      mode: { const: 'segment' },
      step: { type: 'integer', minimum: 1 },
      max: ref('Id'),
      gap: ref('Id'),
      description: { type: 'string', maxLength: 1024 },
      createdAt: iso,
      next: {
        ...nullable(ref('Id')),
        description: 'The next ID the store will grant; null when the tag is damaged in the store',
      },
      shape: object(
        {
          kind: { enum: ['plain', 'bitreverse', 'permute'] },
          prefix: { type: 'string', pattern: '^[a-z][a-z0-9]{0,15}$' },
          width: { type: 'integer', minimum: 16, maximum: 63 },
        },
        {
          required: ['kind'],
          description:
            'How counter values become IDs (docs/design.md §13); a permute key is never shown here',
        },
      ),
      regions: { type: 'integer', minimum: 1, maximum: 1024 },
      ...extra,
    }),
    object(
      {
        name: ref('TagName'),
        mode: { const: 'snowflake' },
        description: { type: 'string', maxLength: 1024 },
        createdAt: iso,
        ...extra,
      },
      { description: 'A snowflake tag has no counter: its IDs come from the clock' },
    ),
  ],
});

/** The fields every decoded snowflake ID has (`note` may come on top). */
const DECODED: Record<string, Schema> = {
  id: ref('Id'),
  timestamp: { type: 'integer', description: 'Unix milliseconds' },
  time: iso,
  workerId: { type: 'integer', minimum: 0 },
  sequence: { type: 'integer', minimum: 0 },
};

/** Which worker process an entry (or the top level of `/v1/status`: the answering one) is. */
const WORKER_LABEL: Record<string, Schema> = {
  worker: nullable({
    type: 'integer',
    minimum: 1,
    description: 'The cluster worker id; null when the node is one process (WORKERS=1)',
  }),
  pid: { type: 'integer', minimum: 1 },
};

/** What each worker reports of itself (the top level of `/v1/status` is the answering one's). */
const WORKER_FIELDS: Record<string, Schema> = {
  startedAt: iso,
  ready: object({
    ready: { type: 'boolean' },
    reason: nullable({ type: 'string' }),
    serving: nullable({ type: 'string', enum: ['store', 'buffers', 'snowflake'] }),
  }),
  store: object({
    kind: {
      type: 'string',
      description: '`redis`, `sentinel`, `cluster` or `embedded`',
      examples: ['embedded'],
    },
    up: { type: 'boolean' },
    durable: { type: 'boolean' },
  }),
  snowflake: nullable(
    object(
      {
        workerId: nullable({ type: 'integer', minimum: 0 }),
        pinned: { type: 'boolean' },
        floor: nullable({ ...iso, description: 'The first timestamp the worker ID may use' }),
        horizon: nullable({ ...iso, description: 'The last timestamp confirmed by the store' }),
        ready: { type: 'boolean' },
        reason: nullable({ type: 'string' }),
      },
      { description: 'null when this node serves no snowflake tags' },
    ),
  ),
  tagsServed: { type: 'integer', minimum: 0 },
  tags: { type: 'array', items: ref('StatusTag'), description: 'The busiest 200 at most' },
};

export const SCHEMAS: Readonly<Record<string, Schema>> = {
  TagName: {
    type: 'string',
    pattern: TAG_NAME_PATTERN.source,
    description: '1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit',
    examples: ['order'],
  },
  Id: {
    type: 'string',
    pattern: '^(0|[1-9][0-9]{0,18})$',
    description: 'A 64-bit ID (0 to 2^63-1) as decimal digits: a JSON string, never a number',
    examples: ['1001'],
  },
  PublicId: {
    type: 'string',
    pattern: '^(0|[1-9][0-9]{0,18}|[a-z][a-z0-9]{0,15}_[0-9a-hjkmnp-tv-z]{13})$',
    description:
      "An ID as callers see it (docs/design.md §13): decimal digits below 2^63, or for a tag with a prefix `prefix_` and 13 characters of Crockford's base32 in lower case",
    examples: ['1001', 'ord_00000000000z9'],
  },
  Error: errorBody(HTTP_ERROR_CODES),
  OneId: object({ tag: ref('TagName'), id: ref('PublicId') }),
  IdBatch: object({
    tag: ref('TagName'),
    ids: { type: 'array', items: ref('PublicId'), minItems: 1 },
  }),
  IdRange: object(
    {
      tag: ref('TagName'),
      start: ref('Id'),
      end: ref('Id'),
      shape: ref('ShapeDescriptor'),
      lease: {
        type: 'string',
        pattern: LEASE_KEY,
        description:
          "The key of a return of the range's unserved tail (POST /v1/returns/{tag}); only this answer carries it (and, for a keyed range, a replay by the node that granted it while the range is still its last of the tag; a replay by another node has none)",
      },
    },
    {
      required: ['tag', 'start', 'end', 'shape'],
      description:
        '`start`..`end` inclusive: counter values reserved for the caller alone; the IDs are `shape` applied to them (docs/design.md §13)',
    },
  ),
  RangeReturn: object(
    {
      lease: { type: 'string', pattern: LEASE_KEY, description: "The range answer's `lease`" },
      from: {
        ...ref('Id'),
        description:
          'The first counter value of the range never served: from here to its end goes back',
      },
    },
    { description: 'The unserved tail of the last range the caller leased of the tag' },
  ),
  RangeReturned: {
    oneOf: [
      object(
        { tag: ref('TagName'), returned: ref('Id'), from: ref('Id'), end: ref('Id') },
        {
          description:
            '`returned` IDs `from`..`end` went back to the counter: the next grant starts at `from`',
        },
      ),
      object(
        {
          tag: ref('TagName'),
          returned: { const: '0' },
          reason: { type: 'string', enum: [...RETURN_REFUSALS] },
          message: { type: 'string', minLength: 1 },
        },
        {
          description:
            'Nothing went back (the IDs stay skipped, a gap): unknown_lease (not the last range this node leased of the tag, or returned already), nothing (served out), unsupported (the store takes nothing back), moved (IDs were granted after it), incarnation (the store restarted or failed over), uncertain (the store did not answer)',
        },
      ),
    ],
  },
  ShapeDescriptor: object(
    {
      kind: { type: 'string', enum: [...SHAPE_KINDS] },
      prefix: { type: 'string', pattern: PREFIX_PATTERN.source },
      width: { type: 'integer', minimum: MIN_WIDTH, maximum: ID_BITS },
      key: {
        type: 'string',
        pattern: '^[0-9a-f]{32}$',
        description: 'permute only, and only for a bearer token of KEY_TOKENS',
      },
      regions: { type: 'integer', minimum: 1, maximum: MAX_REGIONS },
      region: { type: 'integer', minimum: 0, maximum: MAX_REGIONS - 1 },
    },
    {
      required: ['kind', 'regions', 'region'],
      description:
        "How counter value c becomes an ID: v = c·regions + region, then the shape's bijection of v, written `prefix_`+base32 when there is a prefix",
    },
  ),
  DecodedId: object(
    {
      tag: ref('TagName'),
      id: ref('PublicId'),
      counter: ref('Id'),
      region: { type: 'integer', minimum: 0, maximum: MAX_REGIONS - 1 },
      regions: { type: 'integer', minimum: 1, maximum: MAX_REGIONS },
      shape: ref('ShapeDescriptorStored'),
      issued: {
        type: 'boolean',
        description: "Whether the counter value is below the tag's next (granted by the store)",
      },
    },
    { required: ['tag', 'id', 'counter', 'region', 'regions', 'shape'] },
  ),
  ShapeDescriptorStored: object(
    {
      kind: { type: 'string', enum: [...SHAPE_KINDS] },
      prefix: { type: 'string', pattern: PREFIX_PATTERN.source },
      width: { type: 'integer', minimum: MIN_WIDTH, maximum: ID_BITS },
    },
    { required: ['kind'], description: "A tag's shape without its key" },
  ),
  Tag: tagSchema(),
  TagList: object({
    tags: { type: 'array', items: ref('Tag') },
    nextAfter: {
      ...nullable(ref('TagName')),
      description: 'The `after` of the next page; null on the last page',
    },
  }),
  SegmentView: object({
    start: ref('Id'),
    end: ref('Id'),
    next: ref('Id'),
    remaining: { type: 'string', pattern: '^[0-9]+$' },
  }),
  NodeState: object(
    {
      current: nullable(ref('SegmentView')),
      next: nullable(ref('SegmentView')),
      nextReady: { type: 'boolean' },
      fetching: { type: 'boolean' },
      step: { type: 'integer', minimum: 1, description: 'The step the next fetch asks for' },
      configuredStep: { type: 'integer', minimum: 1 },
      lastFetchAt: nullable(iso),
      highWater: nullable(ref('Id')),
    },
    { description: "This node's buffers of a segment tag" },
  ),
  TagWithNode: {
    ...tagSchema({ node: nullable(ref('NodeState')) }),
    description:
      'A tag and `node`, which is null before this node served it (and for snowflake tags)',
  },
  DecodedSnowflake: {
    ...object(DECODED),
    properties: {
      ...DECODED,
      note: {
        type: 'string',
        description: "Only for an ID whose timestamp is ahead of this node's clock: by how much",
      },
    },
  },
  Health: object({ status: { const: 'ok' } }),
  Ready: object(
    {
      status: { const: 'ready' },
      serving: {
        type: 'string',
        enum: ['store', 'buffers', 'snowflake'],
        description:
          'What the node serves from: the store (it answers), its buffered IDs or its snowflake worker ID (the store does not answer)',
      },
    },
    { required: ['status'] },
  ),
  StatusTag: object({
    name: ref('TagName'),
    mode: { type: 'string', enum: ['segment', 'snowflake'] },
    shape: {
      ...nullable(ref('ShapeDescriptorStored')),
      description: "The segment tag's shape as its last grant to this node said; null before one",
    },
    regions: nullable({ type: 'integer', minimum: 1, maximum: MAX_REGIONS }),
    issued: { type: 'integer', minimum: 0, description: 'IDs this node issued since start' },
    idsPerSecond: { type: 'number', minimum: 0, description: 'Over the last 5 whole seconds' },
    remaining: nullable({ type: 'string', pattern: '^[0-9]+$' }),
    step: nullable({ type: 'integer', minimum: 1 }),
    configuredStep: nullable({ type: 'integer', minimum: 1 }),
    current: nullable(ref('SegmentView')),
    next: nullable(ref('SegmentView')),
    nextReady: nullable({ type: 'boolean' }),
    fetching: nullable({ type: 'boolean' }),
    lastFetchAt: nullable(iso),
  }),
  WorkerStatus: object(
    { ...WORKER_LABEL, ...WORKER_FIELDS },
    { description: "One worker process's own status: its buffers, lease and store" },
  ),
  NodeIdentity: object({
    id: { type: 'string', minLength: 1, description: 'NODE_ID, or hostname:pid when unset' },
    host: { type: 'string' },
    region: {
      type: 'string',
      pattern: '^[0-9]{1,4}/[0-9]{1,4}$',
      description: "The node's REGION, i/N",
    },
    version: { type: 'string' },
    startedAt: iso,
    workers: {
      type: 'integer',
      minimum: 1,
      description: 'Worker processes the node runs (WORKERS); `workers` lists those that answered',
    },
  }),
  Status: object({
    time: iso,
    ...WORKER_LABEL,
    ...WORKER_FIELDS,
    node: ref('NodeIdentity'),
    workers: {
      type: 'array',
      items: ref('WorkerStatus'),
      description:
        "Every worker of the node, by worker id (one entry without WORKERS); the top-level fields above are the answering worker's",
    },
  }),
};
