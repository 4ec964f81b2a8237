/**
 * Whether this node should get traffic (`GET /readyz`, docs/fleet-readiness.md): the node
 * is up (not starting, not draining), no fault stops it for good (the embedded store's
 * file gone, a grant log it cannot write), and the allocator can serve IDs in some way
 * (the store answers, its buffers hold IDs, or its snowflake worker ID mints: see
 * allocator/readiness.ts). The last answer also drives `idalloc_store_up` and
 * `idalloc_ready`, so a scrape never waits on the store.
 */
import type { IdAllocator, Readiness } from '../allocator/types.js';
import type { Metrics } from '../observe/metrics/index.js';

export interface ReadyStateOptions {
  readonly allocator: Pick<IdAllocator, 'readiness'>;
  readonly metrics: Pick<Metrics, 'setStoreUp' | 'setReady'>;
  /**
   * Why the store will not serve again until restarted (the embedded store's file
   * deleted or replaced), once known: then that is the reason `/readyz` gives.
   */
  readonly storeFault?: () => string | undefined;
  /**
   * Why the grant log cannot be written (`GRANT_LOG`), while it cannot: no new IDs are
   * served then. Asking also tries it again when due, so a node without traffic recovers.
   */
  readonly grantLogFault?: () => string | undefined;
  /** The longest a check may take before it counts as not ready. @default 2000 */
  readonly timeoutMs?: number;
}

/** Where a node is in its life: only an `up` node can be ready. */
export type NodePhase = 'starting' | 'up' | 'draining';

/** The answer while the node is not up yet (before it listens). */
export const STARTING: Readiness = Object.freeze({
  ready: false,
  reason: 'starting: the node is not up yet',
});
/** The answer from the first moment of a shutdown (SIGTERM/SIGINT), for good. */
export const DRAINING: Readiness = Object.freeze({
  ready: false,
  reason: 'draining: the node is shutting down',
});

export class ReadyState {
  private phase: NodePhase = 'starting';
  private readonly timeoutMs: number;

  constructor(private readonly opts: ReadyStateOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** True once shutdown began: `/readyz` answers 503 from then on. */
  get shuttingDown(): boolean {
    return this.phase === 'draining';
  }

  /** The node listens: from now on readiness is the allocator's (see {@link check}). */
  markUp(): void {
    if (this.phase === 'starting') this.phase = 'up';
  }

  /** Marks the start of shutdown (never undone): `idalloc_ready` 0 at once. */
  beginShutdown(): void {
    this.phase = 'draining';
    this.opts.metrics.setReady(false);
  }

  /**
   * Asks the allocator (bounded by the timeout), records whether the store is up, and
   * answers: starting, draining and a standing fault come before what the allocator says.
   */
  async check(): Promise<Readiness> {
    const early = this.phaseAnswer();
    if (early) return this.record(early);
    const readiness = await this.bounded(this.opts.allocator.readiness(), (reason) => ({
      ready: false,
      reason,
    }));
    // The allocator tries the store first: it is ready from the store exactly when the
    // store answered its ping (a second ping here would cost a probe another wait).
    this.opts.metrics.setStoreUp(readiness.serving === 'store');
    const fault = this.opts.storeFault?.() ?? this.opts.grantLogFault?.();
    const answer =
      this.phaseAnswer() ?? (fault !== undefined ? { ready: false, reason: fault } : readiness);
    return this.record(answer);
  }

  private phaseAnswer(): Readiness | undefined {
    if (this.phase === 'starting') return STARTING;
    if (this.phase === 'draining') return DRAINING;
    return undefined;
  }

  private record(answer: Readiness): Readiness {
    this.opts.metrics.setReady(answer.ready);
    return answer;
  }

  /**
   * Checks every `intervalMs` so that `idalloc_store_up` stays current without probes.
   * @returns a function that stops the polling
   */
  poll(intervalMs: number): () => void {
    const timer = setInterval(() => void this.check(), intervalMs);
    timer.unref();
    void this.check();
    return () => clearInterval(timer);
  }

  private bounded<T>(work: Promise<T>, onFailure: (reason: string) => T): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<T>((resolve) => {
      timer = setTimeout(
        () => resolve(onFailure(`readiness check took longer than ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    const answered = work.then(
      (v) => v,
      (err: unknown) =>
        onFailure(`readiness check failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    return Promise.race([answered, timeout]).finally(() => clearTimeout(timer));
  }
}
