/**
 * Injected time for the snowflake tests: a clock that moves only when told, a sleep that
 * moves it, and timers that fire as it moves (awaiting what they start). No test waits
 * for real time.
 */
import type { Schedule } from '../../src/allocator/snowflake/lease.js';
import type { Sleep } from '../../src/allocator/snowflake/generator.js';
import type { Clock } from '../../src/core/time-and-log.js';

interface Timer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => unknown;
  cancelled: boolean;
}

export class FakeTime {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  private timers: Timer[] = [];
  private order = 0;

  constructor(public t = Date.UTC(2025, 0, 1)) {}

  readonly clock: Clock = { now: () => this.t };

  /** Resolves at once, having moved the clock forward by `ms`. */
  readonly sleep: Sleep = async (ms) => {
    this.sleeps.push(ms);
    this.t += ms;
  };

  readonly schedule: Schedule = (fn, ms) => {
    const timer: Timer = { at: this.t + ms, order: this.order++, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };

  /** Delays (from now) of the timers still pending. */
  pending(): number[] {
    return this.live().map((t) => t.at - this.t);
  }

  /**
   * Moves the clock forward by `ms`, firing each timer due on the way at its own time,
   * in order, and awaiting whatever it returns (a lease step on real Redis).
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.live().find((t) => t.at <= end);
      if (!due) break;
      due.cancelled = true;
      this.t = Math.max(this.t, due.at);
      await due.fn();
    }
    this.t = end;
  }

  private live(): Timer[] {
    this.timers = this.timers.filter((t) => !t.cancelled);
    return [...this.timers].sort((a, b) => a.at - b.at || a.order - b.order);
  }
}
