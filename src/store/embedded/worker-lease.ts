/**
 * Snowflake worker leases and horizons in the embedded store (docs/design.md §6), with the
 * semantics of the worker-*-2.lua scripts on Redis: each call one transaction.
 *
 * - A lease is a row (token, expires_at); it counts as held until expires_at on the
 *   store's clock, as a Redis key with PX expires on the server's clock. An expired row
 *   is a free worker ID, overwritten by the next claim.
 * - A horizon is a row (h, floor) that is never deleted: h is the highest timestamp any
 *   holder may use, floor the current holder's first one.
 * - A `meta` row `moved` (`tag export --move`) refuses every claim, read in the claim's
 *   transaction as worker-claim-2.lua reads its `moved` field; renewals go on.
 *
 * The file's incarnation (incarnation.ts) stands in for Redis's `run_id`: a committed
 * horizon survives a restart or a crash, so a horizon of the current incarnation is
 * "confirmed by this server" and a new holder starts right above it. A horizon of another
 * incarnation (the file was restored or copied, or predates the guard) may lack raises,
 * so a new holder starts above both it and now by the margin, as on Redis. On a fresh
 * file — never found restored — a worker ID with no horizon row was never used with it,
 * and the processes sharing it share one clock: a claim starts at the next millisecond
 * (so the first snowflake ID on a fresh file comes at once); on any other file it waits
 * the margin too.
 * A process whose file is deleted or replaced under it stops minting within a
 * millisecond (`usable`, asked by the generator at every new millisecond), so a new file
 * at the path — whose first claims start above the moment it was made — cannot share a
 * timestamp with it. Only a renewal that finds its own horizon gone re-fences above the
 * margin, as on Redis.
 */
import type { SQLOutputValue, StatementSync } from 'node:sqlite';
import { ErrorCode, IdAllocError } from '../../core/errors.js';
import type {
  ClaimOutcome,
  ClaimRequest,
  RenewOutcome,
  RenewRequest,
  WorkerLeaseStore,
  WorkerLook,
} from '../../core/lease-port.js';
import type { GuardedDatabase } from './file-guard.js';
import type { Incarnation } from './incarnation.js';

/** A horizon as read: `undefined` when there is none, `'damaged'` when it is not ours. */
export type Horizon =
  | {
      readonly h: number;
      readonly floor: number | undefined;
      /** The file incarnation that wrote it last. */
      readonly incarnation: string | undefined;
    }
  | undefined
  | 'damaged';

/** worker.lua's check: a non-negative integer of at most 15 digits (exact as a double). */
function timestamp(v: SQLOutputValue): number | undefined {
  return typeof v === 'bigint' && v >= 0n && v < 10n ** 15n ? Number(v) : undefined;
}

/** A caller's bug (a Lua error reply): nothing is written. */
function badArgument(what: string, workerId: number): IdAllocError {
  return new IdAllocError(
    ErrorCode.INTERNAL,
    `${what} of snowflake worker ${workerId} refused a malformed argument`,
    { workerId },
  );
}

const isMs = (v: number, min = 0) => Number.isSafeInteger(v) && v >= min;

/**
 * The first timestamp a new holder may use (worker.lua's worker_floor), and whether the
 * margin was added: right above a horizon of the current incarnation; the next
 * millisecond when there is none on a fresh file (no holder ever used the worker ID with
 * it; see the header) — not `now`: a process still minting from a file that was deleted
 * or replaced checks its file once per millisecond (`usable`), so it mints at most in
 * the millisecond in which the file went, at or before `now` here; otherwise above both
 * the horizon and now by the margin.
 */
function claimFloor(
  horizon: Exclude<Horizon, 'damaged'>,
  inc: Incarnation,
  now: number,
  marginMs: number,
): { floor: number; margin: boolean } {
  if (horizon && horizon.incarnation === inc.id) return { floor: horizon.h + 1, margin: false };
  if (!horizon && inc.fresh) return { floor: now + 1, margin: false };
  const base = horizon && horizon.h + 1 > now ? horizon.h + 1 : now;
  return { floor: base + marginMs, margin: true };
}

export class EmbeddedWorkerLeaseStore implements WorkerLeaseStore {
  private readonly leaseOf: StatementSync;
  private readonly horizonOf: StatementSync;
  private readonly putLease: StatementSync;
  private readonly dropLease: StatementSync;
  private readonly putHorizon: StatementSync;
  private readonly movedRow: StatementSync;
  private readonly putMoved: StatementSync;

