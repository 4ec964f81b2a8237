/**
 * What a node has issued per tag, for the status page: IDs since start and IDs per
 * second over the last few whole seconds. Fed as an {@link AllocatorObserver}, next to
 * the metrics' one ({@link teeObservers}); it keeps a few numbers per served tag, and
 * only for tags the allocator served, so requests for unknown names add nothing.
 */
import type { AllocatorObserver } from '../allocator/types.js';
import { systemClock, type Clock } from '../core/time-and-log.js';
import type { TagMode } from '../core/store-ports.js';

/** Whole seconds the IDs/s average covers. */
const WINDOW_SECONDS = 5;

interface TagCounts {
  mode: TagMode;
  total: number;
  /** Per-second counts in a ring: `counts[s % WINDOW]` belongs to second `seconds[…]`. */
  readonly seconds: number[];
  readonly counts: number[];
}

export interface TagActivityView {
  readonly mode: TagMode;
  /** IDs this node issued for the tag since it started. */
  readonly issued: number;
  /** IDs per second, averaged over the last {@link WINDOW_SECONDS} whole seconds. */
  readonly idsPerSecond: number;
}

export class TagActivity {
  private readonly tags = new Map<string, TagCounts>();
  readonly observer: AllocatorObserver;

  constructor(private readonly clock: Clock = systemClock) {
    this.observer = Object.freeze({
      idsIssued: (tag: string, mode: TagMode, count: number) => this.issued(tag, mode, count),
    });
  }

  /** Tags that issued IDs on this node. */
  tagNames(): string[] {
    return [...this.tags.keys()];
  }

  view(tag: string): TagActivityView | undefined {
    const t = this.tags.get(tag);
    if (!t) return undefined;
    const now = Math.floor(this.clock.now() / 1000);
    let sum = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const s = t.seconds[i]!;
      // Whole seconds only: the current one is still filling.
      if (s < now && s >= now - WINDOW_SECONDS) sum += t.counts[i]!;
    }
    return { mode: t.mode, issued: t.total, idsPerSecond: sum / WINDOW_SECONDS };
  }

  private issued(tag: string, mode: TagMode, count: number): void {
    let t = this.tags.get(tag);
    if (!t) {
      t = {
        mode,
        total: 0,
        seconds: new Array<number>(WINDOW_SECONDS).fill(-1),
        counts: new Array<number>(WINDOW_SECONDS).fill(0),
      };
      this.tags.set(tag, t);
    }
    t.mode = mode;
    t.total += count;
    const second = Math.floor(this.clock.now() / 1000);
    const slot = second % WINDOW_SECONDS;
    if (t.seconds[slot] !== second) {
      t.seconds[slot] = second;
      t.counts[slot] = 0;
    }
    t.counts[slot]! += count;
  }
}

/**
 * One observer that calls each of `observers` in turn. Every hook any of them has is
 * forwarded — a hook added to {@link AllocatorObserver} later needs no change here.
 */
export function teeObservers(...observers: readonly AllocatorObserver[]): AllocatorObserver {
  // Hooks take at most three arguments (AllocatorObserver). `idsIssued` runs per ID: a
  // fixed arity forwards them without gathering them into an array first.
  type Hook = (a?: unknown, b?: unknown, c?: unknown) => void;
  const tee: Record<string, Hook> = {};
  const names = new Set(observers.flatMap((o) => Object.keys(o)));
  for (const name of names) {
    const hooks = observers
      .map((o) => (o as Readonly<Record<string, Hook | undefined>>)[name])
      .filter((h): h is Hook => typeof h === 'function');
    const [first, second] = hooks;
    tee[name] =
      hooks.length === 1
        ? first!
        : hooks.length === 2
          ? (a, b, c) => {
              first!(a, b, c);
              second!(a, b, c);
            }
          : (a, b, c) => {
              for (const h of hooks) h(a, b, c);
            };
  }
  return Object.freeze(tee) as AllocatorObserver;
}
