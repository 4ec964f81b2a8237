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
import { ErrorCode } from '../core/errors.js';
import { edgeRefusal, parserRefusal } from './errors.js';

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
    const { status, reason, message } = parserRefusal(err.code);
    endWithError(socket, status, reason, ErrorCode.INVALID_ARGUMENT, message);
  });
  // Without a listener Node answers 417 with an empty body.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const { status, message } = edgeRefusal('expect', req.headers.expect);
    respondError(res, status, ErrorCode.INVALID_ARGUMENT, message);
  });
  // Without a listener Node drops the connection without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, message } = edgeRefusal('connect');
    endWithError(socket, status, reason, ErrorCode.INVALID_ARGUMENT, message);
  });
}