  /**
   * `guarded`: the store's connection, checked before each use like the tags' (a lease
   * in a deleted or replaced file is refused UNAVAILABLE); `now`: the store's clock
   * (Unix ms), which decides when a lease has expired.
   */
  constructor(
    private readonly guarded: GuardedDatabase,
    private readonly now: () => number,
  ) {
    const db = guarded.db;
    this.leaseOf = db.prepare('SELECT token FROM worker_leases WHERE id = ? AND expires_at > ?');
    this.horizonOf = db.prepare('SELECT h, floor, incarnation FROM worker_horizons WHERE id = ?');
    this.horizonOf.setReadBigInts(true);
    this.putLease = db.prepare(
      'INSERT OR REPLACE INTO worker_leases (id, token, expires_at) VALUES (?, ?, ?)',
    );
    this.dropLease = db.prepare('DELETE FROM worker_leases WHERE id = ?');
    this.putHorizon = db.prepare(
      'INSERT OR REPLACE INTO worker_horizons (id, h, floor, incarnation) VALUES (?, ?, ?, ?)',
    );
    this.movedRow = db.prepare("SELECT value FROM meta WHERE key = 'moved'");
    this.putMoved = db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('moved', ?)");
  }

  /** False once the file at the path is not the one opened (deleted or replaced). */
  usable(): boolean {
    return !this.guarded.guard.lost;
  }

  async inspect(ids: readonly number[], now: number, marginMs: number): Promise<WorkerLook[]> {
    if (!isMs(now) || !isMs(marginMs) || !ids.every((id) => isMs(id))) {
      throw badArgument('the look', ids[0] ?? -1);
    }
    return this.guarded.read('a look at snowflake worker IDs', () => {
      // What a claim would find, a new incarnation included (the look writes nothing).
      const inc = this.guarded.incarnations.peek();
      return ids.map((id): WorkerLook => {
        if (this.holder(id) !== undefined) return { id, state: 'held' };
        const horizon = this.horizon(id);
        if (horizon === 'damaged') return { id, state: 'damaged' };
        return { id, state: 'free', floor: claimFloor(horizon, inc, now, marginMs).floor };
      });
    });
  }

  async claim(workerId: number, req: ClaimRequest): Promise<ClaimOutcome> {
    const valid =
      isMs(workerId) &&
      req.token !== '' &&
      isMs(req.leaseMs, 1) &&
      isMs(req.now) &&
      isMs(req.aheadMs) &&
      isMs(req.marginMs) &&
      Number.isSafeInteger(req.maxWaitMs);
    if (!valid) throw badArgument('the claim', workerId);
    return this.write(`the claim of snowflake worker ${workerId}`, (inc): ClaimOutcome => {
      // The store was moved (`tag export --move`): no new lease, in the claim's transaction.
      if (this.movedRow.get() !== undefined) return { kind: 'moved' };
      // Someone holds it: a lease is never taken over before it expires.
      if (this.holder(workerId) !== undefined) return { kind: 'taken' };
      // Start strictly above every timestamp an earlier holder may have used.
      const horizon = this.horizon(workerId);
      if (horizon === 'damaged') return { kind: 'damaged' };
      const { floor, margin } = claimFloor(horizon, inc, req.now, req.marginMs);
      if (floor > req.now + req.maxWaitMs) return { kind: 'fenced' };
      // Take the lease, then fence: the horizon only rises here (floor is above h).
      const h = Math.max(floor, req.now + req.aheadMs);
      this.putLease.run(workerId, req.token, this.now() + req.leaseMs);
      this.putHorizon.run(workerId, h, floor, inc.id);
      return { kind: 'claimed', floor, horizon: h, margin, incarnation: inc.id };
    });
  }

