/**
 * A load generator for the fault tests and the soak script: `concurrency` loops, each
 * asking the targets (allocator nodes or service processes) for IDs of the tags in turn,
 * recording every ID served, every error by code, and every outage (a span in which a
 * tag's every request failed), until stopped.
 */
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { IdLedger } from './ledger.js';
import { pause } from './wait.js';

/** Something that serves IDs: an in-process allocator, or an HTTP client of a node. */
export interface LoadTarget {
  readonly name: string;
  next(tag: string): bigint | Promise<bigint>;
}

export interface LoadOptions {
  readonly targets: readonly LoadTarget[];
  readonly tags: readonly string[];
  /** Concurrent request loops. @default 4 */
  readonly concurrency?: number;
  /** How long a loop backs off after an error. @default 20 */
  readonly pauseOnErrorMs?: number;
  /** A pause between two requests of a loop, to hold the rate down. @default 0 */
  readonly intervalMs?: number;
}

export interface Outage {
  readonly tag: string;
  readonly from: number;
  readonly ms: number;
}

export class Load {
  readonly ledger = new IdLedger();
  readonly errors = new Map<string, number>();
  readonly outages: Outage[] = [];
  /** Per tag: when the current run of failures began, if one is running. */
  private readonly failingSince = new Map<string, number>();
  private readonly loops: Promise<void>[] = [];
  private running = false;
  private turn = 0;
  served = 0;

  constructor(private readonly opts: LoadOptions) {}

  start(): this {
    this.running = true;
    for (let i = 0; i < (this.opts.concurrency ?? 4); i++) this.loops.push(this.loop());
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    const now = Date.now();
    for (const [tag, from] of this.failingSince) this.outages.push({ tag, from, ms: now - from });
    this.failingSince.clear();
  }

  /** Errors as `{ code: count }`. */
  errorCounts(): Record<string, number> {
    return Object.fromEntries([...this.errors].sort());
  }

  /** The longest outage of any tag that began at or after `since` (ms), or 0. */
  longestOutage(since = 0): number {
    return Math.max(0, ...this.outages.filter((o) => o.from >= since).map((o) => o.ms));
  }

  /**
   * The longest span in which one tag got no ID, among the spans that were still going
   * at or after `since` — those that began earlier included, and those not over yet
   * (counted up to now).
   */
  longestUnavailability(since: number): number {
    const now = Date.now();
    const spans = [
      ...this.outages.filter((o) => o.from + o.ms >= since).map((o) => o.ms),
      ...[...this.failingSince.values()].map((from) => now - from),
    ];
    return Math.max(0, ...spans);
  }

  private async loop(): Promise<void> {
    const { targets, tags } = this.opts;
    while (this.running) {
      const n = this.turn++;
      const target = targets[n % targets.length]!;
      const tag = tags[Math.floor(n / targets.length) % tags.length]!;
      try {
        const id = await target.next(tag);
        this.ledger.add(tag, id);
        this.served += 1;
        const since = this.failingSince.get(tag);
        if (since !== undefined) {
          this.outages.push({ tag, from: since, ms: Date.now() - since });
          this.failingSince.delete(tag);
        }
      } catch (err) {
        const code = err instanceof IdAllocError ? err.code : errorName(err);
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        if (!this.failingSince.has(tag)) this.failingSince.set(tag, Date.now());
        await pause(this.opts.pauseOnErrorMs ?? 20);
      }
      if (this.opts.intervalMs) await pause(this.opts.intervalMs);
      // Let timers and I/O run between synchronous fast-path answers.
      else if (n % 64 === 0) await new Promise((r) => setImmediate(r));
    }
  }
}

function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'string' ? code : err.name;
  }
  return 'unknown';
}

/** A service node as a load target: `GET /v1/ids/{tag}`; an error answer throws its code. */
export function httpTarget(name: string, base: string, timeoutMs = 5000): LoadTarget {
  return {
    name,
    async next(tag) {
      const res = await fetch(`${base}/v1/ids/${encodeURIComponent(tag)}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await res.json()) as {
        id?: string;
        error?: { code?: string; message?: string };
      };
      if (res.ok && typeof body.id === 'string') return BigInt(body.id);
      const code = body.error?.code;
      throw new IdAllocError(
        isErrorCode(code) ? code : ErrorCode.INTERNAL,
        body.error?.message ?? `HTTP ${res.status}`,
      );
    },
  };
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code in ErrorCode;
}
