/**
 * Snowflake worker leases and horizons in Redis (SPEC §4, §6): the worker-*-2.lua
 * scripts on the general client. The lease `{prefix}worker:{id}` and its horizon
 * `{prefix}worker:{id}:horizon` share a Cluster hash tag, so each script runs on one
 * slot; inspecting a window sends one script per worker ID, all in flight at once.
 */
import { ErrorCode, IdAllocError, ScriptCode, scriptError } from '../../errors.js';
import type {
  ClaimOutcome,
  ClaimRequest,
  RenewOutcome,
  RenewRequest,
  WorkerLeaseStore,
  WorkerLook,
} from '../../allocator/snowflake/lease-store.js';
import type { RedisLike } from './client.js';
import type { Keys } from './keys.js';
import type { ScriptReply } from './scripts.js';
import { storeFailure } from './store.js';

/** Integer replies arrive as strings with `stringNumbers`; accept both. */
function codeOf(reply: unknown): number | undefined {
  if (typeof reply === 'number') return reply;
  if (typeof reply === 'string' && /^-?\d+$/.test(reply)) return Number(reply);
  return undefined;
}

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

function badReply(script: string, workerId: number, reply: unknown): IdAllocError {
  return new IdAllocError(
    ErrorCode.INTERNAL,
    `unexpected reply from ${script} for worker ${workerId}`,
    {
      reply: JSON.stringify(reply),
    },
  );
}

/** Any other negative code is a bug: an INTERNAL error naming it. */
function unexpected(code: number, workerId: number): IdAllocError {
  return scriptError(code, `worker ${workerId}`);
}

export class RedisWorkerLeaseStore implements WorkerLeaseStore {
  constructor(
    private readonly client: RedisLike,
    private readonly keys: Keys,
  ) {}

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
      if (!v || v[0]! > 1) throw badReply('worker-inspect', id, reply);
      return v[0] === 1 ? { id, state: 'held' } : { id, state: 'free', floor: v[1]! };
    });
  }

  async claim(workerId: number, req: ClaimRequest): Promise<ClaimOutcome> {
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocWorkerClaim(
        this.keys.worker(workerId),
        this.keys.workerHorizon(workerId),
        req.token,
        String(req.leaseMs),
        String(Math.floor(req.now)),
        String(req.aheadMs),
        String(req.marginMs),
        String(Math.floor(req.maxWaitMs)),
      );
    } catch (err) {
      throw storeFailure(err, `the claim of snowflake worker ${workerId}`);
    }
    const code = codeOf(reply);
    if (code === ScriptCode.WORKER_TAKEN) return { kind: 'taken' };
    if (code === ScriptCode.HORIZON_BEHIND) return { kind: 'fenced' };
    if (code === ScriptCode.WORKER_DAMAGED) return { kind: 'damaged' };
    if (code !== undefined) throw unexpected(code, workerId);
    const v = numbers(reply, 3);
    if (!v || v[2]! > 1) throw badReply('worker-claim', workerId, reply);
    return { kind: 'claimed', floor: v[0]!, horizon: v[1]!, margin: v[2] === 1 };
  }

  async renew(workerId: number, req: RenewRequest): Promise<RenewOutcome> {
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocWorkerRenew(
        this.keys.worker(workerId),
        this.keys.workerHorizon(workerId),
        req.token,
        String(req.leaseMs),
        String(Math.floor(req.now)),
        String(Math.floor(req.target)),
        String(req.marginMs),
      );
    } catch (err) {
      throw storeFailure(err, `the renewal of snowflake worker ${workerId}`);
    }
    const code = codeOf(reply);
    if (code === ScriptCode.NOT_HOLDER) return { kind: 'lost' };
    if (code === ScriptCode.WORKER_DAMAGED) return { kind: 'damaged' };
    if (code !== undefined) throw unexpected(code, workerId);
    const v = numbers(reply, 2);
    if (!v) throw badReply('worker-renew', workerId, reply);
    return { kind: 'renewed', horizon: v[0]!, floor: v[1] === 0 ? undefined : v[1] };
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
      ? badReply('worker-release', workerId, reply)
      : unexpected(code, workerId);
  }
}
