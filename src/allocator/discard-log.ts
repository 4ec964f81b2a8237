/**
 * Grants discarded because replication could not be confirmed (`REDIS_MIN_REPLICAS`,
 * `WAIT` short of replicas, the connection re-established): logged per tag once when a
 * burst of them begins — with the reason — and once when it ends, with the count, so a
 * node whose 503s come from discards says so instead of looking like an unreachable
 * store, and a long burst costs two lines, not one per fetch attempt.
 */
import type { Clock, Log } from '../core/time-and-log.js';

interface Burst {
  readonly since: number;
  count: number;
  reason: string;
}

export class DiscardLog {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly log: Log,
    private readonly clock: Clock,
  ) {}

  /** A grant of `tag` was discarded for `reason`. */
  discarded(tag: string, reason: string): void {
    const burst = this.bursts.get(tag);
    if (burst) {
      burst.count += 1;
      burst.reason = reason;
      return;
    }
    this.bursts.set(tag, { since: this.clock.now(), count: 1, reason });
    this.log.warn(
      { tag, count: 1, reason },
      'segment grant discarded (replication not confirmed; its IDs are skipped, never served); further discards of this tag are counted until a grant is confirmed',
    );
  }

  /** A grant of `tag` was confirmed: the burst, if any, is over. */
  confirmed(tag: string): void {
    const burst = this.bursts.get(tag);
    if (!burst) return;
    this.bursts.delete(tag);
    this.log.warn(
      { tag, count: burst.count, reason: burst.reason, ms: this.clock.now() - burst.since },
      `segment grants discarded: ${burst.count} in a burst of ${this.clock.now() - burst.since} ms, now confirmed again`,
    );
  }
}
