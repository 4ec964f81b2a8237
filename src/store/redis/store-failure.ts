/**
 * How a failed Redis command becomes an error in idalloc's own words (issue 17): the
 * message names what failed (`what`: "the allocation for 'order'") and the class of the
 * failure — unreachable, timed out, refused for now, a script error — and never carries
 * the Redis client's text ("Reached the max retries per request limit…", "Stream isn't
 * writeable…"), which means nothing to a caller and names options they cannot set. That
 * text goes into `details.storeError` and the error's cause, for the log line only.
 */
import { ErrorCode, IdAllocError } from '../../core/errors.js';

/** Replies of a Redis node that cannot take the command now: "try again". */
const REFUSED_FOR_NOW: Readonly<Record<string, string>> = {
  NOREPLICAS: 'not enough replicas',
  READONLY: 'a replica',
  MASTERDOWN: 'a replica without its master',
  LOADING: 'still loading its data',
  BUSY: 'busy running a script',
  OOM: 'out of memory',
  TRYAGAIN: 'moving keys between nodes',
  CLUSTERDOWN: 'the cluster is down',
};

/**
 * Connection failures, each as the reason a message gives: the client's own texts (a
 * list taken from the `new Error(` texts of node_modules/ioredis/built) and the socket
 * errors of Node. ioredis reconnects by itself after every one of them.
 */
const UNREACHABLE: readonly (readonly [RegExp, string | ((m: RegExpExecArray) => string)])[] = [
  [/ECONNREFUSED/, 'connection refused; reconnecting'],
  // client.ts whenReady: the allocation waited for a reconnect that did not come.
  [/not connected within (\d+) ms/, (m) => `not connected within ${m[1]} ms; reconnecting`],
  [/ENOTFOUND|EAI_AGAIN/, 'host name not found; reconnecting'],
  [/EHOSTUNREACH|ENETUNREACH/, 'host unreachable; reconnecting'],
  [/None of startup nodes is available/, 'no cluster node answers; reconnecting'],
  [/Too many Cluster redirections/, 'the cluster kept redirecting; its slots are moving'],
  [/no connected master owns slot/, 'no connected master owns the key now; reconnecting'],
  [/closed for good|Cluster is ended|is disconnecting/, 'the connection is closed'],
  [
    /max retries|Connection is closed|Stream isn't writeable|connection close|is disconnected|isn't ready|ECONNRESET|EPIPE|ECONNABORTED/i,
    'connection lost; reconnecting',
  ],
];

/** Timeouts: the command's, the socket's silence, the connect. */
const TIMED_OUT = /Command timed out|Socket timeout|ETIMEDOUT|^timeout$|timed out/i;

/** The class of a failure, as the docs (docs/errors-and-logs.md) list them. */
export type StoreFailureClass = 'refused' | 'script' | 'answered' | 'timeout' | 'unreachable';

/**
 * Errors of the connection itself (closed, timed out, not writable, failing over) mean
 * "try again" (UNAVAILABLE); a Lua runtime error means a bug or a damaged store (INTERNAL).
 * @param what the operation, with its article: "the allocation for 'order'"
 */
export function storeFailure(err: unknown, what: string): IdAllocError {
  if (err instanceof IdAllocError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const { kind, message } = describe(raw, what);
  if (kind === 'script') {
    return new IdAllocError(ErrorCode.INTERNAL, message, { storeError: raw }, { cause: err });
  }
  return new IdAllocError(
    ErrorCode.UNAVAILABLE,
    message,
    { storeError: raw, failure: kind },
    { cause: err, retryAfterSeconds: 1 },
  );
}

/** The class and our message for the client's text `raw` (exported for the unit test). */
export function describe(raw: string, what: string): { kind: StoreFailureClass; message: string } {
  // A script's error carries the node's refusal too ("NOREPLICAS … script: …, on
  // @user_script:1."): the refusal decides, it means "try again".
  const code = /^([A-Z]+)\b/.exec(raw)?.[1];
  if (code !== undefined && REFUSED_FOR_NOW[code] !== undefined) {
    return {
      kind: 'refused',
      message: `the store refused ${what} for now (${code}: ${REFUSED_FOR_NOW[code]})`,
    };
  }
  if (/user_script|Error running script|ERR .*script/i.test(raw)) {
    return { kind: 'script', message: `a store script failed during ${what} (see the log)` };
  }
  if (code !== undefined && code.length >= 3) {
    // Another reply of the server (WRONGTYPE, NOAUTH, ERR …): its code, the rest logged.
    return { kind: 'answered', message: `the store answered ${what} with ${code} (see the log)` };
  }
  if (TIMED_OUT.test(raw)) {
    const ms = /(\d+) ?ms/.exec(raw)?.[1];
    const after = ms === undefined ? '' : ` after ${ms} ms`;
    return { kind: 'timeout', message: `the store did not answer ${what} (timed out${after})` };
  }
  // Anything else is a failure nobody foresaw: still "try again", its text in the log.
  let reason = 'a client failure; see the log';
  for (const [pattern, words] of UNREACHABLE) {
    const m = pattern.exec(raw);
    if (m === null) continue;
    reason = typeof words === 'string' ? words : words(m);
    break;
  }
  return { kind: 'unreachable', message: `the store did not answer ${what} (${reason})` };
}
