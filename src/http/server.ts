/**
 * The HTTP server the app runs in (service/node.ts: the process, cluster workers and tests), with the limits
 * docs/api.md "Limits and timeouts" documents and JSON answers at its edges
 * (client-errors.ts).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { ErrorCode } from '../core/errors.js';
import { answerClientErrors, respondError } from './client-errors.js';

export const HTTP_LIMITS = Object.freeze({
  /**
   * The request line and headers must arrive within this, ms (Node's default is 60 s).
   * Requests here are small GETs sent at once; a slow one ties up a socket, and an
   * HTTP/0.9 request line (which Node's parser holds waiting for headers) gets its 408
   * after this long.
   */
  headersTimeoutMs: 5_000,
  /** The whole request must arrive within this, ms (Node's default is 300 s). */
  requestTimeoutMs: 15_000,
  /**
   * An idle keep-alive connection is closed after this, ms (Node's default is 5 s):
   * above the 60 s idle timeout of common load balancers and proxies, so that they close
   * first and never send on a socket this server is closing.
   */
  keepAliveTimeoutMs: 65_000,
  /** How often Node checks the two request timeouts, ms (its default is 30 s). */
  checkIntervalMs: 1_000,
});

/**
 * A server for `app` with {@link HTTP_LIMITS}, JSON answers for what Node answers before
 * `app` sees it, and a 400 for requests that are not HTTP/1.x (Node's parser takes an
 * `HTTP/0.9`, `HTTP/2.0` or missing version and would pass it on). Not listening yet.
 */
export function createHttpServer(app: RequestListener): Server {
  const server = createServer(
    {
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      requestTimeout: HTTP_LIMITS.requestTimeoutMs,
      keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs,
    },
    (req, res) => {
      if (req.httpVersionMajor === 1) {
        app(req, res);
        return;
      }
      respondError(
        res,
        400,
        ErrorCode.INVALID_ARGUMENT,
        `HTTP/${req.httpVersion} is not supported: send HTTP/1.1 (or HTTP/1.0)`,
      );
    },
  );
  answerClientErrors(server);
  return server;
}
