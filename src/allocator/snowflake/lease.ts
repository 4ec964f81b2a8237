/**
 * The worker-ID lease and its horizon fence (docs/design.md §6), on any {@link WorkerLeaseStore}.
 *
 * One step at a time, on injected time:
 * - no worker ID: choose one (below) and claim it; retry every third of the lease while
 *   all are leased, sooner after an error;
 * - holding one: renew every third of the lease, raising the horizon to now + lease -
 *   guard; after a failed renewal retry sooner; when the store says the lease is not
 *   ours any more, drop it and claim again at once.
 *
 * The node never issues a timestamp above the horizon the store last confirmed (the
 * generator checks), which is also where its lease could lapse minus the guard: a node
 * that cannot renew stops issuing before its lease could lapse, and a node paused past
 * it wakes up to timestamps its successor cannot use (the successor starts above the
 * horizon).
 *
 * Choosing: worker IDs are read a window at a time (one inspect per ID, all in flight at
 * once), starting at a random one; the first free ID usable without waiting is claimed.
 * When none is, the free one whose fence ends first is claimed, and the node waits for
 * its fence. A restarted node usually finds one usable at once: a released ID is settled
 * at what its holder used, and a crashed holder's horizon passes with its lease.
 */
import { randomUUID } from 'node:crypto';
import { errorLogFields, invalidArgument } from '../../core/errors.js';
import { GrantLogError } from '../../core/errors.js';
import type { GrantRecorder } from '../../core/grant-log.js';
import { createGrantLog } from '../../grants/log.js';
import {
  silentLog,
  systemClock,
  withTimers,
  type Clock,
  type Log,
} from '../../core/time-and-log.js';
import type { WorkerLeaseStore } from '../../core/lease-port.js';
import { ConfigError } from '../../core/errors.js';
import { layoutMismatch } from './layout-check.js';
import { NO_REGION, regionText, type Region } from '../../core/shape.js';
import { workerBlock, type WorkerBlock } from './region-block.js';

/** Runs `fn` after `ms`; returns a cancel function. */
export type Schedule = (fn: () => unknown, ms: number) => () => void;

/** setTimeout, unref'd: a pending renewal alone does not keep a process alive. */
export const timerSchedule: Schedule = withTimers(systemClock, { unref: true }).schedule;

/** What this node holds: a worker ID and the timestamps it may use. */
export interface WorkerGrant {
  readonly workerId: number;
  /** The first timestamp (Unix ms) it may use. */
  readonly floor: number;
  /** The highest timestamp it may use: confirmed by the store, raised at each renewal. */
  readonly horizon: number;
  /** Local time the last confirmation was sent. */
  readonly confirmedAt: number;
  /** Changes with each claim and each re-fence (a new floor): sequences restart. */
  readonly epoch: number;
}

export interface WorkerLeaseOptions {
  readonly store: WorkerLeaseStore;
  /** How many worker IDs exist (2^workerBits). */
  readonly workerCount: number;
  /** `SNOWFLAKE_LEASE_MS`. @default 30000 */
  readonly leaseMs?: number;
  /**
   * Added to the floor when a horizon is missing or another server confirmed it; must
   * exceed how far ahead a holder's horizon goes plus the clock skew between nodes.
   * @default leaseMs
   */
  readonly marginMs?: number;
  /** Worker IDs read per round trip while choosing. @default 64 */
  readonly windowSize?: number;
  readonly clock?: Clock;
  readonly schedule?: Schedule;
  /** Where the choice starts. @default Math.random */
  readonly random?: () => number;
  /** @default crypto.randomUUID */
  readonly newToken?: () => string;
  readonly log?: Log;
  /** The grant log: each claim and each raised horizon. @default lines into `log` */
  readonly grants?: GrantRecorder;
  /**
   * The generator's layout (`layoutFingerprint`), recorded or checked by each claim: a
   * claim on a store that records another layout is refused, so a store that lost its
   * record gets it back from the first claim after the loss and no second layout mints.
   */
  readonly layout?: string;
  /**
   * The node's region (`REGION`): worker IDs are claimed only from its block
   * (region-block.ts), and grant lines name it. @default 0/1 (every worker ID)
   */
  readonly region?: Region;
}

