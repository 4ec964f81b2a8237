/**
 * The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header) on
 * `GET /v1/ids/{tag}` and `GET /v1/ranges/{tag}` (docs/design.md §5 "Idempotency keys"):
 * read, checked, and turned into the record name the store keeps — a SHA-256 over the
 * caller and the key, so the key itself is never stored, and a key of another caller
 * never matches. The key is never logged either: the request log blanks every header
 * outside its allow-list (observe/logger.ts), this one included.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { IdempotencyKey } from '../allocator/types.js';
import { invalidArgument } from '../core/errors.js';

/** The header, as Node names it (lower case). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** The answer header that says the IDs are the recorded ones again. */
export const REPLAY_HEADER = 'Idempotent-Replayed';

/** The longest key accepted, in characters. */
export const MAX_KEY_LENGTH = 255;

/** What the 400 names when a key breaks the rule. */
export const KEY_RULE = `1 to ${MAX_KEY_LENGTH} printable ASCII characters (space to ~), bare or as a quoted string ("…")`;

const PRINTABLE = /^[\x20-\x7e]+$/;

/** `IDEMPOTENCY_TTL_SECONDS`' default: a day. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;

/** The caller of a service without API_TOKENS: every caller is the same one. */
const ANONYMOUS = 'anonymous';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * Reads a request's Idempotency-Key: undefined without the header, else the record name
 * of (caller, key) and the retention.
 */
export type IdempotencyReader = (headers: IncomingHttpHeaders) => IdempotencyKey | undefined;

/**
 * @param apiTokens whether the service checks bearer tokens: then the caller is the
 *   token (the request passed auth with it), else everyone is one anonymous caller
 * @param ttlSeconds `IDEMPOTENCY_TTL_SECONDS`
 */
export function idempotencyReader(apiTokens: boolean, ttlSeconds: number): IdempotencyReader {
  const ttlMs = ttlSeconds * 1000;
  return (headers) => {
    const raw = headers[IDEMPOTENCY_HEADER];
    if (raw === undefined) return undefined;
    const key = keyOf(Array.isArray(raw) ? raw.join(', ') : raw);
    const caller = apiTokens ? sha256(bearerOf(headers.authorization)) : ANONYMOUS;
    return { record: sha256(`${caller}\n${key}`), ttlMs };
  };
}

/**
 * The key of the header's value: a bare value, or a structured-field string (the draft's
 * form, `"…"` with `\"` and `\\` escapes). @throws IdAllocError INVALID_ARGUMENT naming
 * the rule (never the key: it may be a secret of the caller's)
 */
export function keyOf(raw: string): string {
  // Two headers arrive joined by ', ' (RFC 9110): one key with a comma, the same on a retry.
  let key = raw;
  if (raw.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\["\\])*)"$/.exec(raw);
    if (!m) throw badKey('the quoted Idempotency-Key is not a well-formed string');
    key = m[1]!.replace(/\\(["\\])/g, '$1');
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE.test(key)) {
    throw badKey(`the Idempotency-Key (${key.length} characters) is not allowed`);
  }
  return key;
}

function badKey(why: string) {
  return invalidArgument(`${why}: a key is ${KEY_RULE}`, { header: 'Idempotency-Key' });
}

/** The bearer token of a request that passed auth ('' when none: auth refuses that first). */
function bearerOf(header: string | undefined): string {
  const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1]! : '';
}
