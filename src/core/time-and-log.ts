/**
 * Injected time and logging: every part takes these instead of reaching for Date.now or
 * a logger of its own, so tests drive them.
 */

/** The logging the allocators, stores and client need (a pino logger fits). */
export interface Log {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export const silentLog: Log = Object.freeze({ error() {}, warn() {}, info() {} });

/** Injected time: wall-clock milliseconds. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** Injected time with one-shot timers: what waits and retries are scheduled on. */
export interface TimerClock extends Clock {
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/**
 * `clock` with real timers (`setTimeout`). `unref`: a pending timer does not keep the
 * process alive (the allocator's retries); otherwise it does (a caller waiting on
 * the client).
 */
export function withTimers(clock: Clock, opts: { readonly unref: boolean }): TimerClock {
  return Object.freeze({
    now: () => clock.now(),
    schedule(fn: () => void, ms: number) {
      const t = setTimeout(fn, ms);
      if (opts.unref) t.unref();
      return () => clearTimeout(t);
    },
  });
}
