/**
 * The embedded store's incarnation guard (docs/design.md §8.1, §11): the counterpart of
 * Redis's `run_id` for a file that can be restored, copied, renamed over, or lose its
 * write-ahead log — each of which hands back a file whose counters stand below IDs
 * already issued.
 *
 * The file records an incarnation (`embedded:` and 16 random hex digits) and a write
 * generation in its `meta` table. Every write transaction, holding SQLite's write lock,
 * first compares them with the witness file beside it (`idalloc.witness`), and last,
 * just before COMMIT, bumps the generation and rewrites the witness in place. Processes sharing the file write under one lock, so the witness always
 * names the file's last commit. The witness also names the file itself: its inode
 * number and birth time (`FileIdentity.stamp` of file-check.ts), which a copy of the
 * file does not keep — so a copy of the whole directory, witness included (cp -a,
 * rsync, tar), put back is told apart too. A witness that is missing while the file has been written,
 * that cannot be read, or that names another incarnation, generation or file means the
 * file is not the one last written here: the file gets a new incarnation, so every
 * tag row and worker horizon recorded under another skips its gap (or is fenced by the
 * margin) on its next use, exactly as after a Redis restart. A witness written before
 * it named the file (an upgrade) is adopted as it is; the next write adds the file.
 *
 * The witness costs a grant about 0.1 ms: one write of a fixed {@link WITNESS_BYTES}
 * bytes at offset 0, never truncated (a truncating rewrite or a rename makes ext4 flush,
 * a few ms), not fsynced. A process that dies leaves it whole (the page cache survives
 * it); after a power cut a witness older than the file, torn, empty or missing reads as
 * "not the file last written" — a gap per tag, never a repeat. Likewise a crash between
 * the witness and COMMIT leaves it one write ahead: one gap per tag.
 *
 * Limits: files copied back over the existing ones in place (`cp` onto them, `rsync
 * --inplace`) keep their inodes, so a witness restored with the file that way cannot be
 * told from the real state; nor can a block-level snapshot of the volume, or a copy of
 * the directory whose witness does not name the file yet (adopted). A move of the
 * directory to another filesystem gives the file a new inode: one gap per tag, safe.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { newDeploymentId } from '../../core/deployment.js';
import { messageOf } from './file-check.js';

/** The witness beside the database file (not matched by `idalloc.db*`). */
export const WITNESS_FILE = 'idalloc.witness';

/** Every witness is this long (JSON padded with spaces): rewritten, never truncated. */
export const WITNESS_BYTES = 256;

