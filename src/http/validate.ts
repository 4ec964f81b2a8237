/**
 * Request validation for the HTTP routes: every value a client sends is checked into a
 * new object (express 5's `req.query` is a getter and its parser turns repeats into
 * arrays), and every refusal is an INVALID_ARGUMENT naming the value and the rule.
 */
import type { Request } from 'express';
import { invalidArgument } from '../core/errors.js';

/** How much of a hostile value an error message repeats. */
const SHOWN = 80;

/** A client value as it may appear in a message: bounded and without control characters. */
export function shown(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what we strip
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > SHOWN ? `${clean.slice(0, SHOWN)}…` : clean;
}

/**
 * The query parameters of a request, each at most once and each one the route knows.
 * @param allowed the parameter names the route accepts
 * @throws IdAllocError INVALID_ARGUMENT for an unknown or repeated parameter
 */
export function readQuery<K extends string>(
  req: { readonly url: string },
  allowed: readonly K[],
): Partial<Record<K, string>> {
  const at = req.url.indexOf('?');
  const out: Partial<Record<K, string>> = {};
  if (at < 0 || at === req.url.length - 1) return out;
  for (const [name, value] of new URLSearchParams(req.url.slice(at + 1))) {
    if (!(allowed as readonly string[]).includes(name)) {
      const accepts = allowed.length === 0 ? 'no query parameters' : allowed.join(', ');
      throw invalidArgument(
        `unknown query parameter '${shown(name)}': this route accepts ${accepts}`,
        { parameter: shown(name) },
      );
    }
    const key = name as K;
    if (out[key] !== undefined) {
      throw invalidArgument(`query parameter '${name}' is given more than once: give it once`, {
        parameter: name,
      });
    }
    out[key] = value;
  }
  return out;
}

/**
 * A count-like parameter: a plain decimal integer in [min, max] (no sign, exponent,
 * fraction or spaces).
 * @throws IdAllocError INVALID_ARGUMENT naming the parameter, the value and the range
 */
export function intParam(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw invalidArgument(
      `${name} '${shown(value)}' is not allowed: expected an integer from ${min} to ${max}`,
      { parameter: name },
    );
  }
  return Number(value);
}

/**
 * `wantsText` for the `Accept` values that need no negotiation (none, any type, exactly
 * `application/json` or `text/plain`); undefined for anything else.
 */
export function plainAccept(accept: string | undefined): boolean | undefined {
  if (accept === undefined || accept === '*/*' || accept === 'application/json') return false;
  if (accept === 'text/plain') return true;
  return undefined;
}

/** True when the client asked for `text/plain` over JSON (`Accept`). */
export function wantsText(req: Request): boolean {
  return (
    plainAccept(req.headers.accept) ??
    req.accepts(['application/json', 'text/plain']) === 'text/plain'
  );
}

/** A path parameter as one string (a `*splat` parameter is rejoined with `/`). */
export function pathParam(value: string | string[] | undefined): string {
  if (Array.isArray(value)) return value.join('/');
  return value ?? '';
}
