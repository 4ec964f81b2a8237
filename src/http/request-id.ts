/**
 * Request ids: a client's sane `x-request-id` is echoed, otherwise one is made up, and
 * only where it is used (a logged request, an error answer): a UUID per ID answer would
 * cost more than the ID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A client's `x-request-id` is echoed when it is a plain token of sane length. */
const REQUEST_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** The client's request id when it sent a sane one. */
export function givenRequestId(req: IncomingMessage): string | undefined {
  return saneRequestId(req.headers['x-request-id']);
}

/** An `x-request-id` value when it may be echoed, else undefined. */
export function saneRequestId(given: string | string[] | undefined): string | undefined {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : undefined;
}

/** The request's id (the client's, or a new UUID), also sent as `X-Request-Id`. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const id = givenRequestId(req) ?? randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
