/**
 * One hand-back on Redis for {@link RedisStore} (docs/design.md §5 "Hand-back"):
 * handback-1.lua — handback-keyed-2.lua for a range granted under an Idempotency-Key,
 * which deletes the key's record with it — on the allocation connection (for a Cluster,
 * the master of the tag's slot: the record lives in the tag's slot), never resent (that
 * connection has no offline queue and no automatic resend), its reply checked for the
 * shape the script's header promises.
 *
 * No `WAIT` follows, even with `REDIS_MIN_REPLICAS`: a hand-back only lowers `next`, so a
 * replica that missed it holds the higher counter — promoted, it grants above the
 * returned IDs (and the incarnation guard adds the gap): they stay skipped, never twice.
 * Every grant made of the returned IDs afterwards is itself confirmed by `WAIT` before it
 * is served, and replication keeps order, so a replica that has such a grant has the
 * hand-back before it.
 */
import type { Result } from 'ioredis';
import { allocationConnection } from './client.js';
import type { Allocation } from './allocate.js';
import type { HandBack, HandBackOutcome } from '../../core/store-ports.js';
import { badReply, codeOf, scriptError, storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    idallocHandback(
      key: string,
      from: string,
      end: string,
      incarnation: string,
    ): Result<ScriptReply, Context>;
    idallocHandbackKeyed(
      key: string,
      record: string,
      from: string,
      end: string,
      incarnation: string,
    ): Result<ScriptReply, Context>;
  }
}

const ID = /^\d{1,20}$/;

export async function handBack(
  a: Allocation,
  tag: string,
  back: HandBack,
): Promise<HandBackOutcome> {
  const key = a.keys.tag(tag);
  let reply: ScriptReply;
  try {
    const conn = await allocationConnection(a.alloc, key, a.readyTimeoutMs);
    const args = [back.from.toString(), back.end.toString(), back.incarnation] as const;
    reply =
      back.record === undefined
        ? await conn.idallocHandback(key, ...args)
        : await conn.idallocHandbackKeyed(key, a.keys.idempotency(tag, back.record), ...args);
  } catch (err) {
    throw storeFailure(err, `the hand-back for '${tag}'`);
  }
  return handBackReply(tag, reply);
}

/** handback-1 (and -keyed-2): {'returned', old, new}, {'moved', next}, {'incarnation', run_id}, or a code. */
export function handBackReply(tag: string, reply: ScriptReply): HandBackOutcome {
  const code = codeOf(reply);
  if (code !== undefined) throw scriptError(code, tag, { wanted: 'segment', mode: 'snowflake' });
  if (!Array.isArray(reply) || !reply.every((v) => typeof v === 'string')) {
    throw badReply(`hand-back of '${tag}'`, reply);
  }
  const [what, a, b] = reply as string[];
  if (what === 'returned' && reply.length === 3 && ID.test(a ?? '') && ID.test(b ?? '')) {
    return { returned: true };
  }
  if (what === 'moved' && reply.length === 2 && ID.test(a ?? '')) {
    return { returned: false, reason: 'moved', now: a! };
  }
  if (what === 'incarnation' && reply.length === 2 && /^[0-9a-f]{1,64}$/.test(a ?? '')) {
    return { returned: false, reason: 'incarnation', now: a! };
  }
  throw badReply(`hand-back of '${tag}'`, reply);
}
