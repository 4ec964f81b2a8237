/**
 * Where the service's log lines go: stdout, written so that the log can never hold the
 * process. pino's default destination (sonic-boom) flushes its buffer synchronously when
 * the process exits and retries a failed write every 100 ms for as long as it fails: with
 * the reader of stdout gone (a dead log shipper, a pipe to `head`) every write fails with
 * EPIPE, so `process.exit` never returned and SIGTERM hung for ever.
 *
 * Here a line is written at once, without blocking:
 * - a reader that stopped reading (EAGAIN) leaves lines in a bounded buffer, retried on
 *   a timer; past the bound, lines are dropped and counted;
 * - a write that fails otherwise (EPIPE, ENOSPC, EIO…) marks the destination broken: it
 *   says so once on stderr, and every later line is dropped and counted, never retried;
 * - at exit, what is still buffered gets one more non-blocking attempt, never a wait.
 */
import { writeSync } from 'node:fs';

/** Bytes kept for a reader that stopped reading, before lines are dropped. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** How often a stalled reader is tried again, ms. */
const RETRY_MS = 50;

export class LogDestination {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private retry: NodeJS.Timeout | undefined;
  private brokenBy: string | undefined;
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

  /** pino's DestinationStream. Never throws, never blocks. */
  write(line: string): void {
    if (this.brokenBy !== undefined) {
      this.dropped++;
      return;
    }
    const bytes = Buffer.from(line);
    if (this.pendingBytes + bytes.length > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.retry === undefined) this.flush();
  }

  /** Writes what is buffered until done, stalled (retried later) or broken. */
  flush(): void {
    while (this.pending.length > 0 && this.brokenBy === undefined) {
      const head = this.pending[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        if (code === 'EAGAIN') return this.later();
        return this.break(code);
      }
      this.pendingBytes -= written;
      // A short write leaves the rest of the line first in line.
      if (written < head.length) this.pending[0] = head.subarray(written);
      else this.pending.shift();
    }
  }

  /** The last attempt before the process ends: no timer, no wait. */
  exit(): void {
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    // A stalled reader gets one try per buffered line at most: EAGAIN ends it.
    try {
      for (const head of this.pending) {
        if (writeSync(this.fd, head) < head.length) break;
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
