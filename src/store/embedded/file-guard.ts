/**
 * The embedded store's file while running: every use of the connection goes through
 * {@link GuardedDatabase}, which first checks that the file at the path is still the one
 * opened (README "Stores → Embedded").
 *
 * A file deleted or replaced under the service would leave it writing to an orphan that
 * no other process sees, while the admin script or a second process creates a new store
 * at the path and starts from 1. Before each use the path is stat'ed and its device and
 * inode compared with the file opened (the open connection keeps the old inode alive, so
 * its number cannot be reused meanwhile; a path naming that inode is a link to it). On a
 * mismatch the connection is closed for good and every call fails UNAVAILABLE: the
 * process needs a restart (once the tags are imported or the file is back) to serve again.
 */
import { statSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { unavailable, type IdAllocError } from '../../core/errors.js';
import { sqliteFailure, writeTransaction } from './database.js';
import { messageOf, type FileIdentity } from './file-check.js';
import type { Incarnation, IncarnationGuard, Opened } from './incarnation.js';

/** How long a client should wait before asking a node whose store file is gone, s. */
const LOST_RETRY_AFTER_S = 10;

/**
 * The check before each use of the connection. Once the file is found deleted or
 * replaced the connection is closed (no write ever reaches the orphan again), `onLost`
 * gets one line, and every later check throws UNAVAILABLE.
 */
export class FileGuard {
  private lostMessage: string | undefined;

  constructor(
    private readonly db: DatabaseSync,
    readonly path: string,
    private readonly identity: FileIdentity,
    private readonly onLost: (message: string) => void,
  ) {}

  /** Whether the file is found deleted or replaced, checking now if not yet (never undone). */
  get lost(): boolean {
    return this.lostMessage !== undefined || this.look() !== undefined;
  }

  /** Why the file is not used any more, once that was found (no check of its own). */
  get lostReason(): string | undefined {
    return this.lostMessage;
  }

  /** @throws IdAllocError UNAVAILABLE naming `what` and the file when it is gone */
  check(what: string): void {
    const message = this.lostMessage ?? this.look();
    if (message !== undefined) throw this.refusal(what, message);
  }

  private refusal(what: string, message: string): IdAllocError {
    return unavailable(`${what} refused: ${message}`, LOST_RETRY_AFTER_S);
  }

  /** Stats the path; on the first mismatch closes the connection and reports. */
  private look(): string | undefined {
    if (this.lostMessage !== undefined) return this.lostMessage;
    let fault: string | undefined;
    try {
      const st = statSync(this.path, { throwIfNoEntry: false });
      if (!st) fault = 'was deleted';
      else if (st.dev !== this.identity.dev || st.ino !== this.identity.ino) {
        fault = 'was replaced by another file';
      }
    } catch (err) {
      fault = `cannot be checked (${messageOf(err)})`;
    }
    if (fault === undefined) return undefined;
    this.lostMessage =
      `the embedded store ${this.path} ${fault} while this process used it: ` +
      'this process issues no more IDs from it (its last IDs are not in the file at that path); ' +
      "stop every process using it, recreate the tags with 'tag import' of the latest export (the one-command safe way) or put the file back (a restored copy is detected and each tag skips its gap on its next grant: safe if fewer IDs than the gap were issued since the copy; README: Restore the embedded store), and restart";
    // When only the main file went, its write-ahead log still sits at `<path>-wal`, next
    // to whatever file comes to the path: the next process to open that file would
    // replay these frames into it. So the frames (writes committed before, no new ones)
    // go into the file they belong to and the log is emptied; then the connection closes
    // for good. (A process that opened the path before this check shares the log
    // already: no order of steps here undoes that, hence README's "stop every process
    // before restoring the file".)
    try {
      if (this.db.isOpen) this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch {
      // best effort: the log may be gone with the file
    }
    try {
      if (this.db.isOpen) this.db.close();
    } catch {
      // closing is what matters; a failure to close leaves the connection unused anyway
    }
    this.onLost(this.lostMessage);
    return this.lostMessage;
  }
}

/** Where the store reports what an operator must see: a pino logger fits. */
export interface StoreLog {
  error(obj: object, msg: string): void;
  /** A file found restored (a new incarnation); `error` when absent. */
  warn?(obj: object, msg: string): void;
}

/** At most one line per this many ms about SQLite failures that retrying will not heal. */
const FAULT_LOG_INTERVAL_MS = 10_000;

/**
 * The connection as the stores use it: each call checked by the {@link FileGuard}, each
 * write checked and sealed by the {@link IncarnationGuard}, each
 * SQLite failure turned into UNAVAILABLE (see `sqliteFailure`), and a failure that
 * retrying will not heal (a damaged file, a bug) logged with its reason, at most once per
 * {@link FAULT_LOG_INTERVAL_MS} (the count of those left out is in the next line).
 */
export class GuardedDatabase {
  private lastFaultAt = -Infinity;
  private faultsLeftOut = 0;

  constructor(
    readonly db: DatabaseSync,
    readonly guard: FileGuard,
    readonly incarnations: IncarnationGuard,
    private readonly log: StoreLog | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * `fn` in a write transaction, after the check — and the check again after the commit:
   * the file can go while the transaction waits for another process's lock, and what was
   * committed then went to the orphan, so it must not be used (a grant there is thrown
   * away unserved: a gap, never a repeat). `fn` gets the file's incarnation, checked
   * against the witness first; the witness is sealed after `fn`, so a refusal (a throw)
   * leaves it as it was, and put back when the COMMIT fails.
   */
  write<T>(what: string, fn: (incarnation: Incarnation) => T): T {
    this.guard.check(what);
    let opened: Opened | undefined;
    let sealed = false;
    let result: T;
    try {
      result = writeTransaction(
        this.db,
        () => {
          const o = (opened = this.incarnations.open());
          const r = fn(o);
          this.incarnations.seal(o);
          sealed = true;
          return r;
        },
        // Sealed, then the COMMIT failed: the file stays as it was, so does the witness.
        // (Once SQLite rolled back by itself, another process may have written since:
        // putting ours back then makes a mismatch, a gap, never a repeat.)
        () => {
          if (sealed && opened) this.incarnations.unseal(opened);
        },
      );
    } catch (err) {
      throw this.failure(err, what);
    }
    this.guard.check(what);
    if (opened?.rotated !== undefined) this.reportRestored(opened.rotated, opened.id);
    return result;
  }

  /** One line once a new incarnation is committed (never for a write rolled back). */
  private reportRestored(fault: string, id: string): void {
    const line =
      `the embedded store ${this.guard.path} is not the file last written here (${fault}): ` +
      'it was restored or copied from an older state, renamed over, or lost its write-ahead log. ' +
      `New incarnation ${id}: each segment tag skips its gap on its next grant and each ` +
      "snowflake worker ID is fenced by the margin. The one-command safe restore is 'tag import' " +
      'of the latest export (README: Restore the embedded store)';
    const obj = { file: this.guard.path, incarnation: id };
    if (this.log?.warn) this.log.warn(obj, line);
    else this.log?.error(obj, line);
  }

  /** `fn` outside a transaction, after the check. */
  read<T>(what: string, fn: () => T): T {
    this.guard.check(what);
    try {
      return fn();
    } catch (err) {
      throw this.failure(err, what);
    }
  }

  private failure(err: unknown, what: string): IdAllocError {
    const e = sqliteFailure(err, what);
    if (e.details.broken === true && this.log) {
      const now = this.clock();
      if (now - this.lastFaultAt < FAULT_LOG_INTERVAL_MS) this.faultsLeftOut += 1;
      else {
        this.log.error(
          {
            file: this.guard.path,
            sqliteCode: e.details.sqliteCode,
            storeError: e.details.storeError,
            leftOut: this.faultsLeftOut,
          },
          e.message,
        );
        this.lastFaultAt = now;
        this.faultsLeftOut = 0;
      }
    }
    return e;
  }
}
