/**
 * What the route modules need; built once by `createApp`.
 */
import type { ServerResponse } from 'node:http';
import type { Express, RequestHandler } from 'express';
import { invalidArgument } from '../core/errors.js';
import type { Logger } from 'pino';
import type { IdAllocator } from '../allocator/types.js';
import type { HttpSettings } from '../core/settings.js';
import type { Metrics } from '../observe/metrics/index.js';
import type { TagStore } from '../core/store-ports.js';
import type { Authorize } from './auth.js';
import type { IdempotencyReader } from './idempotency.js';
import type { KeyHolder } from './shape-json.js';
import type { RefusalLog } from './refusals.js';
import type { ReadyState } from './ready.js';
import { pathParam, shown } from './validate.js';

export interface RouteContext {
  readonly allocator: IdAllocator;
  readonly tags: Pick<TagStore, 'getTag' | 'listTags'>;
  readonly metrics: Metrics;
  readonly config: Pick<HttpSettings, 'maxBatch' | 'maxRange'>;
  readonly logger: Logger;
  readonly ready: ReadyState;
  /** Bearer auth for `/v1/*` and the Leaf routes (passes everything without tokens). */
  readonly auth: RequestHandler;
  /** The check behind `auth`, for the lean ID path. */
  readonly authorize: Authorize;
  /** Whether a request's bearer token is one of `KEY_TOKENS` (may see permute keys). */
  readonly keyHolder: KeyHolder;
  /** A request's Idempotency-Key as the allocator takes it (idempotency.ts), or undefined. */
  readonly idempotency: IdempotencyReader;
  /** How refused requests are logged (debug, and a warn line a minute); one per app. */
  readonly refusals: RefusalLog;
}

/** What the request context leaves on `res.locals` for the senders below. */
export interface DrainLocals {
  readonly ready?: { readonly shuttingDown: boolean };
}

/**
 * Once shutdown began, every answer (also of requests that started before) says
 * `Connection: close`, so no client sends another request on a socket about to close.
 */
export function closeIfDraining(res: ServerResponse & { locals?: DrainLocals }): void {
  if (res.locals?.ready?.shuttingDown) res.setHeader('Connection', 'close');
}

/**
 * Sends a 200 body as is: no ETag, never cached (every answer is a new ID). The headers
 * go to `writeHead` as one list, the length included, which skips the header object
 * `setHeader` would build for the answer (most answers set no other header).
 * @param bytes the body's length in bytes, when the caller knows it without counting
 *   (an ASCII body: its `length`; see {@link sendAscii})
 */
export function sendOk(
  res: ServerResponse,
  contentType: string,
  body: string,
  bytes: number = Buffer.byteLength(body),
): void {
  closeIfDraining(res);
  res.writeHead(200, [
    'Content-Type',
    contentType,
    'Cache-Control',
    'no-store',
    'Content-Length',
    String(bytes),
  ]);
  res.end(body);
}

/**
 * {@link sendOk} for a body of ASCII characters only, whose length in bytes is its
 * length: the ID answers (tag names, decimal digits, `prefix_` and base32), where
 * counting the UTF-8 bytes cost as much as the rest of the answer.
 */
export function sendAscii(res: ServerResponse, contentType: string, body: string): void {
  sendOk(res, contentType, body, body.length);
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * Answers 400 INVALID_ARGUMENT for what a `{base}/:param` route cannot match: an empty
 * value, or one with `/` (raw, or `%2F`, which the router decodes) or `..` segments, so
 * that a bad name is named as such instead of being a 404.
 * @param check throws the INVALID_ARGUMENT naming the value (e.g. `checkTagName`)
 * @param empty also refuse `{base}` itself (false where it is a route of its own)
 */
export function refusePaths(
  app: Express,
  base: string,
  auth: RequestHandler,
  check: (value: string) => unknown,
  { empty = true }: { empty?: boolean } = {},
): void {
  const refuse: RequestHandler = (req) => {
    const value = pathParam(req.params.rest);
    check(value);
    throw invalidArgument(`'${shown(value)}' is not allowed here`);
  };
  if (empty) app.get(base, auth, refuse);
  app.get(`${base}/*rest`, auth, refuse);
}
