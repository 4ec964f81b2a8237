/**
 * The one place an error becomes an HTTP answer (docs/design.md §2): every error body is
 * `{"error":{"code","message"}}`, INTERNAL errors are logged with their stack and never
 * sent, UNAVAILABLE carries `Retry-After`.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ErrorCode, IdAllocError, storeErrorOf } from '../core/errors.js';
import { censorUrl } from '../observe/logger.js';
import { closeIfDraining } from './context.js';
import { refusalCode, type RefusalLog } from './refusals.js';
import { shown } from './validate.js';

/** The code of a request no route matches (HTTP only; the domain never raises it). */
export const NOT_FOUND = 'NOT_FOUND';

/** Status of each code a client can see; anything else is 500 INTERNAL. */
const STATUS: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.TAG_NOT_FOUND]: 404,
  [ErrorCode.WRONG_MODE]: 409,
  [ErrorCode.WRONG_REGION]: 409,
  [ErrorCode.TAG_EXHAUSTED]: 409,
  // draft-ietf-httpapi-idempotency-key-header: a key reused for another request.
  [ErrorCode.IDEMPOTENCY_MISMATCH]: 422,
  [ErrorCode.UNAVAILABLE]: 503,
});

/**
 * The answer to a request Node's HTTP parser refused before express saw it (its error
 * code, e.g. HPE_HEADER_OVERFLOW): status, reason phrase and message, code INVALID_ARGUMENT.
 */
export function parserRefusal(code: string | undefined): {
  status: number;
  reason: string;
  message: string;
} {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        message: 'the request headers are too large',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        message: 'the request did not arrive in time',
      };
    default:
      return {
        status: 400,
        reason: 'Bad Request',
        message:
          'malformed HTTP request: the request line or a header is not valid HTTP (URLs are ASCII: percent-encode anything else)',
      };
  }
}

/**
 * What the server answers, before any route, to an `Expect` other than `100-continue`
 * (417) and to `CONNECT` (400: this is no proxy).
 */
export function edgeRefusal(
  kind: 'expect' | 'connect',
  header?: string,
): { status: number; reason: string; message: string } {
  if (kind === 'expect') {
    return {
      status: 417,
      reason: 'Expectation Failed',
      message: `Expect: ${shownHeader(header)} is not supported: send the request without it (only 100-continue is understood)`,
    };
  }
  return {
    status: 400,
    reason: 'Bad Request',
    message: 'CONNECT is not supported: this is an ID service, not a proxy',
  };
}

/** A header value as a message may show it: printable ASCII, at most 64 characters. */
function shownHeader(value: string | undefined): string {
  const v = (value ?? '').replace(/[^\x20-\x7e]/g, '?');
  return v.length > 64 ? `${v.slice(0, 64)}…` : v;
}

export interface HttpError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  /** True when the cause is a bug or an unknown failure: log the stack, hide the message. */
  readonly internal: boolean;
}

/** What a thrown value means for the client. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof IdAllocError) {
    const status = STATUS[err.code];
    if (status === undefined) return internalError();
    if (err.code === ErrorCode.UNAVAILABLE) {
      const retryAfterSeconds = Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1));
      return { status, code: err.code, message: err.message, retryAfterSeconds, internal: false };
    }
    return { status, code: err.code, message: err.message, internal: false };
  }
  // The router marks an undecodable path parameter (a bad % escape) with status 400.
  if (err instanceof URIError || statusOf(err) === 400) {
    return {
      status: 400,
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'malformed URL: a % escape does not decode to UTF-8 text',
      internal: false,
    };
  }
  return internalError();
}

function internalError(): HttpError {
  return { status: 500, code: ErrorCode.INTERNAL, message: 'internal error', internal: true };
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

/** Writes the error body; also used for answers that are not thrown (404, 401, 503). */
export function sendError(res: ServerResponse, e: Omit<HttpError, 'internal'>): void {
  const body = JSON.stringify({ error: { code: e.code, message: e.message } });
  closeIfDraining(res);
  res.statusCode = e.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  if (e.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(e.retryAfterSeconds));
  res.end(body);
}

/** Marks a response so the request log says what went wrong. */
export interface ErrorLocals {
  /** `storeError`: the store client's own text, for the log line only (never sent). */
  error?: { code: string; message: string; storeError?: string };
}

/** What an error answer and its log line say about the request. */
export interface FailedRequest {
  readonly id: string;
  readonly method: string;
  /** The URL as the client sent it (shown bounded, credentials censored, in the log). */
  readonly url: string;
}

/**
 * Answers `err` on `res`: the one way a thrown error becomes an answer, for the express
 * error handler and the lean ID path alike. INTERNAL errors name the request id instead
 * of their cause. Logs one line unless `logged` (pino-http logs the request itself, reading
 * `res.err` and `locals.error`); refusals go through `refusals` (debug, a warn a minute).
 */
export function answerError(
  logger: Logger,
  refusals: RefusalLog,
  req: FailedRequest,
  res: ServerResponse & { locals?: ErrorLocals; err?: Error },
  err: unknown,
  logged: boolean,
): void {
  const e = toHttpError(err);
  const message = e.internal ? `internal error (request ${req.id})` : e.message;
  const storeError = e.internal ? undefined : storeErrorOf(err);
  if (res.locals) {
    res.locals.error = {
      code: e.code,
      message,
      ...(storeError === undefined ? {} : { storeError }),
    };
  }
  if (e.internal) res.err = err instanceof Error ? err : new Error(String(err));
  sendError(res, { ...e, message });
  if (!logged) logFailure(logger, refusals, req, res, e, err, storeError);
}

/**
 * The central error handler. Requests that went through pino-http are logged there (it
 * reads `res.err`); the hot routes skip pino-http, so their errors are logged here.
 */
export function errorHandler(logger: Logger, refusals: RefusalLog): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a body: let express end the connection.
      next(err);
      return;
    }
    const failed = { id: String(req.id), method: req.method, url: req.originalUrl };
    answerError(logger, refusals, failed, res, err, Boolean(req.log));
  };
}

/**
 * One line for a failed request on a route pino-http does not log: a bug at error with
 * its stack; a refusal (400, 401, 404, 409, an expected 503) at debug, with a line a
 * minute per kind at warn (error for 503) without a stack (see refusals.ts).
 */
function logFailure(
  logger: Logger,
  refusals: RefusalLog,
  req: FailedRequest,
  res: ServerResponse & { locals?: ErrorLocals },
  e: HttpError,
  err: unknown,
  storeError: string | undefined,
): void {
  const error = { code: e.code, message: e.message, ...(storeError ? { storeError } : {}) };
  const line = {
    req: { id: req.id, method: req.method, url: shown(censorUrl(req.url)) },
    res: { statusCode: res.statusCode },
    ...(e.internal ? { err } : { error }),
  };
  const msg = e.status >= 500 ? 'request failed' : 'request refused';
  if (e.internal) logger.error(line, msg);
  else if (refusalCode(res) === undefined) logger.warn(line, msg);
  else {
    const decided = refusals.next(e.status);
    if (decided.level === 'debug') logger.debug(line, msg);
    else logger[decided.level]({ ...line, refusalsLeftOut: decided.leftOut }, msg);
  }
}

/** Unknown routes: 404 NOT_FOUND as JSON. */
export const notFound: RequestHandler = (req, res) => {
  const message = `no route ${req.method} ${shown(req.path)}`;
  (res.locals as ErrorLocals).error = { code: NOT_FOUND, message };
  sendError(res, { status: 404, code: NOT_FOUND, message });
};
