/**
 * Snowflake worker leases and horizons in Redis (docs/design.md §4, §6): the worker-*-2.lua
 * scripts on the general client. The lease `{prefix}worker:{id}` and its horizon
 * `{prefix}worker:{id}:horizon` share a Cluster hash tag, so each script runs on one
 * slot; inspecting a window sends one script per worker ID, all in flight at once. Their
 * replies are read in worker-replies.ts.
 */
import type {
  ClaimOutcome,
  ClaimRequest,
  RenewOutcome,
  RenewRequest,
  WorkerLeaseStore,
  WorkerLook,
} from '../../core/lease-port.js';
import { Redis } from 'ioredis';
import {
  allocationConnection,
  connectionEpoch,
  trackConnectionEpoch,
  type RedisLike,
} from './client.js';
import { confirmWritten } from './replication.js';
import type { Keys } from './keys.js';
import type { ScriptReply } from './scripts.js';
import { storeFailure } from './replies.js';
import { claimReply, inspectReply, releaseReply, renewReply } from './worker-replies.js';

/**
 * Records the snowflake layout `fingerprint` unless the store holds one (`SET NX`), and
 * returns the one recorded.
 * @throws IdAllocError UNAVAILABLE when the store cannot be reached
 */
export async function recordLayout(
  client: RedisLike,
  keys: Keys,
  fingerprint: string,
): Promise<string> {
  try {
    await client.set(keys.snowflakeLayout, fingerprint, 'NX');
    return (await client.get(keys.snowflakeLayout)) ?? fingerprint;
  } catch (err) {
    throw storeFailure(err, 'the snowflake layout check');
  }
}

/** Replication ack for leases and horizons (the segment allocation's `REDIS_MIN_REPLICAS`). */
export interface LeaseReplication {
  readonly minReplicas: number;
  readonly waitTimeoutMs: number;
}

export class RedisWorkerLeaseStore implements WorkerLeaseStore {
  constructor(
    private readonly client: RedisLike,
    private readonly keys: Keys,
    private readonly replication: LeaseReplication = { minReplicas: 0, waitTimeoutMs: 100 },
  ) {
    if (client instanceof Redis) trackConnectionEpoch(client);
  }

  /**
   * The connection a claim or renewal goes through: with a replication ack, the one to
   * the node owning the worker's slot, so that `WAIT` can follow on it (docs/design.md §8.3).
   */
  private async connection(workerId: number): Promise<RedisLike> {
    if (this.replication.minReplicas === 0) return this.client;
    return allocationConnection(this.client, this.keys.worker(workerId), 1000);
  }

  /**
   * With `minReplicas`, a claimed lease or a raised horizon counts only once that many
   * replicas have it: a lease or horizon a failover could lose would let a second node
   * mint with the same worker ID. Unconfirmed, the step fails (UNAVAILABLE): a claim is
   * retried on another ID (the unconfirmed lease expires), a renewal keeps the horizon it
   * had, so the node stops at it.
   */
  private async confirm(conn: RedisLike, epochAtReply: number, what: string): Promise<void> {
    if (this.replication.minReplicas === 0 || !(conn instanceof Redis)) return;
    await confirmWritten({
      what,
      minReplicas: this.replication.minReplicas,
      waitTimeoutMs: this.replication.waitTimeoutMs,
      wait: (n, ms) => conn.wait(n, ms),
      epochAtWrite: epochAtReply,
      epochNow: () => connectionEpoch(conn),
    });
  }

  async inspect(ids: readonly number[], now: number, marginMs: number): Promise<WorkerLook[]> {
    let replies: ScriptReply[];
    try {
      replies = await Promise.all(
        ids.map((id) =>
          this.client.idallocWorkerInspect(
            this.keys.worker(id),
            this.keys.workerHorizon(id),
            String(Math.floor(now)),
            String(marginMs),
          ),
        ),
      );
    } catch (err) {
      throw storeFailure(err, 'a look at snowflake worker IDs');
    }
    return replies.map((reply, i) => inspectReply(ids[i]!, reply));
  }

