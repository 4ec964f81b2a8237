/**
 * Bearer-token auth for `/v1/*` and the Leaf routes when `API_TOKENS` is set. Tokens are
 * compared as SHA-256 digests with `timingSafeEqual`, against every configured token, so
 * neither the length nor the content of a token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ErrorCode, IdAllocError } from '../core/errors.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * A middleware that lets a request pass only with `Authorization: Bearer <token>` for
 * one of `tokens`; without tokens it lets everything pass. A refusal is 401
 * UNAUTHORIZED with `WWW-Authenticate: Bearer`, answered by the error handler.
 */
export function bearerAuth(tokens: readonly string[] | undefined): RequestHandler {
  if (!tokens || tokens.length === 0) return (_req, _res, next) => next();
  const known = tokens.map(digest);
  return (req, res, next) => {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (m) {
      const given = digest(m[1]!);
      let match = false;
      // No early exit: every request costs the same comparisons.
      for (const k of known) match = timingSafeEqual(given, k) || match;
      if (match) {
        next();
        return;
      }
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="idalloc"');
    next(
      new IdAllocError(
        ErrorCode.UNAUTHORIZED,
        m
          ? 'the bearer token is not valid'
          : 'this route needs an Authorization: Bearer <token> header',
      ),
    );
  };
}
