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
