/**
 * Requests Node's HTTP parser refuses before express sees them (raw non-ASCII or control
 * bytes in the URL, oversized headers, a request that never finishes arriving) get the
 * same JSON error body as every other error, instead of Node's bare status line.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../core/errors.js';
import { parserRefusal } from './errors.js';

/** Answers parser errors on `server` with `{"error":{"code":"INVALID_ARGUMENT",…}}`. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, message } = parserRefusal(err.code);
    const body = JSON.stringify({ error: { code: ErrorCode.INVALID_ARGUMENT, message } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}
