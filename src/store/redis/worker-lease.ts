/**
 * Snowflake worker leases and horizons in Redis (docs/design.md §4, §6): the worker-*-2.lua
 * scripts on the general client. The lease `{prefix}worker:{id}` and its horizon
 * `{prefix}worker:{id}:horizon` share a Cluster hash tag, so each script runs on one
 * slot; inspecting a window sends one script per worker ID, all in flight at once.
 */
import type { IdAllocError } from '../../core/errors.js';
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
import { badReply, codeOf, ScriptCode, scriptError, storeFailure } from './replies.js';

/** A reply of `length` decimal strings, as numbers; undefined for any other shape. */
function numbers(reply: ScriptReply, length: number): number[] | undefined {
  if (!Array.isArray(reply) || reply.length !== length) return undefined;
  const out: number[] = [];
  for (const v of reply) {
    if (typeof v !== 'string' || !/^\d{1,16}$/.test(v)) return undefined;
    out.push(Number(v));
  }
  return out;
}

/** The run_id a lease script put last in a reply of `length` ('' for none), or undefined. */
function runIdOf(reply: ScriptReply, length: number): string | undefined {
  if (!Array.isArray(reply) || reply.length !== length) return undefined;
  const last = reply[length - 1];
  return typeof last === 'string' && /^[0-9a-f]{0,64}$/.test(last) ? last : undefined;
}

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
    throw storeFailure(err, 'snowflake layout check');
  }
}

/** Any other negative code is a bug: an INTERNAL error naming it. */
function unexpected(code: number, workerId: number): IdAllocError {
  return scriptError(code, `worker ${workerId}`);
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
    return replies.map((reply, i): WorkerLook => {
      const id = ids[i]!;
      if (codeOf(reply) === ScriptCode.WORKER_DAMAGED) return { id, state: 'damaged' };
      const v = numbers(reply, 2);
      if (!v || v[0]! > 1) throw badReply(`worker-inspect for worker ${id}`, reply);
      return v[0] === 1 ? { id, state: 'held' } : { id, state: 'free', floor: v[1]! };
    });
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
    const code = codeOf(reply);
    if (code === ScriptCode.WORKER_TAKEN) return { kind: 'taken' };
    if (code === ScriptCode.HORIZON_BEHIND) return { kind: 'fenced' };
    if (code === ScriptCode.WORKER_DAMAGED) return { kind: 'damaged' };
    if (code === ScriptCode.WORKER_MOVED) return { kind: 'moved' };
    if (code !== undefined) throw unexpected(code, workerId);
    const runId = runIdOf(reply, 4);
    const v = runId === undefined ? undefined : numbers((reply as string[]).slice(0, 3), 3);
    if (!v || v[2]! > 1) throw badReply(`worker-claim for worker ${workerId}`, reply);
    await this.confirm(conn, epoch, `the claim of snowflake worker ${workerId}`);
    // After the claim, before the first ID: a store that lost its record (restarted
    // empty, FLUSHALL) also lost every lease, so each node minting on it claimed after
    // the loss and passed here; the first one records the layout, any other is refused.
    let recorded: string | undefined;
    try {
      recorded = await this.checkLayout(workerId, req.token, req.layout, v[0]! - 1);
    } catch (err) {
      await this.release(workerId, req.token, v[0]! - 1).catch(() => undefined);
      throw err;
    }
    if (recorded !== undefined) return { kind: 'layout', recorded };
    return {
      kind: 'claimed',
      floor: v[0]!,
      horizon: v[1]!,
      margin: v[2] === 1,
      ...(runId ? { incarnation: runId } : {}),
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
      );
      if (conn instanceof Redis) epoch = connectionEpoch(conn);
    } catch (err) {
      throw storeFailure(err, `the renewal of snowflake worker ${workerId}`);
    }
    const code = codeOf(reply);
    if (code === ScriptCode.NOT_HOLDER) return { kind: 'lost' };
    if (code === ScriptCode.WORKER_DAMAGED) return { kind: 'damaged' };
    if (code !== undefined) throw unexpected(code, workerId);
    const runId = runIdOf(reply, 3);
    const v = runId === undefined ? undefined : numbers((reply as string[]).slice(0, 2), 2);
    if (!v) throw badReply(`worker-renew for worker ${workerId}`, reply);
    await this.confirm(conn, epoch, `the renewal of snowflake worker ${workerId}`);
    // A record lost alone (deleted, evicted) is written back by the running nodes, and a
    // node of another layout that recorded its own meanwhile ends this lease.
    const recorded = await this.checkLayout(workerId, req.token, req.layout, v[0]!);
    if (recorded !== undefined) return { kind: 'layout', recorded };
    return {
      kind: 'renewed',
      horizon: v[0]!,
      floor: v[1] === 0 ? undefined : v[1],
      ...(runId ? { incarnation: runId } : {}),
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
    const code = codeOf(reply);
    if (code === 1) return 'released';
    if (code === ScriptCode.NOT_HOLDER) return 'lost';
    if (code === ScriptCode.WORKER_DAMAGED) return 'damaged';
    throw code === undefined
      ? badReply(`worker-release for worker ${workerId}`, reply)
      : unexpected(code, workerId);
  }
}
