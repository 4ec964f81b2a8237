/**
 * The embedded store's Idempotency-Key records (docs/design.md §5 "Idempotency keys"):
 * the `idempotency` table, read and written inside the allocation's own write
 * transaction (store.ts), so a keyed grant and its record commit together or not at all.
 * Expired rows are pruned on insert, a few per insert (bounded work): the table holds at
 * most the keys of one retention window plus what the pruning has not reached yet.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** Rows pruned per insert: more than one, so the table shrinks after a burst expires. */
const PRUNE_PER_INSERT = 8;

/** A key's record as stored. */
export interface IdempotencyRow {
  readonly params: string;
  readonly start: bigint;
  readonly end: bigint;
  readonly region: number;
  readonly incarnation: string;
}

export class IdempotencyRecords {
  private readonly find: StatementSync;
  private readonly put: StatementSync;
  private readonly prune: StatementSync;
  private readonly drop: StatementSync;

  constructor(db: DatabaseSync) {
    this.find = db.prepare(
      'SELECT params, start, "end", region, incarnation FROM idempotency WHERE tag = ? AND record = ? AND expires_at > ?',
    );
    this.put = db.prepare(
      'INSERT OR REPLACE INTO idempotency (tag, record, params, start, "end", region, incarnation, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.drop = db.prepare('DELETE FROM idempotency WHERE tag = ? AND record = ?');
    this.prune = db.prepare(
      `DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE expires_at <= ? ORDER BY expires_at LIMIT ${PRUNE_PER_INSERT})`,
    );
  }

  /** The live record of `record` for `tag`, or undefined (none, or expired). */
  get(tag: string, record: string, now: number): IdempotencyRow | undefined {
    const r = this.find.get(tag, record, now);
    if (r === undefined) return undefined;
    return {
      params: String(r.params),
      start: BigInt(String(r.start)),
      end: BigInt(String(r.end)),
      region: Number(r.region),
      incarnation: String(r.incarnation),
    };
  }

  /** Deletes a record (its grant was refused by a node's regression fence). */
  delete(tag: string, record: string): void {
    this.drop.run(tag, record);
  }

  /** Records a grant (replacing an expired record of the same key) and prunes a few expired rows. */
  add(tag: string, record: string, row: IdempotencyRow, expiresAt: number, now: number): void {
    this.prune.run(now);
    this.put.run(
      tag,
      record,
      row.params,
      row.start.toString(),
      row.end.toString(),
      row.region,
      row.incarnation,
      expiresAt,
    );
  }
}
