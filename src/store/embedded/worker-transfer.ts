/**
 * Snowflake worker leases and horizons in `tag export` / `tag import` on the embedded
 * store (docs/design.md §6 "Moving between stores"), with the decisions of
 * worker-export-2.lua and worker-import-2.lua on Redis: the export in one read
 * transaction, each import one write transaction. A horizon it writes carries the file's
 * incarnation (incarnation.ts), so it is exact as a claim's own: no margin is added for
 * it unless the file is later found restored.
 */
import { createHash } from 'node:crypto';
import type { SQLOutputValue, StatementSync } from 'node:sqlite';
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
import type { EmbeddedWorkerLeaseStore } from './worker-lease.js';

/** The fingerprint of a lease token in an export: 16 hex digits of its SHA-1 (as Lua's). */
export function holderOf(token: string): string {
  return createHash('sha1').update(token).digest('hex').slice(0, 16);
}

const int = (v: SQLOutputValue | undefined): number | undefined =>
  typeof v === 'bigint' && v >= 0n && v < 10n ** 15n ? Number(v) : undefined;

function damaged(id: number): never {
  throw refusal(Refusal.WORKER_DAMAGED, `worker ${id}`);
}

export class EmbeddedWorkerTransfer implements WorkerTransfer {
  private readonly horizons: StatementSync;
  private readonly leasesNow: StatementSync;
  private readonly leaseOf: StatementSync;
  private readonly horizonOf: StatementSync;
  private readonly putLease: StatementSync;
  private readonly putHorizon: StatementSync;

  constructor(
    private readonly guarded: GuardedDatabase,
    private readonly leases: EmbeddedWorkerLeaseStore,
    private readonly now: () => number,
  ) {
    const db = guarded.db;
    this.horizons = db.prepare('SELECT id, h FROM worker_horizons ORDER BY id');
    this.horizons.setReadBigInts(true);
    this.leasesNow = db.prepare('SELECT id, token FROM worker_leases WHERE expires_at > ?');
    this.leasesNow.setReadBigInts(true);
    this.leaseOf = db.prepare('SELECT token FROM worker_leases WHERE id = ? AND expires_at > ?');
    this.horizonOf = db.prepare('SELECT h, floor FROM worker_horizons WHERE id = ?');
    this.horizonOf.setReadBigInts(true);
    this.putLease = db.prepare(
      'INSERT OR REPLACE INTO worker_leases (id, token, expires_at) VALUES (?, ?, ?)',
    );
    this.putHorizon = db.prepare(
      'INSERT OR REPLACE INTO worker_horizons (id, h, floor, incarnation) VALUES (?, ?, ?, ?)',
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

  private readAll(now: number, marginMs: number): WorkerState[] {
    const out = new Map<number, WorkerState>();
    for (const row of this.horizons.all()) {
      const id = int(row.id);
      const h = int(row.h);
      if (id === undefined || h === undefined) damaged(id ?? -1);
      out.set(id, { id, horizon: h, imported: false });
    }
    for (const row of this.leasesNow.all(this.now())) {
      const id = int(row.id);
      if (id === undefined || typeof row.token !== 'string') damaged(id ?? -1);
      // A lease without a horizon is not what claim writes: fence it as Redis would.
      const horizon = out.get(id)?.horizon ?? now + marginMs;
      out.set(id, {
        id,
        horizon,
        holder: holderOf(row.token),
        imported: row.token === IMPORTED_HOLD_TOKEN,
      });
    }
    return [...out.values()].sort((a, b) => a.id - b.id);
  }

  async importWorker(record: WorkerRecord, req: WorkerImportRequest): Promise<WorkerImportResult> {
    const what = `the import of snowflake worker ${record.id}`;
    // A horizon written here is of the file's incarnation (incarnation.ts): exact, as a
    // claim's; a dry run writes nothing.
    const run = (fn: (incarnation: string | null) => WorkerImportResult) =>
      req.dryRun
        ? this.guarded.read(what, () => fn(null))
        : this.guarded.write(what, (inc) => fn(inc.id));
    return run((incarnation) => {
      const row = this.leaseOf.get(record.id, this.now());
      const token = typeof row?.token === 'string' ? row.token : undefined;
      const stored = this.horizonOf.get(record.id);
      const h = stored ? int(stored.h) : undefined;
      const floor = stored && stored.floor !== null ? int(stored.floor) : undefined;
      if (stored && (h === undefined || (stored.floor !== null && floor === undefined))) {
        damaged(record.id);
      }
      if (record.holder === undefined) {
        // Free at the export: its horizon rises to the export's; a lease here stays.
        if (token !== undefined && token !== IMPORTED_HOLD_TOKEN && (h ?? -1) < record.horizon) {
          return { outcome: 'conflict', horizon: h ?? 0 };
        }
        if (h !== undefined && h >= record.horizon) return { outcome: 'unchanged', horizon: h };
        if (!req.dryRun) this.putHorizon.run(record.id, record.horizon, floor ?? null, incarnation);
        return { outcome: 'raised', horizon: record.horizon };
      }
      if (token !== undefined && token !== IMPORTED_HOLD_TOKEN) {
        // The exporting holder itself, still here (an import onto the same store).
        if (holderOf(token) === record.holder) {
          return { outcome: 'kept', horizon: Math.max(h ?? 0, record.horizon) };
        }
        // Another holder, safe only when its first timestamp lies above the exported ones
        // (it claimed after the export: a store that lost the old lease fenced it past them).
        if (floor !== undefined && floor > record.horizon) {
          return { outcome: 'kept', horizon: h ?? floor };
        }
        return { outcome: 'conflict', horizon: h ?? 0 };
      }
      // Held for the exported store's node: no claim here before the hold ends, and none
      // below what it and this file's earlier holders used (a re-import keeps its floor).
      let base = record.horizon;
      if (token === IMPORTED_HOLD_TOKEN && floor !== undefined) base = Math.max(base, floor - 1);
      else if (h !== undefined) base = Math.max(base, h);
      const horizon = Math.max(base, req.now + req.holdMs);
      if (!req.dryRun) {
        this.putLease.run(record.id, IMPORTED_HOLD_TOKEN, this.now() + req.holdMs);
        this.putHorizon.run(record.id, horizon, base + 1, incarnation);
      }
      return { outcome: 'held', horizon };
    });
  }

  releaseImported(id: number, settle: number): Promise<'released' | 'lost' | 'damaged'> {
    return this.leases.release(id, IMPORTED_HOLD_TOKEN, settle);
  }
}
