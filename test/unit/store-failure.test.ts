/**
 * A failed Redis command in idalloc's words (src/store/redis/store-failure.ts): each
 * text the client can fail with — the list below is taken from the `new Error(` texts of
 * node_modules/ioredis/built, with Node's socket errors and the server's refusals —
 * becomes a message that names what failed and the class of the failure, and carries
 * none of the client's words; those stay in `details.storeError` and the cause.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError, errorLogFields } from '../../src/core/errors.js';
import { storeFailure } from '../../src/store/redis/store-failure.js';
import { CLIENT_WORDS } from '../support/client-words.js';

const WHAT = "the allocation for 'order'";

/** Client texts, each with the class and reason its message must give. */
const CASES: readonly (readonly [string, string, RegExp])[] = [
  [
    'Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.',
    'unreachable',
    /did not answer .* \(connection lost; reconnecting\)$/,
  ],
  [
    "Stream isn't writeable and enableOfflineQueue options is false",
    'unreachable',
    /connection lost/,
  ],
  ['Connection is closed.', 'unreachable', /connection lost/],
  ['Command aborted due to connection close', 'unreachable', /connection lost/],
  ['connect ECONNREFUSED 127.0.0.1:6390', 'unreachable', /\(connection refused; reconnecting\)$/],
  ['getaddrinfo ENOTFOUND redis.internal', 'unreachable', /host name not found/],
  ['Cluster is disconnected.', 'unreachable', /connection lost/],
  ["Cluster isn't ready and enableOfflineQueue options is false", 'unreachable', /connection lost/],
  ['Node is disconnected', 'unreachable', /connection lost/],
  ['None of startup nodes is available', 'unreachable', /no cluster node answers/],
  ['Too many Cluster redirections. Last error: MOVED 1 a:1', 'unreachable', /kept redirecting/],
  ['Cluster is ended.', 'unreachable', /the connection is closed\)$/],
  ['the connection is closed for good', 'unreachable', /the connection is closed\)$/],
  ["no connected master owns slot 12 (of 'idalloc:tag:{order}') now", 'unreachable', /master/],
  ['Command timed out', 'timeout', /did not answer .* \(timed out\)$/],
  [
    "Socket timeout. Expecting data, but didn't receive any in 2000ms.",
    'timeout',
    /\(timed out after 2000 ms\)$/,
  ],
  ['connect ETIMEDOUT', 'timeout', /\(timed out\)$/],
  [
    "not connected within 1000 ms (status 'reconnecting')",
    'unreachable',
    /\(not connected within 1000 ms; reconnecting\)$/,
  ],
  [
    "READONLY You can't write against a read only replica.",
    'refused',
    /^the store refused the allocation for 'order' for now \(READONLY: a replica\)$/,
  ],
  [
    'NOREPLICAS Not enough good replicas to write. script: abc, on @user_script:1.',
    'refused',
    /for now \(NOREPLICAS: not enough replicas\)$/,
  ],
  ['LOADING Redis is loading the dataset in memory', 'refused', /LOADING: still loading/],
  ['CLUSTERDOWN The cluster is down', 'refused', /CLUSTERDOWN/],
  [
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'answered',
    /^the store answered the allocation for 'order' with WRONGTYPE \(see the log\)$/,
  ],
  ['something nobody foresaw', 'unreachable', /\(a client failure; see the log\)$/],
];

describe('storeFailure', () => {
  it.each(CASES)('%s → %s, in our words', (raw, kind, shape) => {
    const e = storeFailure(new Error(raw), WHAT);
    expect(e.code).toBe(ErrorCode.UNAVAILABLE);
    expect(e.retryAfterSeconds).toBe(1);
    expect(e.message).toMatch(shape);
    expect(e.message).toContain(WHAT);
    for (const word of CLIENT_WORDS) expect(e.message).not.toContain(word);
    // The client's text is kept for the log line, and the error as the cause.
    expect(e.details).toEqual({ storeError: raw, failure: kind });
    expect((e.cause as Error).message).toBe(raw);
    expect(errorLogFields(e)).toEqual({
      error: { code: 'UNAVAILABLE', message: e.message, storeError: raw },
    });
  });

  it('a Lua runtime error is INTERNAL, its text only in the details', () => {
    const raw = 'ERR user_script:12: attempt to compare nil with number script: abc';
    const e = storeFailure(new Error(raw), WHAT);
    expect(e.code).toBe(ErrorCode.INTERNAL);
    expect(e.message).toBe("a store script failed during the allocation for 'order' (see the log)");
    expect(e.details).toEqual({ storeError: raw });
  });

  it('an IdAllocError passes through as it is', () => {
    const own = new IdAllocError(ErrorCode.TAG_NOT_FOUND, "tag 'x' does not exist");
    expect(storeFailure(own, WHAT)).toBe(own);
  });
});
