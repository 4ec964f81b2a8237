/**
 * Where the service's log lines go: stdout, written so that the log can never hold the
 * process. pino's default destination (sonic-boom) flushes its buffer synchronously when
 * the process exits and retries a failed write every 100 ms for as long as it fails: with
 * the reader of stdout gone (a dead log shipper, a pipe to `head`) every write fails with
 * EPIPE, so `process.exit` never returned and SIGTERM hung for ever.
 *
 * Here a line is written at once, without blocking:
 * - a reader that stopped reading (EAGAIN) leaves lines in a bounded buffer, retried on
 *   a timer; past the bound, lines are dropped and counted — but a grant line (one written
 *   through {@link LogDestination.writeGrant}) is never dropped for room: other buffered
 *   lines are dropped to make room for it, and if grant lines alone fill the buffer it is
 *   refused, so the grant is not served (core/grant-log.ts);
 * - a write that fails otherwise (EPIPE, ENOSPC, EIO…) marks the destination broken: it
 *   says so once on stderr, and every later line is dropped and counted, never retried;
 * - at exit, what is still buffered gets one more non-blocking attempt, never a wait.
 */
import { writeSync } from 'node:fs';
import type { GrantLineOutput } from '../grants/stdout.js';

/** Bytes kept for a reader that stopped reading, before lines are dropped. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** How often a stalled reader is tried again, ms. */
const RETRY_MS = 50;

/** A buffered line; `grant` lines are never dropped to make room. */
interface Pending {
  bytes: Buffer;
  readonly grant: boolean;
}

/** What became of the grant line written during {@link LogDestination.writeGrant}. */
type GrantOutcome = 'none' | 'taken' | 'refused';

export class LogDestination implements GrantLineOutput {
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private retry: NodeJS.Timeout | undefined;
  private brokenBy: string | undefined;
  /** Set while {@link writeGrant} runs: the line written then is a grant line. */
  private grantOutcome: GrantOutcome | undefined;
  /** A grant line was refused for room, and the buffer has not drained since. */
  private grantsRefused = false;
  /** Lines not written: the destination broke, or the buffer was full. */
  dropped = 0;

  /**
   * @param fd where lines go (a non-blocking pipe, a file, a terminal)
   * @param report told once when the destination breaks (it must not write to `fd`)
   */
  constructor(
    private readonly fd: number,
    private readonly report: (line: string) => void,
  ) {}

  /** Why writes stopped (an error code), or undefined while lines are written. */
  get broken(): string | undefined {
    return this.brokenBy;
  }

  /**
   * Why grant lines cannot be taken now: the destination broke (the error code, for
   * good), or its reader stalled with grant lines filling the buffer ('stalled'); else
   * undefined.
   */
  get grantFault(): string | undefined {
    if (this.brokenBy !== undefined) return this.brokenBy;
    return this.grantsRefused ? 'stalled' : undefined;
  }

  /**
   * Runs `emit`, which writes one grant line through the logger (pino calls
   * {@link write} synchronously from `logger.info`), and says whether that line was
   * written or buffered. A line buffered for a stalled reader is lost if the destination
   * breaks before it is written, or the process ends first: that is the limit of a grant
   * log on stdout.
   * @returns why the line was not taken (see {@link grantFault}), or undefined — also when
   *   no line reached the destination (a LOG_LEVEL above info, warned at start-up)
   */
  writeGrant(emit: () => void): string | undefined {
    this.grantOutcome = 'none';
    let outcome: GrantOutcome | undefined;
    try {
      emit();
    } finally {
      outcome = this.endGrant();
    }
    return outcome === 'refused' ? (this.grantFault ?? 'stalled') : undefined;
  }

  /** Ends {@link writeGrant}'s watch. @returns what became of its line */
  private endGrant(): GrantOutcome | undefined {
    const outcome = this.grantOutcome;
    this.grantOutcome = undefined;
    return outcome;
  }

  /** pino's DestinationStream. Never throws, never blocks. */
  write(line: string): void {
    const grant = this.grantOutcome !== undefined;
    if (this.brokenBy !== undefined) {
      this.dropped++;
      if (grant) this.grantOutcome = 'refused';
      return;
    }
    const bytes = Buffer.from(line);
    if (this.pendingBytes + bytes.length > MAX_PENDING_BYTES && !(grant && this.makeRoom(bytes))) {
      this.dropped++;
      if (grant) {
        this.grantOutcome = 'refused';
        this.grantsRefused = true;
      }
      return;
    }
    if (grant) this.grantOutcome = 'taken';
    this.pending.push({ bytes, grant });
    this.pendingBytes += bytes.length;
    if (this.retry === undefined) this.flush();
    // Broken while writing it (or the lines before it): the grant line is lost.
    if (grant && this.brokenBy !== undefined) this.grantOutcome = 'refused';
  }

  /** Tells `line` where the destination reports its own failure (stderr), not to `fd`. */
  say(line: string): void {
    this.report(line);
  }

  /**
   * Drops buffered lines that are not grant lines (never the first, which may be half
   * written), newest first, until `bytes` fits. @returns whether it fits now
   */
  private makeRoom(bytes: Buffer): boolean {
    for (let i = this.pending.length - 1; i >= 1; i--) {
      if (this.pendingBytes + bytes.length <= MAX_PENDING_BYTES) break;
      const line = this.pending[i]!;
      if (line.grant) continue;
      this.pending.splice(i, 1);
      this.pendingBytes -= line.bytes.length;
      this.dropped++;
    }
    return this.pendingBytes + bytes.length <= MAX_PENDING_BYTES;
  }

  /** Writes what is buffered until done, stalled (retried later) or broken. */
  flush(): void {
    while (this.pending.length > 0 && this.brokenBy === undefined) {
      const head = this.pending[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head.bytes);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        if (code === 'EAGAIN') return this.later();
        return this.break(code);
      }
      this.pendingBytes -= written;
      // A short write leaves the rest of the line first in line.
      if (written < head.bytes.length) head.bytes = head.bytes.subarray(written);
      else this.pending.shift();
    }
    // Drained: grant lines find room again.
    if (this.pending.length === 0) this.grantsRefused = false;
  }

  /** The last attempt before the process ends: no timer, no wait. */
  exit(): void {
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    // A stalled reader gets one try per buffered line at most: EAGAIN ends it.
    try {
      for (const head of this.pending) {
        if (writeSync(this.fd, head.bytes) < head.bytes.length) break;
      }
    } catch {
      // Nothing more can be done for these lines: the process is ending.
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  private later(): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.flush();
    }, RETRY_MS);
    // A stalled reader must not keep the process alive.
    this.retry.unref();
  }

  private break(code: string): void {
    this.brokenBy = code;
    this.dropped += this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
    this.report(
      `idalloc: cannot write the log to fd ${this.fd} (${code}): further log lines are dropped`,
    );
  }
}

/**
 * The destination of the service's logger: stdout. Node's `process.stdout` is created
 * first because, for a pipe, creating it puts the pipe in non-blocking mode (libuv): a
 * reader that stops reading then makes a write fail with EAGAIN instead of blocking the
 * process, which could then not even handle SIGTERM. Errors of Node's own streams
 * (EPIPE on a dead stderr) are ignored: an unhandled 'error' there would end the process.
 */
export function stdoutDestination(): LogDestination {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const dest = new LogDestination(process.stdout.fd, (line) => {
    try {
      writeSync(process.stderr.fd, `${line}\n`);
    } catch {
      // stderr is gone too: there is no one left to tell.
    }
  });
  process.on('exit', () => dest.exit());
  return dest;
}
