/**
 * Every ID a fault test saw issued, per tag, as inclusive ranges (a store grant of a
 * million IDs costs one entry), and the check the fault tests exist for: no ID twice.
 */
import type { Grant, SegmentStore } from '../../src/core/store-ports.js';

export interface Overlap {
  readonly tag: string;
  /** The two ranges that share IDs, as `start..end`. */
  readonly a: string;
  readonly b: string;
}

export class IdLedger {
  private readonly ranges = new Map<string, [bigint, bigint][]>();

  /** Records one ID, several, or a range `start..end` (inclusive). */
  add(tag: string, id: bigint | readonly bigint[]): void {
    for (const v of typeof id === 'bigint' ? [id] : id) this.addRange(tag, v, v);
  }

  addRange(tag: string, start: bigint, end: bigint): void {
    let list = this.ranges.get(tag);
    if (!list) this.ranges.set(tag, (list = []));
    // Consecutive IDs (the common case) extend the last range instead of adding one.
    const last = list[list.length - 1];
    if (last && start === last[1] + 1n) last[1] = end;
    else list.push([start, end]);
  }

  /** How many IDs were recorded (for a tag, or in all). */
  count(tag?: string): bigint {
    let n = 0n;
    for (const [t, list] of this.ranges) {
      if (tag === undefined || t === tag) for (const [s, e] of list) n += e - s + 1n;
    }
    return n;
  }

  /** The highest ID recorded for a tag, or undefined. */
  max(tag: string): bigint | undefined {
    let m: bigint | undefined;
    for (const [, e] of this.ranges.get(tag) ?? []) if (m === undefined || e > m) m = e;
    return m;
  }

  /** How many recorded IDs of `tag` lie in `from..to` (inclusive). */
  countIn(tag: string, from: bigint, to: bigint): bigint {
    let n = 0n;
    for (const [s, e] of this.ranges.get(tag) ?? []) {
      const lo = s > from ? s : from;
      const hi = e < to ? e : to;
      if (lo <= hi) n += hi - lo + 1n;
    }
    return n;
  }

  /** The recorded ranges of `tag` (inclusive), in the order recorded. */
  rangesOf(tag: string): readonly (readonly [bigint, bigint])[] {
    return (this.ranges.get(tag) ?? []).map(([s, e]) => [s, e] as const);
  }

  /** The tags recorded. */
  tags(): string[] {
    return [...this.ranges.keys()];
  }

  /** Every pair of recorded ranges that share an ID: empty means no ID was issued twice. */
  overlaps(): Overlap[] {
    const out: Overlap[] = [];
    for (const [tag, list] of this.ranges) {
      const sorted = [...list].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      let reach: [bigint, bigint] | undefined;
      for (const r of sorted) {
        if (reach && r[0] <= reach[1]) {
          out.push({ tag, a: `${reach[0]}..${reach[1]}`, b: `${r[0]}..${r[1]}` });
        }
        if (!reach || r[1] > reach[1]) reach = r;
      }
    }
    return out;
  }

  /** Merges another ledger (e.g. one per node) into this one. */
  merge(other: IdLedger): this {
    for (const [tag, list] of other.ranges) for (const [s, e] of list) this.addRange(tag, s, e);
    return this;
  }
}

/** A store wrapper that records every grant the store handed out (served or not). */
export function recordingStore<S extends SegmentStore>(
  store: S,
  onGrant: (tag: string, grant: Grant) => void,
): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'allocate') {
        return async (tag: string, count: number, exact: boolean) => {
          const g = await target.allocate(tag, count, exact);
          onGrant(tag, g);
          return g;
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
