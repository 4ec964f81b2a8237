/**
 * The log of a connection's outages (issue 17): the store client reports an error on
 * every reconnect attempt — about two a second per node during an outage, each a warn
 * line — which buries everything else in the log. Here an outage is three kinds of line
 * only: one warn when it starts (the first error while every connection was up), a warn
 * summary at most every `summaryEveryMs` while it lasts (errors since the last line, the
 * last error), one info when it ends (every connection that failed is ready again).
 *
 * Pure: no timer, the clock is given. A summary is due on the next error after the
 * interval, and the client reports one at every reconnect attempt (its backoff tops out
 * at 2 s), so an outage that lasts gets its summaries without a timer to stop.
 */

/** The part of the logger the outage log writes to (pino's signature). */
export interface OutageLogger {
  warn(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
}

export interface OutageLogOptions {
  /** What is down, as the lines name it: "store connection". */
  readonly subject: string;
  readonly log: OutageLogger;
  /** @default 60_000 */
  readonly summaryEveryMs?: number;
  /** ms clock; @default Date.now */
  readonly now?: () => number;
}

/** The outage log of one or more connections (`connection`: which of them). */
export class OutageLog {
  private readonly down = new Set<string>();
  private since = 0;
  private lastLineAt = 0;
  /** Errors in this outage, and since the last line about it. */
  private errors = 0;
  private errorsSinceLine = 0;
  private readonly every: number;
  private readonly now: () => number;

  constructor(private readonly opts: OutageLogOptions) {
    this.every = opts.summaryEveryMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** True while at least one connection is down. */
  get inOutage(): boolean {
    return this.down.size > 0;
  }

  /** A connection error: the start of an outage, or one more in it. */
  error(err: Error, connection = 'default'): void {
    const now = this.now();
    const starts = this.down.size === 0;
    this.down.add(connection);
    this.errors += 1;
    this.errorsSinceLine += 1;
    const { subject, log } = this.opts;
    // The client's own text belongs here, in the log: it says what the socket saw.
    if (starts) {
      this.since = now;
      this.errors = 1;
      this.lineAt(now);
      log.warn({ connection, err: err.message }, `${subject} lost: reconnecting`);
      return;
    }
    if (now - this.lastLineAt < this.every) return;
    log.warn(
      {
        connection: [...this.down].join(','),
        errors: this.errorsSinceLine,
        lastError: err.message,
        downMs: now - this.since,
      },
      `${subject} still down: ${this.errorsSinceLine} errors in the last ${Math.round((now - this.lastLineAt) / 1000)} s`,
    );
    this.lineAt(now);
  }

  /** A connection is ready: the end of the outage once none is down. */
  ready(connection = 'default'): void {
    if (!this.down.delete(connection) || this.down.size > 0) return;
    const now = this.now();
    this.opts.log.info(
      { errors: this.errors, downMs: now - this.since },
      `${this.opts.subject} back after ${Math.round((now - this.since) / 1000)} s`,
    );
    this.errors = 0;
    this.errorsSinceLine = 0;
  }

  private lineAt(now: number): void {
    this.lastLineAt = now;
    this.errorsSinceLine = 0;
  }
}
