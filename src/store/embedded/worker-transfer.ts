/**
 * Snowflake worker leases and horizons in `tag export` / `tag import` on the embedded
 * store (docs/design.md §6 "Moving between stores"), with the decisions of
 * worker-export-2.lua and worker-import-2.lua on Redis: the export in one read
 * transaction, each import one write transaction. A horizon it writes carries the file's
 * incarnation (incarnation.ts), so it is exact as a claim's own: no margin is added for
 * it unless the file is later found restored.
 */
import { createHash } from 'node:crypto';
import type { StatementSync } from 'node:sqlite';
import {
  IMPORTED_HOLD_TOKEN,
  type WorkerImportRequest,
  type WorkerImportResult,
  type WorkerRecord,
  type WorkerState,
  type WorkerTransfer,
} from '../../core/lease-port.js';
import { refusal, Refusal } from '../refusals.js';
import type { GuardedDatabase } from './file-guard.js';
import type { Incarnation } from './incarnation.js';
import type { EmbeddedWorkerLeaseStore } from './worker-lease.js';

/** The fingerprint of a lease token in an export: 16 hex digits of its SHA-1 (as Lua's). */
export function holderOf(token: string): string {
  return createHash('sha1').update(token).digest('hex').slice(0, 16);
}

function damaged(id: number): never {
  throw refusal(Refusal.WORKER_DAMAGED, `worker ${id}`);
}

export class EmbeddedWorkerTransfer implements WorkerTransfer {
  /** Every worker ID with a horizon row or a live lease. */
  private readonly ids: StatementSync;

  constructor(
    private readonly guarded: GuardedDatabase,
    private readonly leases: EmbeddedWorkerLeaseStore,
    private readonly now: () => number,
  ) {
    this.ids = guarded.db.prepare(
      'SELECT id FROM worker_horizons UNION SELECT id FROM worker_leases WHERE expires_at > ? ORDER BY id',
    );
  }

  async exportWorkers(now: number, marginMs: number): Promise<WorkerState[]> {
    const db = this.guarded.db;
    return this.guarded.read('an export of snowflake worker IDs', () => {
      // One read transaction: the leases and the horizons of one moment.
      db.exec('BEGIN');
      try {
        return this.readAll(now, marginMs);
      } finally {
        if (db.isTransaction) db.exec('COMMIT');
      }
    });
  }

  /**
   * Each worker ID's horizon as a claim would see it (worker-export-2.lua): the first
   * timestamp a claim would give, minus one — the margin included for a horizon of
   * another incarnation (a restored file), and for a lease without a horizon row.
   */
  private readAll(now: number, marginMs: number): WorkerState[] {
    // What a claim would find, a new incarnation included (the export writes nothing);
    // never "fresh": a lease without a horizon is not what claim writes, fence it as Redis.
    const inc = { ...this.guarded.incarnations.peek(), fresh: false };
    return this.ids.all(this.now()).map((row): WorkerState => {
      const id = typeof row.id === 'number' && Number.isSafeInteger(row.id) ? row.id : -1;
      const seen = id < 0 ? 'damaged' : this.leases.seen(id, inc, now, marginMs);
      if (seen === 'damaged') damaged(id);
      const horizon = seen.floor - 1;
      if (seen.token === undefined) return { id, horizon, imported: false };
      return {
        id,
        horizon,
        holder: holderOf(seen.token),
        imported: seen.token === IMPORTED_HOLD_TOKEN,
      };
    });
  }

  async importWorker(record: WorkerRecord, req: WorkerImportRequest): Promise<WorkerImportResult> {
    const what = `the import of snowflake worker ${record.id}`;
    // A horizon written here is of the file's incarnation (incarnation.ts): exact, as a
    // claim's; a dry run writes nothing and decides on what a claim would find.
    return req.dryRun
      ? this.guarded.read(what, () => this.decide(record, req, this.guarded.incarnations.peek()))
      : this.guarded.write(what, (inc) => this.decide(record, req, inc));
  }

  /** worker-import-2.lua's decision, on the horizon as a claim would see it. */
  private decide(
    record: WorkerRecord,
    req: WorkerImportRequest,
    inc: Incarnation,
  ): WorkerImportResult {
    const seen = this.leases.seen(record.id, inc, req.now, req.marginMs);
    if (seen === 'damaged') damaged(record.id);
    const { token, horizon: stored } = seen;
    const h = stored?.h;
    // Below it no claim here starts: the margin is in it for another incarnation's row.
    const fenced = seen.floor - 1;
    const write = !req.dryRun;
    if (record.holder === undefined) {
      // Free at the export: its horizon rises to the export's; a lease here stays.
      if (token !== undefined && token !== IMPORTED_HOLD_TOKEN && (h ?? -1) < record.horizon) {
        return { outcome: 'conflict', horizon: h ?? 0 };
      }
      if (stored !== undefined && fenced >= record.horizon) {
        return { outcome: 'unchanged', horizon: fenced };
      }
      const floor = stored?.floor;
      if (write)
        this.leases.put(record.id, undefined, { h: record.horizon, floor, incarnation: inc.id });
      return { outcome: 'raised', horizon: record.horizon };
    }
    if (token !== undefined && token !== IMPORTED_HOLD_TOKEN) {
      // The exporting holder itself, still here (an import onto the same store).
      if (holderOf(token) === record.holder) {
        return { outcome: 'kept', horizon: Math.max(h ?? 0, record.horizon) };
      }
      // Another holder, safe only when its first timestamp lies above the exported ones
      // (it claimed after the export: a store that lost the old lease fenced it past them).
      const first = stored?.floor;
      if (first !== undefined && first > record.horizon) {
        return { outcome: 'kept', horizon: h ?? first };
      }
      return { outcome: 'conflict', horizon: h ?? 0 };
    }
    // Held for the exported store's node: no claim here before the hold ends, and none
    // below what it and this file's earlier holders used (a re-import keeps its floor).
    const again =
      token === IMPORTED_HOLD_TOKEN && stored?.incarnation === inc.id ? stored.floor : undefined;
    const base = Math.max(record.horizon, again !== undefined ? again - 1 : fenced);
    const horizon = Math.max(base, req.now + req.holdMs);
    if (write) {
      this.leases.put(
        record.id,
        { token: IMPORTED_HOLD_TOKEN, expiresAt: this.now() + req.holdMs },
        { h: horizon, floor: base + 1, incarnation: inc.id },
      );
    }
    return { outcome: 'held', horizon };
  }

  /** The whole file is marked: every worker ID's claim is refused (`workerCount` unused). */
  markMoved(_workerCount: number): Promise<void> {
    return this.leases.markMoved();
  }

  releaseImported(id: number, settle: number): Promise<'released' | 'lost' | 'damaged'> {
    return this.leases.release(id, IMPORTED_HOLD_TOKEN, settle);
  }
}
