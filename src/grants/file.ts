/**
 * `GRANT_LOG`: the file grant lines are appended to (docs/design.md §9, "the grant log
 * file"). Every write is checked: a line is written whole (a short write is followed by
 * the rest of the line) or it is an error the caller acts on — the allocator does not
 * serve a grant whose line failed ({@link GrantLogError}, a 503 naming the grant log).
 *
 * - A failure is one error log line, not one per grant; from then on the log is failing:
 *   every record fails at once, without writing, so no new grant is taken.
 * - Recovery: at most every {@link PROBE_MS}, a caller about to take a grant (or the
 *   readiness check) writes a note line (`"msg":"grant log writable again"`, not a grant
 *   line: the audit skips it); once it is written whole, grants are recorded again.
 * - A line cut by a failed write is ended with a newline before the next line, so that
 *   the next one is not glued to it (the audit reports the cut line as unreadable).
 * - The path must not be a symbolic link (opened with O_NOFOLLOW); `reopen()` (SIGHUP,
 *   after logrotate moved the file away) opens the path again, so lines go to the new file.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { GRANT_LOG_PROBE_MS, GrantLogError } from '../core/errors.js';

/** How often a failing grant log is tried again, ms. */
export const PROBE_MS = GRANT_LOG_PROBE_MS;

/** The logging a grant file needs: its failures and its recovery, one line each. */
export interface GrantFileLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** `path` opened for appending; a symbolic link is refused (ELOOP). */
function openForAppend(path: string): number {
  return openSync(
    path,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o644,
  );
}

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ELOOP') return 'it is a symbolic link';
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

export class GrantFile {
  private fd: number | undefined;
  /** Why lines cannot be written, while they cannot. */
  private failure: string | undefined;
  /** The last line was cut by a failed write: the next write ends it first. */
  private cut = false;
  private nextProbeAt = 0;
  /** Records refused since the log began failing. */
  private refused = 0;

  /** @throws the open's error (ELOOP for a symbolic link): the caller names GRANT_LOG */
  constructor(
    readonly path: string,
    private readonly log: GrantFileLog,
    private readonly now: () => number,
  ) {
    this.fd = openForAppend(path);
  }

  /** Why grant lines cannot be written now, or undefined. Tries again when due. */
  check(): string | undefined {
    if (this.failure !== undefined && this.now() >= this.nextProbeAt) this.probe();
    return this.failure;
  }

  /** @throws GrantLogError while lines cannot be written (tried again when due) */
  ensureWritable(): void {
    const failure = this.check();
    if (failure !== undefined) throw new GrantLogError(this.answer(failure));
  }

  /** Appends `line` (newline-terminated) whole. @throws GrantLogError when it could not */
  write(line: string): void {
    if (this.failure !== undefined) {
      this.refused++;
      throw new GrantLogError(this.answer(this.failure));
    }
    try {
      this.writeWhole(line);
    } catch (err) {
      this.refused++;
      throw new GrantLogError(this.answer(this.fail(`cannot write to it: ${why(err)}`)));
    }
  }

  /**
   * Opens the path again (SIGHUP, after a rotation moved or deleted the file): lines go
   * to the file now at the path.
   * @returns why it could not be opened (the log is then failing), or undefined
   */
  reopen(): string | undefined {
    let fd: number;
    try {
      fd = openForAppend(this.path);
    } catch (err) {
      this.closeFd();
      return this.fail(`cannot reopen it: ${why(err)}`);
    }
    this.closeFd();
    this.fd = fd;
    this.cut = false; // a cut line stays in the old file; the new one starts clean
    if (this.failure !== undefined) {
      this.nextProbeAt = 0;
      this.probe();
    }
    return this.failure;
  }

  close(): void {
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Writes `line` to the end, looping over short writes; throws on the first error. */
  private writeWhole(line: string): void {
    if (this.fd === undefined) {
      throw Object.assign(new Error('the file is not open'), { code: 'EBADF' });
    }
    let rest = Buffer.from(this.cut ? `\n${line}` : line);
    const total = rest.length;
    try {
      while (rest.length > 0) {
        const n = writeSync(this.fd, rest);
        // A write of nothing would loop for ever: count it as the failure it is.
        if (n <= 0) throw Object.assign(new Error('wrote 0 bytes'), { code: 'EIO' });
        rest = rest.subarray(n);
      }
    } finally {
      // Part of this line is in the file without its end: the next write ends it.
      if (rest.length > 0 && rest.length < total) this.cut = true;
      else if (rest.length === 0) this.cut = false;
    }
  }

  /** Enters (or stays in) the failing state; says so once. @returns the failure */
  private fail(reason: string): string {
    const failure = `GRANT_LOG=${this.path}: ${reason}`;
    if (this.failure === undefined) {
      this.log.error(
        { grantLog: this.path },
        `${failure}: no new IDs are served until grant lines can be written again (tried every ${PROBE_MS / 1000} s)`,
      );
    }
    this.failure = failure;
    this.nextProbeAt = this.now() + PROBE_MS;
    return failure;
  }

  /** One attempt to leave the failing state: reopen if closed, write a note line. */
  private probe(): void {
    this.nextProbeAt = this.now() + PROBE_MS;
    try {
      this.fd ??= openForAppend(this.path);
      const note = { time: new Date(this.now()).toISOString(), msg: 'grant log writable again' };
      this.writeWhole(
        `${JSON.stringify({ ...note, after: this.failure, refused: this.refused })}\n`,
      );
    } catch {
      return; // still failing: said once already
    }
    this.log.info(
      { grantLog: this.path, refused: this.refused },
      `GRANT_LOG=${this.path}: writable again; grants are served again`,
    );
    this.failure = undefined;
    this.refused = 0;
  }

  private answer(failure: string): string {
    return `the grant log cannot be written (${failure}): this node serves no IDs whose grant it cannot record`;
  }
}
