/**
 * Whether this node should get traffic (`GET /readyz`): the allocator is ready (store
 * answers, snowflake worker held) and the process is not shutting down. The last answer
 * also drives `idalloc_store_up`, so a scrape never waits on the store.
 */
import type { IdAllocator, Readiness } from '../allocator/types.js';
import type { Metrics } from '../observe/metrics/index.js';

export interface ReadyStateOptions {
  readonly allocator: Pick<IdAllocator, 'readiness'>;
  readonly metrics: Pick<Metrics, 'setStoreUp'>;
  /**
   * Whether the store answers; feeds `idalloc_store_up` apart from readiness (which also
   * needs a snowflake worker). Without it the readiness answer is used.
   */
  readonly ping?: () => Promise<boolean>;
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

export class ReadyState {
  private stopping = false;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ReadyStateOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** True once shutdown began: `/readyz` answers 503 from then on. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  /** Marks the start of shutdown (never undone). */
  beginShutdown(): void {
    this.stopping = true;
  }

  /** Asks the allocator (bounded by the timeout) and records whether the store is up. */
  async check(): Promise<Readiness> {
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    const [readiness, storeUp] = await Promise.all([
      this.bounded(this.opts.allocator.readiness(), (reason) => ({ ready: false, reason })),
      this.opts.ping ? this.bounded(this.opts.ping(), () => false) : undefined,
    ]);
    this.opts.metrics.setStoreUp(storeUp ?? readiness.ready);
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    const fault = this.opts.storeFault?.() ?? this.opts.grantLogFault?.();
    return fault !== undefined ? { ready: false, reason: fault } : readiness;
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