/** The lease timings derived from its length (documented in the README). */
export function leaseTimings(leaseMs: number) {
  const renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
  // The horizon stops this far short of where the lease could lapse: room for the
  // clock skew between nodes, and a node stops issuing before its lease could lapse.
  const guardMs = Math.min(1000, Math.floor(leaseMs / 10));
  return Object.freeze({
    renewEveryMs,
    guardMs,
    aheadMs: leaseMs - guardMs,
    retryMs: Math.min(1000, renewEveryMs),
  });
}

interface Hold {
  readonly token: string;
  grant: WorkerGrant;
}

export class WorkerLease {
  /** Whether the store still stands behind the grant (see WorkerLeaseStore.usable). */
  storeUsable(): boolean {
    return this.store.usable?.() ?? true;
  }

  private readonly store: WorkerLeaseStore;
  private readonly workerCount: number;
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly windowSize: number;
  private readonly timings: ReturnType<typeof leaseTimings>;
  private readonly clock: Clock;
  private readonly schedule: Schedule;
  private readonly random: () => number;
  private readonly newToken: () => string;
  private readonly log: Log;
  private readonly grants: GrantRecorder;
  private readonly layout: string | undefined;
  private readonly region: Region;
  private readonly block: WorkerBlock;

  private hold: Hold | undefined;
  /** The failing streak of attempts: what was logged, how many, since when. */
  private failing: { problem: string; attempts: number; since: number } | undefined;
  private epoch = 0;
  private problem = 'the worker lease has not started';
  /** Set when a claim of this attempt was refused as the store was moved. */
  private moved = false;
  private inFlight: Promise<void> | undefined;
  private cancel: (() => void) | undefined;
  private started = false;
  private closed = false;