/** Writes `text` over the start of `path` (created if missing), cutting only a longer file. */
function writeInPlace(path: string, text: string): void {
  const bytes = Buffer.from(text);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
    if (fstatSync(fd).size > bytes.length) ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

/** What a write transaction finds the file to be. */
export interface Incarnation {
  /** What tag rows and horizons record; the grant log's incarnation. */
  readonly id: string;
  /**
   * True while the file keeps the incarnation it was created with: no restore was ever
   * detected and it is not a file of an idalloc from before the guard. Only then does a
   * worker ID without a horizon start at the next millisecond (no holder ever used it).
   */
  readonly fresh: boolean;
}

/** The state a write transaction opened with, to seal it (or undo the seal). */
export interface Opened extends Incarnation {
  readonly generation: number;
  /** Why a new incarnation was set in this transaction, or undefined. */
  readonly rotated?: string;
  /** The witness as it was (undefined: there was none), to put back after a failed COMMIT. */
  readonly previous: string | undefined;
}

/** A new incarnation id. */
export function newIncarnation(): string {
  return `embedded:${randomBytes(8).toString('hex')}`;
}

/**
 * The `meta` rows of a file: written by {@link initMeta} in the schema transaction. A
 * new file is fresh; a file from before the guard gets an incarnation no tag row names,
 * so each tag skips its gap once (it may have been restored: nothing says otherwise).
 */
export function initMeta(db: DatabaseSync, created: boolean): void {
  const put = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
  put.run('incarnation', newIncarnation());
  put.run('generation', '0');
  put.run('fresh', created ? '1' : '0');
  // The deployment's identity (core/deployment.ts): a file of an older idalloc gets one
  // at its first open here. Not part of the witness: it says which deployment, not which state.
  put.run('deployment', newDeploymentId());
}

/** The deployment id the `meta` table holds (see {@link initMeta}). */
export function readDeploymentId(db: DatabaseSync): unknown {
  return db.prepare("SELECT value FROM meta WHERE key = 'deployment'").get()?.value;
}

/** Sets the deployment id; in a guarded write, so the witness stays the file's last commit. */
export function writeDeploymentId(db: DatabaseSync, id: string): void {
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('deployment', ?)").run(id);
}

/** A file never written (generation 0, a valid incarnation) adopts whatever witness it finds. */
function adopts(m: { id: string; generation: number }): boolean {
  return m.generation === 0 && m.id !== '';
}

export class IncarnationGuard {
  /** Absolute path of the witness. */
  readonly witnessPath: string;
  private readonly getMeta: StatementSync;
  private readonly setMeta: StatementSync;

  /** `file`: the stamp (file-check.ts `FileIdentity`) of the file opened; FileGuard keeps it so. */
  constructor(
    db: DatabaseSync,
    dbPath: string,
    private readonly file: string,
  ) {
    this.witnessPath = join(dirname(dbPath), WITNESS_FILE);
    this.getMeta = db.prepare('SELECT key, value FROM meta');
    this.setMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  }

  /**
   * First in a write transaction: the file's incarnation, a new one (set in meta, with
   * the reason in `rotated`) when the witness says the file is not the one last written.
   */
  open(): Opened {
    const m = this.meta();
    const previous = this.readWitness();
    const fault = this.fault(previous, m);
    if (fault === undefined) return { ...m, previous };
    if (adopts(m)) {
      // A file never written holds no grant to protect: no witness, or the witness of
      // another file (one deleted, or this one before a never-written copy of it was put
      // back), which is replaced. But that file's nodes may have used any worker ID: a
      // file that finds one is not fresh any more (its worker IDs wait the margin).
      if (previous === undefined) return { ...m, previous };
      if (m.fresh) this.setMeta.run('fresh', '0');
      return { ...m, fresh: false, previous };
    }
    const id = newIncarnation();
    this.setMeta.run('incarnation', id);
    this.setMeta.run('fresh', '0');
    return { id, fresh: false, generation: m.generation, previous, rotated: fault };
  }

  /** Last before COMMIT: the next generation, in meta and in the witness. */
  seal(o: Opened): void {
    const generation = o.generation + 1;
    this.setMeta.run('generation', String(generation));
    const text = JSON.stringify({
      incarnation: o.id,
      generation,
      file: this.file,
      note: "idalloc's record of the last write to idalloc.db here; never copy or restore it with the database",
    });
    try {
      writeInPlace(this.witnessPath, `${text.padEnd(WITNESS_BYTES - 1)}\n`);
    } catch (err) {
      throw new Error(`cannot write ${this.witnessPath}: ${messageOf(err)}`, { cause: err });
    }
  }

  /** After a failed COMMIT: the witness as it was (best effort). */
  unseal(o: Opened): void {
    try {
      if (o.previous === undefined) rmSync(this.witnessPath, { force: true });
      else writeInPlace(this.witnessPath, o.previous);
    } catch {
      // Left one generation ahead: the next write sets a new incarnation (a gap, safe).
    }
  }

  /**
   * Outside a transaction (a look at worker IDs): the incarnation a write would find; an
   * id no row names when the write would set a new one.
   */
  peek(): Incarnation {
    const m = this.meta();
    const text = this.readWitness();
    const fault = this.fault(text, m);
    if (fault === undefined) return { id: m.id, fresh: m.fresh };
    if (!adopts(m)) return { id: '', fresh: false };
    return { id: m.id, fresh: m.fresh && text === undefined };
  }

  private meta(): { id: string; generation: number; fresh: boolean } {
    const rows = new Map<string, unknown>();
    for (const r of this.getMeta.all()) rows.set(String(r.key), r.value);
    const id = rows.get('incarnation');
    const gen = Number(rows.get('generation'));
    // Damaged meta (a hand edit) counts as a file of unknown history.
    const valid = typeof id === 'string' && id !== '' && Number.isSafeInteger(gen) && gen >= 0;
    return valid
      ? { id, generation: gen, fresh: rows.get('fresh') === '1' }
      : { id: '', generation: Number.isSafeInteger(gen) && gen >= 0 ? gen : 0, fresh: false };
  }

  private readWitness(): string | undefined {
    try {
      return readFileSync(this.witnessPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      // Unreadable counts as not matching; writing it will say why, if it still fails.
      return '';
    }
  }

  /** Why the witness does not name the file's last commit, or undefined when it does. */
  private fault(
    text: string | undefined,
    m: { id: string; generation: number },
  ): string | undefined {
    if (m.id === '') return 'the file records no valid incarnation';
    if (text === undefined) return `${this.witnessPath} is missing`;
    let w: { incarnation?: unknown; generation?: unknown; file?: unknown } = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) w = parsed as typeof w;
    } catch {
      // below: unreadable
    }
    if (typeof w.incarnation !== 'string' || typeof w.generation !== 'number') {
      return `${this.witnessPath} cannot be read`;
    }
    if (w.incarnation !== m.id) {
      return `${this.witnessPath} names incarnation ${w.incarnation}, the file ${m.id}`;
    }
    if (w.generation !== m.generation) {
      return `${this.witnessPath} names write ${w.generation}, the file ${m.generation}`;
    }
    // No `file` (a witness from before it was recorded): adopted, the next seal adds it.
    if (w.file !== undefined && w.file !== this.file) {
      return `${this.witnessPath} names the file with inode:birth time ${String(w.file)}, this one has ${this.file} (a copy, not the file last written here)`;
    }
    return undefined;
  }
}
