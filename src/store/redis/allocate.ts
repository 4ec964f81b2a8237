/**
 * One segment allocation on Redis for {@link RedisStore}: allocate-1 on the allocation
 * connection (for a Cluster, the connection to the master of the tag's slot), its reply
 * read by reply-shapes.ts, and with a replication ack the grant served only once `WAIT`
 * on that same connection confirms it (docs/design.md §8.3).
 */
import { Cluster, type Redis } from 'ioredis';
import type { Grant, KeyedGrant, KeyedRequest } from '../../core/store-ports.js';
import {
  allocationConnection,
  connectionEpoch,
  isRedirection,
  refreshSlots,
  type RedisLike,
} from './client.js';
import type { Keys } from './keys.js';
import { allocateKeyedReply, allocateReply, type ScriptOutcome } from './reply-shapes.js';
import { confirmReplicated, confirmWritten } from './replication.js';
import { ScriptCode, scriptError, storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';

/** The allocation connection and the settings an allocation runs with. */
export interface Allocation {
  /** No offline queue, no resend (see client.ts). */
  readonly alloc: RedisLike;
  readonly keys: Keys;
  /** How long to wait for the allocation connection to be (re)connected. */
  readonly readyTimeoutMs: number;
  /** Replicas that must acknowledge a grant (`WAIT`); 0 turns the check off. */
  readonly minReplicas: number;
  /** How long `WAIT` may block. */
  readonly waitTimeoutMs: number;
  /** The node's region count (`REGION=i/N`: N): a tag of another count is refused. */
  readonly regions: number;
}

export async function allocate(
  a: Allocation,
  tag: string,
  count: number,
  exact: boolean,
): Promise<Grant> {
  const key = a.keys.tag(tag);
  const regions = String(a.regions);
  const ran = await onTagSlot(a, tag, key, (conn) =>
    conn.idallocAllocate(key, String(count), exact ? '1' : '0', regions),
  );
  const grant = await refusedOr(a, tag, key, ran.conn, allocateReply(ran.reply));
  await confirm(a, tag, ran, grant);
  return grant;
}

/**
 * A grant recorded under an Idempotency-Key (allocate-keyed-2), or the recorded one
 * replayed. A fresh grant is confirmed by `WAIT` as any grant (a failure discards it);
 * a replay too, since the script wrote its record again and the `WAIT` then covers the
 * first grant: one not confirmed is refused UNAVAILABLE, with nothing to discard (the
 * grant belongs to the first request, and its line is in that node's grant log).
 */
export async function allocateKeyed(
  a: Allocation,
  tag: string,
  req: KeyedRequest,
): Promise<KeyedGrant> {
  const key = a.keys.tag(tag);
  const record = a.keys.idempotency(tag, req.record);
  const ran = await onTagSlot(a, tag, key, (conn) =>
    conn.idallocAllocateKeyed(
      key,
      record,
      String(req.count),
      String(a.regions),
      req.params,
      String(req.region),
      String(req.ttlMs),
    ),
  );
  const grant = await refusedOr(a, tag, key, ran.conn, allocateKeyedReply(ran.reply), req.params);
  if (!grant.replay) {
    await confirm(a, tag, ran, grant);
  } else if (a.minReplicas > 0) {
    const node = ran.conn;
    await confirmWritten({
      what: `the replay of ${grant.start}..${grant.end} of tag '${tag}'`,
      minReplicas: a.minReplicas,
      waitTimeoutMs: a.waitTimeoutMs,
      wait: (n, ms) => node.wait(n, ms),
      epochAtWrite: ran.epochAtGrant,
      epochNow: () => connectionEpoch(node),
    });
  }
  return grant;
}

interface Ran {
  readonly conn: Redis;
  readonly reply: ScriptReply;
  readonly epochAtGrant: number;
}

/** Runs a script on the allocation connection of the tag's slot (a redirection followed once). */
async function onTagSlot(
  a: Allocation,
  tag: string,
  key: string,
  run: (conn: Redis) => Promise<ScriptReply>,
): Promise<Ran> {
  try {
    let conn = await allocationConnection(a.alloc, key, a.readyTimeoutMs);
    let reply: ScriptReply;
    try {
      reply = await run(conn);
    } catch (err) {
      // A redirected command did not run: once, follow the cluster's new slot map.
      if (!(a.alloc instanceof Cluster && isRedirection(err))) throw err;
      await refreshSlots(a.alloc);
      conn = await allocationConnection(a.alloc, key, a.readyTimeoutMs);
      reply = await run(conn);
    }
    return { conn, reply, epochAtGrant: connectionEpoch(conn) };
  } catch (err) {
    throw storeFailure(err, `the allocation for '${tag}'`);
  }
}

/** The grant, or the script's refusal thrown as a typed error. */
async function refusedOr<G>(
  a: Allocation,
  tag: string,
  key: string,
  conn: Redis,
  outcome: ScriptOutcome<G>,
  params?: string,
): Promise<G> {
  if (outcome.ok) return outcome.value;
  // WRONG_REGION names the tag's count: read after the refusal (nothing was written).
  const tagRegions =
    outcome.code === ScriptCode.WRONG_REGION ? await storedRegions(conn, key) : undefined;
  throw scriptError(outcome.code, tag, {
    wanted: 'segment',
    mode: 'snowflake',
    tagRegions,
    nodeRegions: a.regions,
    ...(params === undefined ? {} : { params }),
  });
}

/** With a replication ack, the grant is served only once `WAIT` confirms it. */
async function confirm(a: Allocation, tag: string, ran: Ran, grant: Grant): Promise<void> {
  if (a.minReplicas <= 0) return;
  // Not pipelined with the script: a NOSCRIPT there makes ioredis re-run the script
  // outside the pipeline, after the WAIT meant for it.
  const node = ran.conn;
  await confirmReplicated({
    tag,
    grant,
    minReplicas: a.minReplicas,
    waitTimeoutMs: a.waitTimeoutMs,
    wait: (n, ms) => node.wait(n, ms),
    epochAtGrant: ran.epochAtGrant,
    epochNow: () => connectionEpoch(node),
  });
}

/** The tag's stored region count, for a message ('1' when the hash has none). */
async function storedRegions(conn: Redis, key: string): Promise<string> {
  try {
    return (await conn.hget(key, 'regions')) ?? '1';
  } catch {
    return 'another number of';
  }
}
