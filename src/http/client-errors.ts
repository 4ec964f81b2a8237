/**
 * Requests Node's HTTP server handles before express sees them get the same JSON error
 * body as every other error, instead of Node's bare status line or no answer at all:
 * what the parser refuses (raw non-ASCII or control bytes in the URL, a malformed request
 * line, oversized headers, a request that never finishes arriving — an HTTP/0.9 request
 * line is one: it ends at the header timeout), an `Expect` other than `100-continue`
 * (417), and `CONNECT` (400: this is no proxy).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errors.js';

const ANSWERS: Readonly<Record<string, readonly [number, string, string]>> = Object.freeze({
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'the request headers are too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request did not arrive in time'],
});

const MALFORMED: readonly [number, string, string] = [
  400,
  'Bad Request',
  'malformed HTTP request: the request line or a header is not valid HTTP (URLs are ASCII: percent-encode anything else)',
];

/** The JSON error body with a status line, as raw bytes for a socket: then the socket ends. */
function endWithError(
  socket: Duplex,
  status: number,
  reason: string,
  code: string,
  message: string,
) {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** Writes a JSON error answer and closes the connection after it. */
export function respondError(res: ServerResponse, status: number, code: string, message: string) {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    Connection: 'close',
  });
  res.end(body);
}

/**
 * Answers on `server`, as `{"error":{"code","message"}}`: parser errors (400, 431, 408),
 * unsupported `Expect` (417 `INVALID_ARGUMENT`) and `CONNECT` (400 `INVALID_ARGUMENT`).
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, message] = ANSWERS[err.code ?? ''] ?? MALFORMED;
    endWithError(socket, status, reason, ErrorCode.INVALID_ARGUMENT, message);
  });
  // Without a listener Node answers 417 with an empty body.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    respondError(
      res,
      417,
      ErrorCode.INVALID_ARGUMENT,
      `Expect: ${shownHeader(req.headers.expect)} is not supported: send the request without it (only 100-continue is understood)`,
    );
  });
  // Without a listener Node drops the connection without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    endWithError(
      socket,
      400,
      'Bad Request',
      ErrorCode.INVALID_ARGUMENT,
      'CONNECT is not supported: this is an ID service, not a proxy',
    );
  });
}

/** A header value as a message may show it: printable ASCII, at most 64 characters. */
function shownHeader(value: string | undefined): string {
  const v = (value ?? '').replace(/[^\x20-\x7e]/g, '?');
  return v.length > 64 ? `${v.slice(0, 64)}…` : v;
}