  async renew(workerId: number, req: RenewRequest): Promise<RenewOutcome> {
    const valid =
      isMs(workerId) &&
      req.token !== '' &&
      isMs(req.leaseMs, 1) &&
      isMs(req.now) &&
      isMs(req.target) &&
      isMs(req.marginMs) &&
      isMs(req.floor);
    if (!valid) throw badArgument('the renewal', workerId);
    return this.write(`the renewal of snowflake worker ${workerId}`, (inc): RenewOutcome => {
      // Compare: only the holder renews.
      if (this.holder(workerId) !== req.token) return { kind: 'lost' };
      const horizon = this.horizon(workerId);
      if (horizon === 'damaged') return { kind: 'damaged' };
      let h = req.target;
      let floor = horizon?.floor;
      let refenced: number | undefined;
      if (horizon === undefined || horizon.incarnation !== inc.id) {
        // The horizon is gone or of another incarnation (the file was restored?): it may
        // lack raises, so start again above it and now by the margin, as a claim would.
        refenced = claimFloor(horizon, { id: inc.id, fresh: false }, req.now, req.marginMs).floor;
        floor = refenced;
        h = Math.max(h, refenced);
      } else if (floor !== undefined && floor > req.floor) {
        // A re-fence the holder never took up (its answer was lost): it starts there.
        refenced = floor;
        h = Math.max(h, floor);
      }
      // Expire, then raise: the horizon never goes down here.
      if (horizon !== undefined && horizon.h > h) h = horizon.h;
      this.putLease.run(workerId, req.token, this.now() + req.leaseMs);
      this.putHorizon.run(workerId, h, floor ?? null, inc.id);
      return { kind: 'renewed', horizon: h, floor: refenced, incarnation: inc.id };
    });
  }

  async release(
    workerId: number,
    token: string,
    settle: number,
  ): Promise<'released' | 'lost' | 'damaged'> {
    if (!isMs(workerId) || token === '' || !isMs(settle)) {
      throw badArgument('the release', workerId);
    }
    return this.write(`the release of snowflake worker ${workerId}`, (inc) => {
      // Compare: only the holder releases.
      if (this.holder(workerId) !== token) return 'lost' as const;
      const horizon = this.horizon(workerId);
      if (horizon === 'damaged') return 'damaged' as const;
      // Settle at what was used, never below what earlier holders could use (floor - 1).
      // That may lower h: this holder's unused headroom is given back.
      // Only a horizon this holder's floor and incarnation stand behind may go down.
      let h = settle;
      const floor = horizon?.floor;
      if (floor !== undefined && floor - 1 > h) h = floor - 1;
      const own = floor !== undefined && horizon?.incarnation === inc.id;
      if (horizon !== undefined && !own && horizon.h > h) h = horizon.h;
      this.putHorizon.run(workerId, h, floor ?? null, horizon?.incarnation ?? null);
      // Delete: the worker ID is free again.
      this.dropLease.run(workerId);
      return 'released' as const;
    });
  }

  /**
   * What a claim of `workerId` would find, for `tag export` and `tag import`
   * (worker-transfer.ts), inside the caller's transaction: the lease's token if live,
   * the stored horizon row, and the first timestamp a claim would give (margin included
   * for a horizon of another incarnation). Writes nothing.
   */
  seen(
    workerId: number,
    inc: Incarnation,
    now: number,
    marginMs: number,
  ):
    { token: string | undefined; horizon: Exclude<Horizon, 'damaged'>; floor: number } | 'damaged' {
    const horizon = this.horizon(workerId);
    if (horizon === 'damaged') return 'damaged';
    const { floor } = claimFloor(horizon, inc, now, marginMs);
    return { token: this.holder(workerId), horizon, floor };
  }

  /**
   * Marks the file moved (`tag export --move`): every later claim is refused. A meta row
   * (the time of the first mark), written through the guarded write path.
   */
  markMoved(): Promise<void> {
    this.write('the mark of the store as moved', () => {
      this.putMoved.run(new Date(this.now()).toISOString());
    });
    return Promise.resolve();
  }

  /** Writes a lease row and a horizon row of `incarnation` (an import's hold or raise). */
  put(
    workerId: number,
    lease: { token: string; expiresAt: number } | undefined,
    horizon: { h: number; floor: number | undefined; incarnation: string },
  ): void {
    if (lease) this.putLease.run(workerId, lease.token, lease.expiresAt);
    this.putHorizon.run(workerId, horizon.h, horizon.floor ?? null, horizon.incarnation);
  }

  /** The token of the lease on `workerId` if it has not expired. */
  private holder(workerId: number): string | undefined {
    const row = this.leaseOf.get(workerId, this.now());
    return typeof row?.token === 'string' ? row.token : undefined;
  }

  private horizon(workerId: number): Horizon {
    const row = this.horizonOf.get(workerId);
    if (!row) return undefined;
    const h = timestamp(row.h ?? null);
    const floor = row.floor === null ? undefined : timestamp(row.floor ?? null);
    if (h === undefined || (row.floor !== null && floor === undefined)) return 'damaged';
    return {
      h,
      floor,
      incarnation: typeof row.incarnation === 'string' ? row.incarnation : undefined,
    };
  }

  private write<T>(what: string, fn: (incarnation: Incarnation) => T): T {
    return this.guarded.write(what, fn);
  }
}