  async claim(workerId: number, req: ClaimRequest): Promise<ClaimOutcome> {
    let reply: ScriptReply;
    let conn: RedisLike;
    let epoch = 0;
    try {
      conn = await this.connection(workerId);
      reply = await conn.idallocWorkerClaim(
        this.keys.worker(workerId),
        this.keys.workerHorizon(workerId),
        req.token,
        String(req.leaseMs),
        String(Math.floor(req.now)),
        String(req.aheadMs),
        String(req.marginMs),
        String(Math.floor(req.maxWaitMs)),
      );
      if (conn instanceof Redis) epoch = connectionEpoch(conn);
    } catch (err) {
      throw storeFailure(err, `the claim of snowflake worker ${workerId}`);
    }
    const claimed = claimReply(workerId, reply);
    if (claimed.kind !== 'claimed') return { kind: claimed.kind };
    await this.confirm(conn, epoch, `the claim of snowflake worker ${workerId}`);
    // After the claim, before the first ID: a store that lost its record (restarted
    // empty, FLUSHALL) also lost every lease, so each node minting on it claimed after
    // the loss and passed here; the first one records the layout, any other is refused.
    let recorded: string | undefined;
    try {
      recorded = await this.checkLayout(workerId, req.token, req.layout, claimed.floor - 1);
    } catch (err) {
      await this.release(workerId, req.token, claimed.floor - 1).catch(() => undefined);
      throw err;
    }
    if (recorded !== undefined) return { kind: 'layout', recorded };
    return {
      kind: 'claimed',
      floor: claimed.floor,
      horizon: claimed.horizon,
      margin: claimed.margin,
      ...(claimed.runId ? { incarnation: claimed.runId } : {}),
    };
  }

  async renew(workerId: number, req: RenewRequest): Promise<RenewOutcome> {
    let reply: ScriptReply;
    let conn: RedisLike;
    let epoch = 0;
    try {
      conn = await this.connection(workerId);
      reply = await conn.idallocWorkerRenew(
        this.keys.worker(workerId),
        this.keys.workerHorizon(workerId),
        req.token,
        String(req.leaseMs),
        String(Math.floor(req.now)),
        String(Math.floor(req.target)),
        String(req.marginMs),
        String(Math.floor(req.floor)),
      );
      if (conn instanceof Redis) epoch = connectionEpoch(conn);
    } catch (err) {
      throw storeFailure(err, `the renewal of snowflake worker ${workerId}`);
    }
    const renewed = renewReply(workerId, reply);
    if (renewed.kind !== 'renewed') return { kind: renewed.kind };
    await this.confirm(conn, epoch, `the renewal of snowflake worker ${workerId}`);
    // A record lost alone (deleted, evicted) is written back by the running nodes, and a
    // node of another layout that recorded its own meanwhile ends this lease.
    const recorded = await this.checkLayout(workerId, req.token, req.layout, renewed.horizon);
    if (recorded !== undefined) return { kind: 'layout', recorded };
    return {
      kind: 'renewed',
      horizon: renewed.horizon,
      floor: renewed.floor === 0 ? undefined : renewed.floor,
      ...(renewed.runId ? { incarnation: renewed.runId } : {}),
    };
  }

  /**
   * Records `layout` unless the store holds one; when it holds another, gives the lease
   * back (its horizon settled at `settle`) and returns the one recorded. Not inside the
   * lease scripts: in a Cluster the layout key lies in another slot than the worker's.
   * @throws IdAllocError UNAVAILABLE when the store cannot be reached
   */
  private async checkLayout(
    workerId: number,
    token: string,
    layout: string | undefined,
    settle: number,
  ): Promise<string | undefined> {
    if (layout === undefined) return undefined;
    const recorded = await recordLayout(this.client, this.keys, layout);
    if (recorded === layout) return undefined;
    await this.release(workerId, token, settle).catch(() => undefined);
    return recorded;
  }

  async release(
    workerId: number,
    token: string,
    settle: number,
  ): Promise<'released' | 'lost' | 'damaged'> {
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocWorkerRelease(
        this.keys.worker(workerId),
        this.keys.workerHorizon(workerId),
        token,
        String(Math.max(0, Math.floor(settle))),
      );
    } catch (err) {
      throw storeFailure(err, `the release of snowflake worker ${workerId}`);
    }
    return releaseReply(workerId, reply);
  }
}
