/**
 * The reusable parts of the OpenAPI document (openapi.ts): the error answers, one per
 * status with its body's code limited to what that status means, the parameters (with
 * the configured limits), the headers and the security scheme. The body schemas are in
 * openapi-schemas.ts.
 */
import type { HttpSettings } from '../core/settings.js';
import { ErrorCode } from '../core/errors.js';
import { NOT_FOUND } from './errors.js';
import { SCHEMAS } from './openapi-schemas.js';
import { TAGS_PAGE, TAGS_PAGE_MAX } from './tags.js';

export type Obj = Record<string, unknown>;

export const ref = (kind: string, name: string): Obj => ({ $ref: `#/components/${kind}/${name}` });

/** Headers every answer carries. */
export const COMMON_HEADERS: Obj = {
  'X-Request-Id': ref('headers', 'RequestId'),
  'Cache-Control': ref('headers', 'NoStore'),
};

/**
 * Headers of the ID routes' successful answers: served ahead of express, they make up no
 * request id (one is made only where it is logged), so X-Request-Id is there only when
 * the client sent one.
 */
export const ID_ROUTE_HEADERS: Obj = {
  'X-Request-Id': ref('headers', 'EchoedRequestId'),
  'Cache-Control': ref('headers', 'NoStore'),
};

/**
 * Headers of the answers of the routes that take an Idempotency-Key: a replay says so.
 * `base`: the route's own headers.
 */
export const keyedHeaders = (base: Obj): Obj => ({
  ...base,
  'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
});

/** Error answers: one component per status, its body's code limited to what it means. */
const ERRORS: Readonly<
  Record<string, { status: string; codes: string[]; description: string; headers?: Obj }>
> = {
  BadRequest: {
    status: '400',
    codes: [ErrorCode.INVALID_ARGUMENT],
    description:
      'INVALID_ARGUMENT: a bad tag name or ID, `count`/`size` not an integer in range, an unknown or repeated query parameter, a malformed URL',
  },
  Unauthorized: {
    status: '401',
    codes: [ErrorCode.UNAUTHORIZED],
    description: 'UNAUTHORIZED: API_TOKENS is set and the bearer token is missing or wrong',
    headers: { 'WWW-Authenticate': ref('headers', 'WwwAuthenticate') },
  },
  Forbidden: {
    status: '403',
    codes: [ErrorCode.FORBIDDEN],
    description:
      "FORBIDDEN: a permute tag's range or decode without a bearer token of KEY_TOKENS (it would reveal the key or the counter)",
  },
  TagNotFound: {
    status: '404',
    codes: [ErrorCode.TAG_NOT_FOUND],
    description:
      'TAG_NOT_FOUND: the tag does not exist (tags are never created on the request path)',
  },
  NotFound: {
    status: '404',
    codes: [NOT_FOUND],
    description: 'NOT_FOUND: no such route (also any method but GET/HEAD on a route)',
  },
  Conflict: {
    status: '409',
    codes: [ErrorCode.WRONG_MODE, ErrorCode.WRONG_REGION, ErrorCode.TAG_EXHAUSTED],
    description:
      "WRONG_MODE: the route does not serve the tag's mode; WRONG_REGION: the tag is shared by another number of regions than this node's REGION; TAG_EXHAUSTED: the tag reached its max",
  },
  Unprocessable: {
    status: '422',
    codes: [ErrorCode.IDEMPOTENCY_MISMATCH],
    description:
      'IDEMPOTENCY_MISMATCH: this caller used the Idempotency-Key for the tag with another request (route, `count` or `size`); nothing was taken',
  },
  Internal: {
    status: '500',
    codes: [ErrorCode.INTERNAL],
    description: 'INTERNAL: anything else; the message names the request ID, the cause is logged',
  },
  Unavailable: {
    status: '503',
    codes: [ErrorCode.UNAVAILABLE],
    description:
      'UNAVAILABLE: store unreachable with nothing buffered, clock moved back too far, worker lease lost or fenced, node not ready',
    headers: { 'Retry-After': ref('headers', 'RetryAfter') },
  },
};

