/**
 * One segment allocation on Redis for {@link RedisStore}: allocate-1 on the allocation
 * connection (for a Cluster, the connection to the master of the tag's slot), its reply
 * read by reply-shapes.ts, and with a replication ack the grant served only once `WAIT`
 * on that same connection confirms it (docs/design.md §8.3).
 */
import { Cluster, type Redis } from 'ioredis';
import type { Grant } from '../../core/store-ports.js';
import {
  allocationConnection,
  connectionEpoch,
  isRedirection,
  refreshSlots,
  type RedisLike,
} from './client.js';
import type { Keys } from './keys.js';
import { allocateReply } from './reply-shapes.js';
import { confirmReplicated } from './replication.js';
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
  let conn: Redis;
  let reply: ScriptReply;
  let epochAtGrant: number;
  const regions = String(a.regions);
  try {
    conn = await allocationConnection(a.alloc, key, a.readyTimeoutMs);
    try {
      reply = await conn.idallocAllocate(key, String(count), exact ? '1' : '0', regions);
    } catch (err) {
      // A redirected command did not run: once, follow the cluster's new slot map.
      if (!(a.alloc instanceof Cluster && isRedirection(err))) throw err;
      await refreshSlots(a.alloc);
      conn = await allocationConnection(a.alloc, key, a.readyTimeoutMs);
      reply = await conn.idallocAllocate(key, String(count), exact ? '1' : '0', regions);
    }
    epochAtGrant = connectionEpoch(conn);
  } catch (err) {
    throw storeFailure(err, `the allocation for '${tag}'`);
  }
  const granted = allocateReply(reply);
  if (!granted.ok) {
    // WRONG_REGION names the tag's count: read after the refusal (nothing was written).
    const tagRegions =
      granted.code === ScriptCode.WRONG_REGION ? await storedRegions(conn, key) : undefined;
    throw scriptError(granted.code, tag, {
      wanted: 'segment',
      mode: 'snowflake',
      tagRegions,
      nodeRegions: a.regions,
    });
  }
  const grant = granted.value;
  if (a.minReplicas > 0) {
    // Not pipelined with the script: a NOSCRIPT there makes ioredis re-run the script
    // outside the pipeline, after the WAIT meant for it.
    const node = conn;
    await confirmReplicated({
      tag,
      grant,
      minReplicas: a.minReplicas,
      waitTimeoutMs: a.waitTimeoutMs,
      wait: (n, ms) => node.wait(n, ms),
      epochAtGrant,
      epochNow: () => connectionEpoch(node),
    });
  }
  return grant;
}

/** The tag's stored region count, for a message ('1' when the hash has none). */
async function storedRegions(conn: Redis, key: string): Promise<string> {
  try {
    return (await conn.hget(key, 'regions')) ?? '1';
  } catch {
    return 'another number of';
  }
}
