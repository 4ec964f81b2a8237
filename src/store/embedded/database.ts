/**
 * The embedded store's SQLite file (docs/design.md §11) through Node's built-in `node:sqlite`:
 * opening it with the settings that make it durable and shareable between processes,
 * the schema, transactions, and SQLite failures as typed errors.
 *
 * Settings, and why:
 * - `journal_mode=WAL`: readers (tag listings, the admin script) never block an
 *   allocation and an allocation never blocks them; a commit appends to one file and
 *   needs one fsync. WAL needs shared memory between the processes, so the file must be
 *   on a local disk of this host, never on a network filesystem; this store serves one
 *   host by design anyway.
 * - `synchronous=FULL`: in WAL mode the log is fsynced at every commit, so a committed
 *   allocation survives a crash or a power cut; with NORMAL the last commits could roll
 *   back after a power cut and a range be handed out twice.
 * - `busy_timeout`: a process that finds the write lock taken waits for it instead of
 *   failing at once. Every write is `BEGIN IMMEDIATE`, which takes the write lock up
 *   front, so the wait happens there (a deferred transaction that upgrades could fail
 *   with SQLITE_BUSY without waiting).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../../core/errors.js';
import { ErrorCode, IdAllocError } from '../../core/errors.js';
import {
  APPLICATION_ID,
  createStoreFile,
  identityOf,
  inspectFile,
  verifyStore,
  type FileIdentity,
} from './file-check.js';
import { initMeta } from './incarnation.js';

/** The file under DATA_DIR. */
export const DATABASE_FILE = 'idalloc.db';

/**
 * Bumped when the tables change; a file from a newer version is refused. 2: the `meta`
 * table and the `incarnation` columns of the incarnation guard (incarnation.ts). 3: the
 * shape columns of `tags` (store/shape-fields.ts; null on older rows: plain, one region).
 * 4: the `idempotency` table of Idempotency-Key records (idempotency.ts).
 */
const SCHEMA_VERSION = 4;

/**
 * IDs (`next`, `max`) are decimal TEXT: `next` reaches 2^63 (max + 1) when a tag is
 * exhausted, one past SQLite's signed 64-bit INTEGER. Arithmetic on them is BigInt,
 * inside the transaction. A row with `deleted_at` is a tombstone (see deleteTag in store.ts).
 * `incarnation` (tags, horizons): the file incarnation the row was last written under
 * (incarnation.ts); `meta`: the file's incarnation and write generation.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tags (
  name        TEXT PRIMARY KEY NOT NULL,
  mode        TEXT,
  next        TEXT,
  step        INTEGER,
  max         TEXT,
  gap         INTEGER,
  description TEXT,
  created_at  INTEGER,
  deleted_at  INTEGER,
  incarnation TEXT,
  shape       TEXT,
  prefix      TEXT,
  width       TEXT,
  key         TEXT,
  regions     TEXT,
  first       TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS worker_leases (
  id         INTEGER PRIMARY KEY NOT NULL,
  token      TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS worker_horizons (
  id          INTEGER PRIMARY KEY NOT NULL,
  h           INTEGER NOT NULL,
  floor       INTEGER,
  incarnation TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
  tag         TEXT NOT NULL,
  record      TEXT NOT NULL,
  params      TEXT NOT NULL,
  start       TEXT NOT NULL,
  "end"       TEXT NOT NULL,
  region      INTEGER NOT NULL,
  incarnation TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (tag, record)
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * Columns added since schema version 1: a file of an older idalloc gets them at open,
 * null in every existing row (so its tags read as plain, one region, shape fixed).
 */
const ADDED_COLUMNS = [
  ['tags', 'incarnation'],
  ['worker_horizons', 'incarnation'],
  ['tags', 'shape'],
  ['tags', 'prefix'],
  ['tags', 'width'],
  ['tags', 'key'],
  ['tags', 'regions'],
  ['tags', 'first'],
] as const;

/** Primary SQLite result codes that mean a damaged file or a bug rather than "try again". */
const BROKEN = new Map<number, string>([
  [1, 'SQL error'],
  [11, 'the database file is corrupt'],
  [19, 'constraint violated'],
  [20, 'datatype mismatch'],
  [21, 'library misuse'],
  [26, 'not a SQLite database'],
]);

/**
 * Primary SQLite result codes that mean "try again", in idalloc's words: a 503 says what
 * happened, SQLite's own text goes to the log only (`details.storeError`).
 */
const TRANSIENT = new Map<number, string>([
  [5, 'the file is locked by another writer'],
  [6, 'a table is locked'],
  [7, 'out of memory'],
  [8, 'the file is read-only'],
  [10, 'a disk I/O error'],
  [13, 'the disk is full'],
  [14, 'the file cannot be opened'],
  [15, 'a file locking error'],
]);

interface SqliteError extends Error {
  readonly code?: string;
  readonly errcode?: number;
}

function primaryCode(err: unknown): number | undefined {
  const e = err as SqliteError;
  return e instanceof Error && e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number'
    ? e.errcode & 0xff
    : undefined;
}

/** How long a client should wait after the store failed in a way that needs an operator, s. */
const BROKEN_RETRY_AFTER_S = 10;

/**
 * A failure of the database as UNAVAILABLE, whatever SQLite said: the allocator keeps
 * serving what it holds and tries again, a client gets 503 with `Retry-After`, and the
 * message says why in idalloc's words (SQLite's text in `details.storeError`, for the
 * log). A damaged file or a bug (`details.sqliteCode`, `details.broken`)
 * does not heal by retrying, so it asks clients to wait longer; the service logs it.
 */