/** The status → response map of an operation: `ok` plus the named errors and 500. */
export function responses(okAnswer: Obj, ...errors: (keyof typeof ERRORS)[]): Obj {
  const out: Obj = { '200': okAnswer };
  for (const name of [...errors, 'Internal']) out[ERRORS[name]!.status] = ref('responses', name);
  return out;
}

/** The `components` of the document for `config`'s limits. */
export function components(config: Pick<HttpSettings, 'maxBatch' | 'maxRange'>): Obj {
  return {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'One of the API_TOKENS; needed only when API_TOKENS is set',
      },
    },
    schemas: SCHEMAS,
    parameters: {
      Tag: {
        name: 'tag',
        in: 'path',
        required: true,
        description: 'The tag name',
        schema: ref('schemas', 'TagName'),
      },
      Count: {
        name: 'count',
        in: 'query',
        required: false,
        description: `How many IDs, 1 to MAX_BATCH (${config.maxBatch}); plain decimal digits`,
        schema: { type: 'integer', minimum: 1, maximum: config.maxBatch },
      },
      Size: {
        name: 'size',
        in: 'query',
        required: true,
        description: `How many IDs, 1 to MAX_RANGE (${config.maxRange}); plain decimal digits`,
        schema: { type: 'integer', minimum: 1, maximum: config.maxRange },
      },
      Limit: {
        name: 'limit',
        in: 'query',
        required: false,
        description: `How many tags, 1 to ${TAGS_PAGE_MAX} (default ${TAGS_PAGE}); plain decimal digits`,
        schema: { type: 'integer', minimum: 1, maximum: TAGS_PAGE_MAX, default: TAGS_PAGE },
      },
      After: {
        name: 'after',
        in: 'query',
        required: false,
        description:
          'List the tags named after this one (in name order): the `nextAfter` of the previous page',
        schema: ref('schemas', 'TagName'),
      },
      RequestId: {
        name: 'X-Request-Id',
        in: 'header',
        required: false,
        description:
          'Echoed in the answer and named in the logs when it is 1-128 of A-Za-z0-9_.:@-; otherwise a new UUID is used',
        schema: { type: 'string', examples: ['req-42'] },
      },
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'Makes the request retry-safe (draft-ietf-httpapi-idempotency-key-header): the same key from the same caller (bearer token) for the same tag and request answers the same IDs, from any node, for IDEMPOTENCY_TTL_SECONDS or until the tail of a range is returned (POST /v1/returns/{tag} spends the key); with another request it is refused 422. 1 to 255 printable ASCII characters, bare or as a quoted string. One store round trip per keyed request; never logged',
        schema: { type: 'string', minLength: 1, maxLength: 257, pattern: '^[ -~]+$' },
      },
      Accept: {
        name: 'Accept',
        in: 'header',
        required: false,
        description: '`text/plain` for bare digits; JSON otherwise',
        schema: { type: 'string', examples: ['text/plain'] },
      },
    },
    headers: {
      RequestId: {
        description: "The client's X-Request-Id when it is valid, else a new UUID",
        required: true,
        schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,128}$' },
      },
      EchoedRequestId: {
        description: "The client's X-Request-Id when it sent a valid one",
        required: false,
        schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,128}$' },
      },
      NoStore: {
        description: 'Every answer is new: never cached',
        required: true,
        schema: { const: 'no-store' },
      },
      RetryAfter: {
        description: 'Seconds before a retry is useful',
        required: true,
        schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
      },
      IdempotentReplayed: {
        description:
          'Present (`true`) when the answer is the one recorded under the Idempotency-Key before',
        required: false,
        schema: { const: 'true' },
      },
      WwwAuthenticate: {
        description: 'The scheme the route needs',
        required: true,
        schema: { type: 'string', pattern: '^Bearer' },
      },
    },
    responses: Object.fromEntries(
      Object.entries(ERRORS).map(([name, e]) => [
        name,
        {
          description: e.description,
          headers: { ...COMMON_HEADERS, ...e.headers },
          content: {
            'application/json': {
              // The error body (components/schemas/Error), its code limited to these.
              schema: {
                allOf: [ref('schemas', 'Error')],
                properties: {
                  error: { properties: { code: { type: 'string', enum: e.codes } } },
                },
              },
            },
          },
        },
      ]),
    ),
  };
}
