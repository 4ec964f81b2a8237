/**
 * The snowflake generator (docs/design.md §6): time-ordered IDs from a logical clock, a sequence
 * per millisecond and a worker ID, either pinned (`SNOWFLAKE_WORKER_ID`, one node only)
 * or leased from a store with the horizon fence ({@link WorkerLease}).
 *
 * - `ts = max(last, now)`: a clock that moved back by up to `maxBackwardMs` is waited
 *   out; further back is refused (UNAVAILABLE with Retry-After) and reported.
 * - Sequence exhausted within a millisecond: the next millisecond, by reading the clock
 *   until it turns over (at most {@link SPIN_LIMIT_MS} of real time); only a clock that
 *   does not turn over by then is slept on.
 * - Leased: only timestamps from the grant's floor up to the horizon the store confirmed.
 * - IDs strictly increase within a process, across worker changes too.
 * - `next()` answers synchronously unless it has to wait.
 */
import { invalidArgument, unavailable } from '../../core/errors.js';
import { silentLog, systemClock, type Clock, type Log } from '../../core/time-and-log.js';
import type { AllocatorObserver, Readiness } from '../types.js';
import type { DecodedSnowflake } from '../../core/ids.js';
import type { GrantRecorder } from '../../core/grant-log.js';
import {
  DEFAULT_DECODE_TOLERANCE_MS,
  decodeSnowflake,
  encodeSnowflake,
  layoutFingerprint,
  runOutWarning,
  type SnowflakeLayout,
} from './layout.js';
import { WorkerLease, type Schedule, type WorkerGrant, type WorkerLeaseOptions } from './lease.js';
import type { WorkerLeaseStore } from '../../core/lease-port.js';
import type { Region } from '../../core/shape.js';
import { checkPinnedWorker } from './region-block.js';

/** Waits `ms` milliseconds (injected: tests advance a fake clock instead). */
export type Sleep = (ms: number) => Promise<void>;

export const timerSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SnowflakeGeneratorOptions {
  readonly layout: SnowflakeLayout;
  /** A pinned worker ID (`SNOWFLAKE_WORKER_ID`): no lease, no fence; one node only. */
  readonly workerId?: number;
  /** Where worker IDs are leased (required unless `workerId` is given). */
  readonly leaseStore?: WorkerLeaseStore;
  /** `SNOWFLAKE_LEASE_MS`. @default 30000 */
  readonly leaseMs?: number;
  /** Lease tuning beyond its length (margin, window); see {@link WorkerLeaseOptions}. */
  readonly lease?: Pick<WorkerLeaseOptions, 'marginMs' | 'windowSize' | 'random' | 'newToken'>;
  /** `MAX_BACKWARD_MS`. @default 5 */
  readonly maxBackwardMs?: number;
  /** Clock skew between nodes a decoded ID's note takes for granted. @default 60000 */
  readonly decodeToleranceMs?: number;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** Monotonic milliseconds that bound the overflow spin. @default performance.now */
  readonly monotonic?: () => number;
  readonly schedule?: Schedule;
  /** Only `clockBackwards` is called here; the facade reports `idsIssued`. */
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  /** The grant log for worker claims and horizons. @default lines into `log` */
  readonly grants?: GrantRecorder;
  /**
   * The node's region (`REGION=i/N`): worker IDs only from region i's block of
   * `[0, 2^workerBits)` (region-block.ts); a pinned `workerId` outside it is refused.
   * @default 0/1 (every worker ID)
   */
  readonly region?: Region;
}

/**
 * How long (real, monotonic time) a sequence overflow reads the clock for the next
 * millisecond before it sleeps instead. Longer than a millisecond: a working clock always
 * turns over within it, so a fast caller never loses the next millisecond to a timer
 * (a `setTimeout(1)` takes 1 ms or more, which halved a direct caller's rate when a
 * fixed count of reads ran out first). Only a clock that stands still is slept on.
 */
const SPIN_LIMIT_MS = 2;
/** Clock reads between two looks at the monotonic time while spinning. */
const SPIN_CHECK_EVERY = 64;
/** Waits in a row before a request gives up (a clock that never catches up). */
const MAX_WAITS = 1000;

const PINNED_EPOCH = 0;

export class SnowflakeGenerator {
  readonly layout: SnowflakeLayout;
  private readonly lease: WorkerLease | undefined;
  private readonly pinned: WorkerGrant | undefined;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly monotonic: () => number;
  private readonly observer: AllocatorObserver;
  private readonly log: Log;
  private readonly maxBackwardMs: number;
  private readonly decodeToleranceMs: number;

  private state: 'new' | 'running' | 'closed' = 'new';
  /** The highest timestamp issued (Unix ms), across grants. */
  private lastTs = -1;
  private seq = 0;
  /** The grant epoch the sequence belongs to. */
  private seqEpoch = -1;
  /** encode(lastTs, worker, 0), so each ID costs one BigInt addition. */
  private base = 0n;