  constructor(opts: WorkerLeaseOptions) {
    this.store = opts.store;
    this.workerCount = opts.workerCount;
    this.region = opts.region ?? NO_REGION;
    this.block = workerBlock(this.region, this.workerCount);
    this.leaseMs = opts.leaseMs ?? 30_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 3) {
      throw invalidArgument(
        `leaseMs ${this.leaseMs} is not allowed: expected an integer of at least 3`,
      );
    }
    this.marginMs = opts.marginMs ?? this.leaseMs;
    this.windowSize = Math.max(1, Math.min(opts.windowSize ?? 64, this.block.count));
    this.timings = leaseTimings(this.leaseMs);
    this.clock = opts.clock ?? systemClock;
    this.schedule = opts.schedule ?? timerSchedule;
    this.random = opts.random ?? Math.random;
    this.newToken = opts.newToken ?? randomUUID;
    this.log = opts.log ?? silentLog;
    this.grants = opts.grants ?? createGrantLog(this.log);
    this.layout = opts.layout;
  }

  /** The worker ID held now and its fence, or undefined. */
  current(): WorkerGrant | undefined {
    return this.hold?.grant;
  }

  /** Why no worker ID is held, or why the last renewal failed (undefined when all is well). */
  get reason(): string | undefined {
    return this.problem === '' ? undefined : this.problem;
  }

  /** Runs the first claim (its outcome shows in {@link current} and {@link reason}). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.run();
  }

  /**
   * Stops the loop and releases the worker ID, settling its horizon at `settle` (the
   * highest timestamp used; the caller has stopped issuing). Never throws.
   */
  async close(settle: number): Promise<void> {
    this.closed = true;
    this.cancel?.();
    await this.inFlight;
    const hold = this.hold;
    this.hold = undefined;
    this.problem = 'the worker lease is closed';
    if (!hold) return;
    const id = hold.grant.workerId;
    try {
      const r = await this.store.release(id, hold.token, Math.max(0, settle, hold.grant.floor - 1));
      if (r === 'released') this.log.info({ workerId: id }, 'released snowflake worker ID');
      else
        this.log.warn(
          { workerId: id, outcome: r },
          'snowflake worker lease was not ours to release',
        );
    } catch (err) {
      this.log.warn(
        { workerId: id, ...errorLogFields(err) },
        'could not release the snowflake worker lease; it expires by itself',
      );
    }
  }

  /** One step at a time; a step never rejects. */
  private run(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inFlight ??= this.step().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async step(): Promise<void> {
    let delay: number;
    try {
      delay = this.hold ? await this.renew(this.hold) : await this.claim();
      if (this.failing) {
        this.log.info(
          { attempts: this.failing.attempts, sinceMs: this.clock.now() - this.failing.since },
          'the store answers the snowflake worker lease again',
        );
        this.failing = undefined;
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.problem = this.hold
        ? `cannot renew the lease on worker ${this.hold.grant.workerId}: ${message}`
        : `cannot claim a worker ID: ${message}`;
      // The grant log said once that it cannot be written: not a line per attempt.
      if (err instanceof ConfigError) {
        // Another layout is recorded: no worker ID until an operator acts; not every second.
        this.log.error({ err: message }, this.problem);
        delay = this.timings.renewEveryMs;
      } else {
        if (!(err instanceof GrantLogError)) this.failed(err);
        delay = this.timings.retryMs;
      }
    }
    if (!this.closed) this.cancel = this.schedule(() => this.run(), delay);
  }

  /**
   * One line when the attempts start failing, and again only when the reason changes (a
   * store that stays unreachable is retried every second); an IdAllocError names its
   * cause, so no stack (errorLogFields); anything else may be a bug, so with it.
   */
  private failed(err: unknown): void {
    const attempts = (this.failing?.attempts ?? 0) + 1;
    const since = this.failing?.since ?? this.clock.now();
    const again = this.failing?.problem === this.problem;
    this.failing = { problem: this.problem, attempts, since };
    if (again) return;
    this.log.warn(
      { ...errorLogFields(err), attempts },
      `${this.problem} (retrying every ${this.timings.retryMs} ms; logged again when the reason changes)`,
    );
  }

  private async renew(hold: Hold): Promise<number> {
    const g = hold.grant;
    const now = this.clock.now();
    const r = await this.store.renew(g.workerId, {
      token: hold.token,
      leaseMs: this.leaseMs,
      now,
      target: Math.max(g.horizon, now + this.timings.aheadMs),
      marginMs: this.marginMs,
      floor: g.floor,
      ...(this.layout === undefined ? {} : { layout: this.layout }),
    });
    if (r.kind === 'layout') {
      // A node of another layout recorded its own (the record was lost): the store gave
      // the lease back; claims are refused until the layouts agree.
      this.hold = undefined;
      const refused = layoutMismatch(this.layout ?? '', r.recorded).message;
      this.problem = `the lease on worker ${g.workerId} was given back: ${refused}`;
      this.log.error({ workerId: g.workerId }, this.problem);
      return this.timings.renewEveryMs;
    }
    if (r.kind !== 'renewed') {
      // Lost (expired, or another node holds it) or damaged: this worker ID is done.
      this.hold = undefined;
      this.problem = `the lease on worker ${g.workerId} was ${r.kind === 'lost' ? 'lost (it expired or another node holds it)' : 'refused: its horizon is damaged in the store'}; claiming a worker ID again`;
      this.log[r.kind === 'lost' ? 'warn' : 'error']({ workerId: g.workerId }, this.problem);
      return 0;
    }
    // A raised horizon not in the grant log is not used: this throws (GrantLogError), the
    // hold keeps the horizon last logged, and the generator stops there if none follows.
    this.grants.record({
      kind: 'worker',
      how: 'renew',
      worker: g.workerId,
      floor: r.floor ?? g.floor,
      horizon: r.horizon,
      ...(r.incarnation ? { incarnation: r.incarnation } : {}),
      region: this.region,
    });
    this.problem = '';
    if (r.floor === undefined) {
      hold.grant = { ...g, horizon: r.horizon, confirmedAt: now };
    } else {
      hold.grant = {
        ...g,
        floor: r.floor,
        horizon: r.horizon,
        confirmedAt: now,
        epoch: ++this.epoch,
      };
      this.log.warn(
        { workerId: g.workerId, floor: new Date(r.floor).toISOString() },
        'the store fenced the snowflake worker lease again (its server changed: restart or failover; or an earlier re-fence went unconfirmed): issuing again only from the fenced floor',
      );
    }
    return this.timings.renewEveryMs;
  }

  private async claim(): Promise<number> {
    // No worker ID is claimed while its claim could not be logged.
    this.grants.ensureWritable?.();
    // Only this region's block: another region's deployment may hold any ID outside it.
    const { first: base, count: n } = this.block;
    const first = Math.floor(this.random() * n) % n;
    const token = this.newToken();
    this.moved = false;
    const fenced: { id: number; floor: number }[] = [];
    let damaged = 0;
    for (let offset = 0; offset < n; offset += this.windowSize) {
      const ids: number[] = [];
      for (let i = offset; i < Math.min(n, offset + this.windowSize); i++)
        ids.push(base + ((first + i) % n));
      const now = this.clock.now();
      for (const look of await this.store.inspect(ids, now, this.marginMs)) {
        if (look.state === 'damaged') damaged++;
        if (look.state !== 'free') continue;
        if (look.floor > now) fenced.push({ id: look.id, floor: look.floor });
        else if (await this.tryClaim(look.id, token, 0)) return this.timings.renewEveryMs;
        if (this.moved) return this.refusedAsMoved();
      }
    }
    // Nothing usable at once: the fence that ends first (a fresh store fences every ID);
    // among equals, scan order, so that random starts keep nodes apart.
    fenced.sort((a, b) => a.floor - b.floor);
    for (const f of fenced) {
      const wait = Math.max(0, f.floor - this.clock.now());
      if (await this.tryClaim(f.id, token, wait + this.leaseMs)) return this.timings.renewEveryMs;
      if (this.moved) return this.refusedAsMoved();
    }
    const of =
      this.region.count === 1
        ? `${n}`
        : `${n} (${base} to ${base + n - 1}, region ${regionText(this.region)}'s block)`;
    this.problem =
      damaged === 0
        ? `all ${of} worker IDs are leased; trying again every ${this.timings.renewEveryMs} ms`
        : `no worker ID is free: of ${of}, ${damaged} have a damaged horizon in the store and the rest are leased; trying again every ${this.timings.renewEveryMs} ms`;
    this.log.warn({ workerCount: n, damaged }, this.problem);
    return this.timings.renewEveryMs;
  }

  /**
   * The store was marked moved (`tag export --move`): it grants no new worker ID, since
   * one free here may be in use on the store it moved to. Logged once; the node serves
   * segment tags and answers 503 for snowflake tags until it is stopped.
   */
  private refusedAsMoved(): number {
    const problem =
      'this store was moved to another (idalloc-admin tag export --move): it grants no new snowflake worker ID; stop this node and start it on the new store';
    if (this.problem !== problem) this.log.warn({ workerCount: this.workerCount }, problem);
    this.problem = problem;
    return this.timings.renewEveryMs;
  }

  private async tryClaim(id: number, token: string, maxWaitMs: number): Promise<boolean> {
    const now = this.clock.now();
    const r = await this.store.claim(id, {
      token,
      leaseMs: this.leaseMs,
      now,
      aheadMs: this.timings.aheadMs,
      marginMs: this.marginMs,
      maxWaitMs,
      ...(this.layout === undefined ? {} : { layout: this.layout }),
    });
    if (r.kind === 'layout') throw layoutMismatch(this.layout ?? '', r.recorded);
    if (r.kind === 'moved') this.moved = true;
    if (r.kind !== 'claimed') return false;
    try {
      this.grants.record({
        kind: 'worker',
        how: 'claim',
        worker: id,
        floor: r.floor,
        horizon: r.horizon,
        ...(r.incarnation ? { incarnation: r.incarnation } : {}),
        region: this.region,
      });
    } catch (err) {
      // Not logged, so not used: given back at once, nothing of it used (the store keeps
      // its horizon at least where earlier holders left it).
      await this.store.release(id, token, r.floor - 1).catch(() => undefined);
      throw err;
    }
    this.hold = {
      token,
      grant: {
        workerId: id,
        floor: r.floor,
        horizon: r.horizon,
        confirmedAt: now,
        epoch: ++this.epoch,
      },
    };
    this.problem = '';
    this.log.info(
      {
        workerId: id,
        ...(r.floor > now
          ? { fencedUntil: new Date(r.floor).toISOString(), margin: r.margin }
          : {}),
      },
      r.floor > now
        ? 'claimed snowflake worker ID; waiting for its fence (an earlier holder, or a store that may have lost writes)'
        : 'claimed snowflake worker ID',
    );
    return true;
  }
}