export function sqliteFailure(err: unknown, what: string): IdAllocError {
  if (err instanceof IdAllocError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = primaryCode(err);
  const broken = code === undefined ? undefined : BROKEN.get(code);
  if (broken !== undefined) {
    return new IdAllocError(
      ErrorCode.UNAVAILABLE,
      `${what} failed in the embedded store (${broken})`,
      { sqliteCode: code, broken: true, storeError: message },
      { cause: err, retryAfterSeconds: BROKEN_RETRY_AFTER_S },
    );
  }
  const reason = (code === undefined ? undefined : TRANSIENT.get(code)) ?? 'see the log';
  return new IdAllocError(
    ErrorCode.UNAVAILABLE,
    `embedded store unavailable during ${what} (${reason})`,
    { storeError: message, ...(code === undefined ? {} : { sqliteCode: code }) },
    { cause: err, retryAfterSeconds: 1 },
  );
}

/**
 * Runs `fn` in a write transaction: BEGIN IMMEDIATE (waiting up to the busy timeout for
 * the lock), COMMIT, which with synchronous=FULL returns only once the log is on disk.
 * Any throw rolls back, so a refusal writes nothing.
 */
export function writeTransaction<T>(
  db: DatabaseSync,
  fn: () => T,
  /**
   * After any failure: before the ROLLBACK while the transaction is open, or at once when
   * SQLite rolled it back itself (a COMMIT failing on a full disk does).
   */
  onFailure?: () => void,
): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    onFailure?.();
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

export interface OpenOptions {
  readonly dataDir: string;
  /** How long to wait for another process's write lock, ms. */
  readonly busyTimeoutMs: number;
}

/** Configuration the operator must fix: one line naming DATA_DIR, the cause and the way out. */
function dataDirError(dataDir: string, what: string, cause: unknown): ConfigError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ConfigError(
    `DATA_DIR=${JSON.stringify(dataDir)}: ${what} (${why}); expected a writable directory on a local disk, or set REDIS_URL to use Redis`,
    { cause },
  );
}

/**
 * Opens DATA_DIR/idalloc.db with the settings above and the schema; creates a new store
 * only where no file exists (see file-check.ts for what an existing file must be).
 * @throws ConfigError naming DATA_DIR when it cannot be created or written, or holds a
 *   file this store cannot use (empty, not SQLite, not idalloc's, damaged)
 */
export function openDatabase(opts: OpenOptions): {
  db: DatabaseSync;
  path: string;
  identity: FileIdentity;
} {
  const dir = resolve(opts.dataDir);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw dataDirError(opts.dataDir, 'cannot create or write the directory', err);
  }
  const path = join(dir, DATABASE_FILE);
  let db: DatabaseSync | undefined;
  let identity: FileIdentity;
  try {
    if (inspectFile(opts.dataDir, path) === 'absent') {
      createStoreFile(path, (temp) => {
        const fresh = configure(new DatabaseSync(temp), opts.busyTimeoutMs);
        try {
          writeSchema(fresh, true);
        } finally {
          fresh.close();
        }
      });
      // A file that appeared meanwhile (another process's store) is checked like any other.
      inspectFile(opts.dataDir, path);
    }
    const opened = identityOf(path);
    db = new DatabaseSync(path);
    // The busy timeout first: the checks below read, and WAL needs a lock another
    // process may hold.
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
    verifyStore(db, opts.dataDir, path);
    const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the file has schema version ${version}, written by a newer idalloc; this one knows ${SCHEMA_VERSION}`,
      );
    }
    writeSchema(configure(db, opts.busyTimeoutMs), false);
    identity = identityOf(path);
    if (identity.dev !== opened.dev || identity.ino !== opened.ino) {
      throw new Error('the file was replaced while it was being opened');
    }
  } catch (err) {
    try {
      db?.close();
    } catch {
      // already failing: the first error is the one to report
    }
    if (err instanceof ConfigError) throw err;
    throw dataDirError(opts.dataDir, `cannot use the embedded store ${path}`, err);
  }
  return { db, path, identity };
}

/** The connection settings of the header comment; returns `db`. */
function configure(db: DatabaseSync, busyTimeoutMs: number): DatabaseSync {
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  const mode = db.prepare('PRAGMA journal_mode = WAL').get();
  if (mode?.journal_mode !== 'wal') {
    throw new Error(`journal_mode is ${String(mode?.journal_mode)}, WAL is needed`);
  }
  db.exec('PRAGMA synchronous = FULL');
  return db;
}

/**
 * The tables (if missing), the columns added since (if missing), the file's incarnation
 * (if none: `created` says whether the file is new), the schema version and this
 * project's application_id.
 */
function writeSchema(db: DatabaseSync, created: boolean): void {
  writeTransaction(db, () => {
    db.exec(SCHEMA);
    for (const [table, column] of ADDED_COLUMNS) {
      const has = db.prepare(`PRAGMA table_info(${table})`).all();
      if (!has.some((c) => c.name === column)) {
        db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
      }
    }
    initMeta(db, created);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
  });
}

/** The settings the connection actually runs with (for the start-up log and tests). */
export interface DatabaseSettings {
  readonly path: string;
  readonly journalMode: string;
  /** 2 is FULL. */
  readonly synchronous: number;
  readonly busyTimeoutMs: number;
}

export function readSettings(db: DatabaseSync, path: string): DatabaseSettings {
  const one = (pragma: string, column: string) => db.prepare(`PRAGMA ${pragma}`).get()?.[column];
  return Object.freeze({
    path,
    journalMode: String(one('journal_mode', 'journal_mode')),
    synchronous: Number(one('synchronous', 'synchronous')),
    busyTimeoutMs: Number(one('busy_timeout', 'timeout')),
  });
}