  constructor(opts: SnowflakeGeneratorOptions) {
    this.layout = opts.layout;
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? timerSleep;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.observer = opts.observer ?? {};
    this.log = opts.log ?? silentLog;
    this.maxBackwardMs = opts.maxBackwardMs ?? 5;
    this.decodeToleranceMs = opts.decodeToleranceMs ?? DEFAULT_DECODE_TOLERANCE_MS;
    if (opts.workerId !== undefined) {
      const max = this.layout.workerCount - 1;
      if (!Number.isInteger(opts.workerId) || opts.workerId < 0 || opts.workerId > max) {
        throw invalidArgument(
          `snowflake worker ID ${opts.workerId} is not allowed: expected an integer from 0 to ${max} (${this.layout.workerBits} worker bits)`,
        );
      }
      if (opts.region !== undefined)
        checkPinnedWorker(opts.workerId, opts.region, this.layout.workerCount);
      const grant = { workerId: opts.workerId, floor: 0, horizon: Infinity, confirmedAt: 0 };
      this.pinned = Object.freeze({ ...grant, epoch: PINNED_EPOCH });
    } else if (opts.leaseStore) {
      this.lease = new WorkerLease({
        ...opts.lease,
        store: opts.leaseStore,
        workerCount: this.layout.workerCount,
        ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
        clock: this.clock,
        ...(opts.schedule ? { schedule: opts.schedule } : {}),
        log: this.log,
        ...(opts.grants ? { grants: opts.grants } : {}),
        layout: layoutFingerprint(this.layout),
        ...(opts.region === undefined ? {} : { region: opts.region }),
      });
    } else {
      throw invalidArgument('a snowflake generator needs a pinned workerId or a leaseStore');
    }
  }

  /** The worker ID held now (undefined while none is). */
  get workerId(): number | undefined {
    return (this.pinned ?? this.lease?.current())?.workerId;
  }

  /**
   * The worker ID held now and its fence, for the status page: `floor` the first and
   * `horizon` the last timestamp (Unix ms) it may use; a pinned worker ID has no fence
   * (floor 0, horizon Infinity). Undefined while none is held.
   */
  get fence():
    | {
        readonly workerId: number;
        readonly floor: number;
        readonly horizon: number;
        readonly pinned: boolean;
      }
    | undefined {
    const g = this.grant();
    if (!g) return undefined;
    return {
      workerId: g.workerId,
      floor: g.floor,
      horizon: g.horizon,
      pinned: this.pinned !== undefined,
    };
  }

  /**
   * Starts issuing: warns when the timestamp field runs out within a year, and with a
   * lease, claims a worker ID (resolves after the first attempt, held or not; readiness
   * says which) and keeps it renewed until {@link close}.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    const warning = runOutWarning(this.layout, this.clock.now());
    if (warning) this.log.warn({ runsOutAt: this.layout.runsOutAt }, warning);
    if (this.pinned) {
      this.log.info(
        { workerId: this.pinned.workerId },
        'snowflake worker ID pinned (SNOWFLAKE_WORKER_ID): no lease, so one node only',
      );
    }
    await this.lease?.start();
  }

  /** Stops issuing, then releases the worker lease (settling its horizon at the last ID). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.lease?.close(this.lastTs);
  }

  /** The next ID; a bigint at once unless it has to wait. @throws IdAllocError UNAVAILABLE */
  next(): bigint | Promise<bigint> {
    const r = this.attempt();
    return typeof r === 'bigint' ? r : this.nextAfter(r);
  }

