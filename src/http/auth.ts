/**
 * Bearer-token auth for `/v1/*` and the Leaf routes when `API_TOKENS` is set. Tokens are
 * compared as SHA-256 digests with `timingSafeEqual`, against every configured token, so
 * neither the length nor the content of a token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ErrorCode, IdAllocError } from '../core/errors.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** Checks an `Authorization` header: undefined to let the request pass, else the refusal. */
export type Authorize = (header: string | undefined) => IdAllocError | undefined;

/** The `WWW-Authenticate` value sent with every 401. */
export const AUTH_CHALLENGE = 'Bearer realm="idalloc"';

/**
 * The check behind {@link bearerAuth} (and the lean ID path): lets a request pass only
 * with `Authorization: Bearer <token>` for one of `tokens`; without tokens everything
 * passes. A refusal is 401 UNAUTHORIZED.
 */
export function bearerCheck(tokens: readonly string[] | undefined): Authorize {
  if (!tokens || tokens.length === 0) return () => undefined;
  const known = tokens.map(digest);
  return (header) => {
    const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (m) {
      const given = digest(m[1]!);
      let match = false;
      // No early exit: every request costs the same comparisons.
      for (const k of known) match = timingSafeEqual(given, k) || match;
      if (match) return undefined;
    }
    return new IdAllocError(
      ErrorCode.UNAUTHORIZED,
      m
        ? 'the bearer token is not valid'
        : 'this route needs an Authorization: Bearer <token> header',
    );
  };
}

/**
 * A middleware over {@link bearerCheck} (of `tokens`, or the check given): a refusal gets
 * `WWW-Authenticate: Bearer` and is answered by the error handler.
 */
export function bearerAuth(tokens: readonly string[] | undefined | Authorize): RequestHandler {
  const check = typeof tokens === 'function' ? tokens : bearerCheck(tokens);
  return (req, res, next) => {
    const refused = check(req.headers.authorization);
    if (!refused) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', AUTH_CHALLENGE);
    next(refused);
  };
}
