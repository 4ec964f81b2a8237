/**
 * Tag names and settings: the rules shared by the admin script, the HTTP routes and
 * the stores (SPEC §2, §3).
 */
import { invalidArgument } from './errors.js';

export const TAG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The largest ID a tag can issue: 2^63 - 1, so IDs fit a signed 64-bit integer. */
export const MAX_ID = 2n ** 63n - 1n;

/** Steps, counts and gaps stay below 2^52 so the Lua scripts handle them exactly. */
export const MAX_SMALL = 2 ** 52;

/** @throws IdAllocError INVALID_ARGUMENT naming the value and the rule */
export function checkTagName(name: string): string {
  if (!TAG_NAME_PATTERN.test(name)) {
    const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
    throw invalidArgument(
      `tag name '${shown}' is not allowed: use 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit`,
      { tag: shown },
    );
  }
  return name;
}

/**
 * Parses a non-negative decimal integer up to {@link MAX_ID} (no sign, no exponent,
 * no spaces). @throws IdAllocError INVALID_ARGUMENT naming `what`
 */
export function parseId(what: string, text: string, min = 0n): bigint {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > MAX_ID || BigInt(text) < min) {
    throw invalidArgument(
      `${what} '${text}' is not allowed: expected an integer from ${min} to ${MAX_ID}`,
    );
  }
  return BigInt(text);
}

/** Parses an integer in [min, max]. @throws IdAllocError INVALID_ARGUMENT naming `what` */
export function parseSmallInt(what: string, text: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalidArgument(
      `${what} '${text}' is not allowed: expected an integer from ${min} to ${max}`,
    );
  }
  return Number(text);
}