  /** `count` IDs, ascending; synchronous unless it has to wait. */
  nextBatch(count: number): bigint[] | Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw invalidArgument(`count ${count} is not allowed: expected an integer of at least 1`);
    }
    const ids: bigint[] = [];
    while (ids.length < count) {
      const r = this.attempt();
      if (typeof r !== 'bigint') return this.batchAfter(ids, count, r);
      ids.push(r);
    }
    return ids;
  }

  /** Takes an ID of this layout apart. @throws IdAllocError INVALID_ARGUMENT */
  decode(id: string): DecodedSnowflake {
    return decodeSnowflake(this.layout, id, this.clock.now(), this.decodeToleranceMs);
  }

  /** Whether IDs can be issued now, and why not. */
  readiness(): Readiness {
    if (this.state === 'new')
      return { ready: false, reason: 'the snowflake generator has not started' };
    if (this.state === 'closed')
      return { ready: false, reason: 'the snowflake generator is closed' };
    const now = this.clock.now();
    if (now > this.layout.lastTimestampMs) {
      return { ready: false, reason: runOutWarning(this.layout, now) ?? 'timestamp field ran out' };
    }
    const g = this.grant();
    if (!g) return { ready: false, reason: this.lease?.reason ?? 'no worker ID is held' };
    // Held, but from a store that is gone: nothing more is minted under it.
    if (this.lease && !this.lease.storeUsable()) return { ready: false, reason: goneReason(g) };
    if (now + this.maxBackwardMs < g.floor) return { ready: false, reason: fencedReason(g, now) };
    if (now > g.horizon) return { ready: false, reason: this.expiredReason(g) };
    return { ready: true };
  }

  private grant(): WorkerGrant | undefined {
    return this.pinned ?? this.lease?.current();
  }

  /**
   * Issues one ID, or says how long to wait first (ms). Synchronous and so atomic: no two
   * callers can interleave inside it.
   */
  private attempt(): bigint | number {
    if (this.state !== 'running') {
      throw unavailable(
        this.state === 'new'
          ? 'the snowflake generator has not started'
          : 'the snowflake generator is closed',
      );
    }
    const g = this.grant();
    if (!g)
      throw unavailable(
        `no snowflake worker ID is held: ${this.lease?.reason ?? 'not claimed yet'}`,
      );
    let now = this.clock.now();
    if (now < this.lastTs) {
      const back = this.lastTs - now;
      if (back > this.maxBackwardMs) {
        this.observer.clockBackwards?.('refused');
        this.log.error(
          { backwardMs: back },
          'clock moved backwards beyond MAX_BACKWARD_MS; refusing snowflake IDs',
        );
        throw unavailable(
          `the clock moved backwards by ${back} ms (more than MAX_BACKWARD_MS=${this.maxBackwardMs}); refusing snowflake IDs until it catches up`,
          Math.max(1, Math.ceil(back / 1000)),
        );
      }
      this.observer.clockBackwards?.('waited');
      return back;
    }
    if (now < g.floor) {
      const wait = g.floor - now;
      if (wait <= this.maxBackwardMs) return wait;
      throw unavailable(fencedReason(g, now), Math.max(1, Math.ceil(wait / 1000)));
    }
    if (g.epoch !== this.seqEpoch) {
      // A new grant continues strictly after the last timestamp: IDs keep increasing.
      this.seqEpoch = g.epoch;
      this.seq = this.layout.maxSequence;
    }
    let seq = 0;
    if (now === this.lastTs) {
      if (this.seq < this.layout.maxSequence) seq = this.seq + 1;
      else {
        now = this.spinPast(this.lastTs);
        if (now <= this.lastTs) return 1;
      }
    }
    if (now > g.horizon) throw unavailable(this.expiredReason(g));
    if (now > this.layout.lastTimestampMs || now < this.layout.epochMs) {
      throw unavailable(
        runOutWarning(this.layout, now) ??
          `the clock reads ${new Date(now).toISOString()}, before the snowflake epoch ${new Date(this.layout.epochMs).toISOString()}`,
        3600,
      );
    }
    if (now !== this.lastTs) {
      // A new millisecond: the store the lease lives in must still be there. An embedded
      // file deleted or replaced lets another process lease this worker ID from a new
      // file, whose first timestamp lies above this one (docs/design.md §6).
      if (this.lease && !this.lease.storeUsable()) throw unavailable(goneReason(g), 10);
      this.base = encodeSnowflake(this.layout, now, g.workerId, 0);
      this.lastTs = now;
    }
    this.seq = seq;
    return seq === 0 ? this.base : this.base + BigInt(seq);
  }

  /**
   * Reads the clock until it passes `ts`, for at most {@link SPIN_LIMIT_MS} of real time
   * (then gives up: the caller sleeps 1 ms). The clock is read once more after the limit,
   * so a clock that turned over within the limit is always seen.
   */
  private spinPast(ts: number): number {
    const deadline = this.monotonic() + SPIN_LIMIT_MS;
    for (;;) {
      for (let i = 0; i < SPIN_CHECK_EVERY; i++) {
        const now = this.clock.now();
        if (now > ts) return now;
      }
      if (this.monotonic() >= deadline) {
        const now = this.clock.now();
        return now > ts ? now : ts;
      }
    }
  }

  private async nextAfter(wait: number): Promise<bigint> {
    for (let i = 0; i < MAX_WAITS; i++) {
      await this.sleep(wait);
      const r = this.attempt();
      if (typeof r === 'bigint') return r;
      wait = r;
    }
    throw unavailable('the clock did not catch up with the last snowflake timestamp');
  }

  private async batchAfter(ids: bigint[], count: number, wait: number): Promise<bigint[]> {
    ids.push(await this.nextAfter(wait));
    while (ids.length < count) {
      const r = this.attempt();
      ids.push(typeof r === 'bigint' ? r : await this.nextAfter(r));
    }
    return ids;
  }

  private expiredReason(g: WorkerGrant): string {
    const why = this.lease?.reason;
    return `the lease on worker ${g.workerId} was not renewed since ${new Date(g.confirmedAt).toISOString()}${why ? ` (${why})` : ''}; stopped issuing at its confirmed horizon ${new Date(g.horizon).toISOString()}`;
  }
}

function goneReason(g: WorkerGrant): string {
  return `the store of snowflake worker ${g.workerId}'s lease is gone (its file was deleted or replaced): no more snowflake IDs from this process`;
}

function fencedReason(g: WorkerGrant, now: number): string {
  return `worker ${g.workerId} is fenced until ${new Date(g.floor).toISOString()} (${Math.ceil((g.floor - now) / 1000)} s): an earlier holder may have used timestamps up to then`;
}
