/**
 * The embedded store's file at start: what is accepted as a store and how a new store
 * comes into being (README "Stores → Embedded").
 *
 * At start, a file that exists must be a sound database of this project: a 0-byte file,
 * a file that is not SQLite, a SQLite database of something else, or one failing
 * `PRAGMA quick_check` is refused with one line, never taken for an empty store (every
 * tag would start again from 1). A new store is made only where no file exists, and
 * atomically: written complete under a temporary name, then hard-linked to the path
 * (a link fails if the path exists, so two processes starting at once share one store).
 *
 * While running, file-guard.ts checks that the file at the path is still the one opened.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../../core/errors.js';

/** `PRAGMA application_id` of an idalloc store: "idal" in ASCII. */
export const APPLICATION_ID = 0x6964616c;

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * The way out named by every refusal of an existing file: the safe one first. A copy of
 * the file put back is safe on the conditions README "Restore the embedded store" gives
 * (incarnation.ts: found restored, each tag skips its gap).
 */
const WAY_OUT =
  "move it (with its -wal and -shm) away and recreate the tags with 'tag import' of the latest export, the one-command safe way; or put back a copy of the file (a restored copy is detected and each tag skips its gap on its next grant: safe if fewer IDs than the gap were issued since the copy, and if the copy comes back as a new file, not copied over the old one in place, or without idalloc.witness); delete it only if no ID was ever issued from it; a new store is created only where no file exists";

/** A refused store file: one line naming DATA_DIR, the file, the fault and the way out. */
export function storeFileError(
  dataDir: string,
  path: string,
  fault: string,
  cause?: unknown,
): ConfigError {
  return new ConfigError(
    `DATA_DIR=${JSON.stringify(dataDir)}: the embedded store ${path} ${fault}; ${WAY_OUT}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * What is at `path` before it is opened: `'absent'`, or `'present'` when it looks like a
 * SQLite file (its contents are checked once open, see {@link verifyStore}).
 * @throws ConfigError for a 0-byte file, something other than a regular file, or a file
 *   without the SQLite header
 */
export function inspectFile(dataDir: string, path: string): 'absent' | 'present' {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 'absent';
  if (!st.isFile()) return fault('is not a regular file');
  if (st.size === 0) return fault('is empty (0 bytes): it holds no tags, not even an empty store');
  const head = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(SQLITE_HEADER)) return fault('is not a SQLite database (no SQLite header)');
  return 'present';

  function fault(what: string): never {
    throw storeFileError(dataDir, path, what);
  }
}

/**
 * Checks an opened existing file before anything is written to it: `PRAGMA quick_check`
 * passes, and it is an idalloc store (our application_id, or — a file written before
 * the id existed — none with our `tags` table and a schema version).
 * @returns true when the application_id is still to be set (an older idalloc file)
 * @throws ConfigError naming the file and the fault
 */
export function verifyStore(db: DatabaseSync, dataDir: string, path: string): boolean {
  let problems: string[];
  try {
    problems = db
      .prepare('PRAGMA quick_check(5)')
      .all()
      .map((row) => String(row.quick_check));
  } catch (err) {
    throw storeFileError(dataDir, path, `is damaged (${messageOf(err)})`, err);
  }
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw storeFileError(dataDir, path, `fails PRAGMA quick_check (${problems.join('; ')})`);
  }
  const appId = Number(db.prepare('PRAGMA application_id').get()?.application_id ?? 0);
  if (appId === APPLICATION_ID) return false;
  if (appId !== 0) {
    throw storeFileError(
      dataDir,
      path,
      `is a SQLite database of another application (application_id ${appId}, idalloc's is ${APPLICATION_ID})`,
    );
  }
  const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
  const tags = db
    .prepare("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = 'tags'")
    .get();
  if (version < 1 || tags === undefined) {
    throw storeFileError(dataDir, path, 'is a SQLite database without the tables of idalloc');
  }
  return true;
}

/**
 * Makes a complete new store at `path` unless a file appeared there meanwhile: `init`
 * writes the schema into a temporary file in the same directory, which is then linked
 * to `path` (atomic, and refused if `path` exists) and its directory entry synced.
 */
export function createStoreFile(path: string, init: (tempPath: string) => void): void {
  const temp = join(
    dirname(path),
    `.${basename(path)}.new-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    init(temp);
    try {
      linkSync(temp, path);
    } catch (err) {
      // Another process made the store first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(temp + suffix, { force: true });
  }
}

/** Device and inode: which file a path named when it was opened. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  /**
   * The inode number and birth time (ns; 0 where the filesystem records none), as the
   * witness records them (incarnation.ts): a copy of the file has others. Not the
   * device number, which can change across a reboot or remount of the same volume.
   */
  readonly stamp: string;
}

export function identityOf(path: string): FileIdentity {
  const st = statSync(path, { bigint: true });
  return { dev: Number(st.dev), ino: Number(st.ino), stamp: `${st.ino}:${st.birthtimeNs}` };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
