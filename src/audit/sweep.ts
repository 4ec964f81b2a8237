/**
 * The sweep behind a tag's report: per deployment and tag, the ID grants sorted by start
 * and swept once (a range that starts at or below the highest end seen so far overlaps an
 * earlier one; the holes between ranges are gaps, explained where the logs say why).
 */
import { SKIP_REASONS, type SkipReason } from '../core/grant-log.js';
import type { Forecast, Gap, GapCause, GrantRef, Overlap, TagReport } from './types.js';

/** Overlaps and gaps listed per tag (all are counted; only this many are listed). */
export const LIST_LIMIT = 100;

export interface IdGrant {
  readonly start: bigint;
  readonly end: bigint;
  readonly at: number;
  readonly node: number;
  readonly kind: string;
  readonly incarnation: number;
  readonly client: string | undefined;
  /** Index of its {@link Layout} in {@link Names.layouts}. */
  readonly layout: number;
  /**
   * Where its line was read: the input's ordinal and the line's number in it. Within one
   * millisecond this alone orders a node's lines (a node writes its log in order, a line
   * before any ID of its grant is served); see {@link whenWritten}.
   */
  readonly source: number;
  readonly line: number;
}

/** Where a line was read: its input's ordinal and its line number there. */
export interface LinePlace {
  readonly source: number;
  readonly line: number;
}

/** How a line's counter values became IDs: its region `index/count` and shape fingerprint. */
export interface Layout {
  readonly count: number;
  readonly index: number;
  readonly shape: string;
}

/** IDs a node logged as unserved at shutdown (a remainder line). */
export interface Unserved {
  readonly start: bigint;
  readonly end: bigint;
  readonly node: number;
  readonly at: number;
  /** Where its line was read, as {@link IdGrant.source} and {@link IdGrant.line}. */
  readonly source: number;
  readonly line: number;
  /** Where copies of its line were read (the same line fed again). */
  readonly copies: readonly LinePlace[];
}

/** IDs a node gave back to the store's counter (a handback line). */
export interface HandedBack extends Unserved {
  readonly incarnation: number;
}

export interface Explained {
  readonly start: bigint;
  readonly end: bigint;
  readonly cause: Exclude<GapCause, 'unexplained'>;
}

/** What the lines said of one tag of one deployment. */
export class TagState {
  readonly grants: IdGrant[] = [];
  readonly explained: Explained[] = [];
  readonly remainders: Unserved[] = [];
  readonly handbacks: HandedBack[] = [];
  readonly skipped = new Map<SkipReason, bigint>();
  /** The layouts its ID grants were made under (indexes into {@link Names.layouts}). */
  readonly layouts = new Set<number>();
  max: { value: bigint; at: number } | undefined;

  constructor(
    readonly deployment: string,
    readonly tag: string,
  ) {}

  addSkip(reason: SkipReason, n: bigint): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0n) + n);
  }

  /** This tag's lines and `other`'s together, as lines of this deployment. */
  with(other: TagState): TagState {
    const t = new TagState(this.deployment, this.tag);
    // Element by element: a spread passes each one as an argument, more than the stack holds
    // for a tag of a few hundred thousand grants.
    for (const s of [this, other]) {
      append(t.grants, s.grants);
      append(t.explained, s.explained);
      append(t.remainders, s.remainders);
      append(t.handbacks, s.handbacks);
    }
    for (const s of [this, other]) for (const [r, n] of s.skipped) t.addSkip(r, n);
    for (const s of [this, other]) for (const l of s.layouts) t.layouts.add(l);
    const maxes = [this.max, other.max].filter((m) => m !== undefined);
    t.max = maxes.sort((a, b) => a.at - b.at).at(-1);
    return t;
  }
}

function append<T>(to: T[], from: readonly T[]): void {
  for (const x of from) to.push(x);
}

/** Node and incarnation names by the indexes grants hold. */
export interface Names {
  readonly nodes: readonly string[];
  readonly incarnations: readonly string[];
  readonly layouts: readonly Layout[];
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ref(g: IdGrant, names: Names): GrantRef {
  return {
    node: names.nodes[g.node]!,
    kind: g.kind,
    start: g.start.toString(),
    end: g.end.toString(),
    at: new Date(g.at).toISOString(),
    incarnation: names.incarnations[g.incarnation]!,
    ...(g.client === undefined ? {} : { client: g.client }),
  };
}

/** The same grant line fed twice: every field alike, the store's incarnation too. */
function isCopy(p: IdGrant | undefined, g: IdGrant): boolean {
  return (
    p !== undefined &&
    p.start === g.start &&
    p.end === g.end &&
    p.node === g.node &&
    p.at === g.at &&
    p.kind === g.kind &&
    p.incarnation === g.incarnation &&
    p.client === g.client
  );
}

function order(a: string | undefined, b: string | undefined): number {
  return a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : a < b ? -1 : 1;
}

/** By start, then end; ties by every other field {@link isCopy} compares, so copies lie together. */
function byRange(a: IdGrant, b: IdGrant): number {
  return (
    cmp(a.start, b.start) ||
    cmp(a.end, b.end) ||
    a.node - b.node ||
    a.at - b.at ||
    order(a.kind, b.kind) ||
    a.incarnation - b.incarnation ||
    order(a.client, b.client)
  );
}

/**
 * A tag's grants once each, as its hand-backs left them (sorted by range), and how many of
 * its grant lines were copies. The sweep below and the check across deployments
 * (regions.ts) read these.
 */
export function sweptGrants(t: TagState): {
  grants: IdGrant[];
  copies: number;
  handed: { ids: bigint; ignored: number };
} {
  // A line fed twice lies next to its copies once sorted (the sort is stable: the copy read
  // first stands for them). Copies go before the hand-backs are matched, so that a
  // handback line meets one grant per grant line; where they were read stays at hand
  // (`runs`: grant k's copies are t.grants[runs[2k]] to t.grants[runs[2k + 1] - 1]).
  t.grants.sort(byRange);
  const grants: (IdGrant | undefined)[] = [];
  const runs: number[] = [];
  const places = t.handbacks.length > 0;
  for (let i = 0; i < t.grants.length; i++) {
    const g = t.grants[i]!;
    if (isCopy(grants[grants.length - 1], g)) {
      if (places) runs[runs.length - 1] = i + 1;
    } else {
      grants.push(g);
      if (places) runs.push(i, i + 1);
    }
  }
  const unique = grants.length;
  const handed = applyHandbacks(t, grants, runs);
  // A line that stands for more than one grant (see whenWritten) counts as that many:
  // `grants` holds the later ones at its end.
  const copies = t.grants.length - grants.length;
  const kept =
    handed.ids > 0n || grants.length > unique
      ? (grants.filter((g) => g !== undefined) as IdGrant[]).sort(byRange)
      : (grants as IdGrant[]);
  return { grants: kept, copies, handed };
}

/** A tag's report, and how many of its grant lines were copies (counted once). */
export function sweepTag(
  t: TagState,
  names: Names,
): { report: TagReport; copies: number; grants: readonly IdGrant[] } {
  const { grants: swept, copies, handed } = sweptGrants(t);
  const explained = t.explained.sort((a, b) => cmp(a.start, b.start));
  const overlapList: Overlap[] = [];
  const gapList: Gap[] = [];
  const gapCauses: Record<GapCause, bigint> = {
    incarnation_jump: 0n,
    discarded_grant: 0n,
    fence: 0n,
    unexplained: 0n,
  };
  let overlaps = 0;
  let overlapping = 0n;
  let gaps = 0;
  let gapIds = 0n;
  let granted = 0n;
  let covered = 0n; // IDs in at least one grant: what the tag used, without its gaps
  let holder: IdGrant | undefined; // the grant reaching highest so far
  let ex = 0; // explanations before this index end below the current gap
  const nodes = new Set<number>();
  const incarnations: number[] = [];
  for (const g of swept) {
    granted += g.end - g.start + 1n;
    nodes.add(g.node);
    if (!incarnations.includes(g.incarnation)) incarnations.push(g.incarnation);
    if (holder === undefined) covered += g.end - g.start + 1n;
    else if (g.end > holder.end) {
      covered += g.end - (g.start > holder.end ? g.start : holder.end + 1n) + 1n;
    }
    if (holder !== undefined && g.start <= holder.end) {
      overlaps++;
      const to = g.end < holder.end ? g.end : holder.end;
      overlapping += to - g.start + 1n;
      if (overlapList.length < LIST_LIMIT) {
        overlapList.push({
          start: g.start.toString(),
          end: to.toString(),
          ids: (to - g.start + 1n).toString(),
          first: ref(holder, names),
          second: ref(g, names),
        });
      }
    } else if (holder !== undefined && g.start > holder.end + 1n) {
      const from = holder.end + 1n;
      const to = g.start - 1n;
      gaps++;
      gapIds += to - from + 1n;
      const causes = explain(explained, from, to, ex);
      ex = causes.next;
      for (const [c, n] of Object.entries(causes.ids) as [GapCause, bigint][]) gapCauses[c] += n;
      if (gapList.length < LIST_LIMIT) {
        gapList.push({
          start: from.toString(),
          end: to.toString(),
          ids: (to - from + 1n).toString(),
          causes: Object.fromEntries(Object.entries(causes.ids).map(([c, n]) => [c, n.toString()])),
          incarnationChanged:
            names.incarnations[holder.incarnation] !== '' &&
            names.incarnations[g.incarnation] !== '' &&
            holder.incarnation !== g.incarnation,
        });
      }
    }
    if (holder === undefined || g.end > holder.end) holder = g;
  }
  const lowest = swept[0]?.start ?? 0n;
  const highest = holder?.end ?? 0n;
  // IDs handed back were logged as remainders first: not skipped after all.
  const skipped = Object.fromEntries(
    SKIP_REASONS.map((r) => {
      const n = (t.skipped.get(r) ?? 0n) - (r === 'shutdown_remainder' ? handed.ids : 0n);
      return [r, (n > 0n ? n : 0n).toString()];
    }),
  ) as Record<SkipReason, string>;
  const report: TagReport = {
    tag: t.tag,
    deployment: t.deployment,
    grants: swept.length,
    nodes: [...nodes].map((i) => names.nodes[i]!).sort(),
    idsGranted: granted.toString(),
    lowest: lowest.toString(),
    highest: highest.toString(),
    overlaps,
    overlappingIds: overlapping.toString(),
    overlapList,
    gaps,
    gapIds: gapIds.toString(),
    gapList,
    gapCauses: Object.fromEntries(
      Object.entries(gapCauses).map(([c, n]) => [c, n.toString()]),
    ) as Record<GapCause, string>,
    skipped,
    handedBack: handed.ids.toString(),
    handbacksIgnored: handed.ignored,
    incarnations: incarnations.map((i) => names.incarnations[i]!).filter((s) => s !== ''),
    forecast: forecast(swept, covered, highest, t.max?.value),
  };
  return { report, copies, grants: swept };
}

/**
 * The IDs of gap `from`..`to` by cause, from explanations sorted by start, beginning the
 * scan at index `i` (explanations ending before an earlier gap are passed for good).
 */
function explain(
  explained: readonly Explained[],
  from: bigint,
  to: bigint,
  i: number,
): { ids: Partial<Record<GapCause, bigint>>; next: number } {
  while (i < explained.length && explained[i]!.end < from) i++;
  const ids: Partial<Record<GapCause, bigint>> = {};
  let covered = from; // IDs below this are attributed already
  for (let j = i; j < explained.length && explained[j]!.start <= to; j++) {
    const e = explained[j]!;
    const s = e.start > covered ? e.start : covered;
    const end = e.end < to ? e.end : to;
    if (end < s) continue;
    ids[e.cause] = (ids[e.cause] ?? 0n) + (end - s + 1n);
    covered = end + 1n;
  }
  const total = to - from + 1n;
  const known = Object.values(ids).reduce((a, b) => a + b, 0n);
  if (known < total) ids.unexplained = total - known;
  return { ids, next: i };
}

/**
 * How long the tag lasts: the IDs left above the highest granted, at the rate the grants
 * used IDs — the IDs they cover (`used`), never the gaps between them.
 */
function forecast(
  grants: readonly IdGrant[],
  used: bigint,
  highest: bigint,
  max: bigint | undefined,
): Forecast | null {
  if (max === undefined || grants.length === 0) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const g of grants) {
    if (g.at < first) first = g.at;
    if (g.at > last) last = g.at;
  }
  const spanSeconds = (last - first) / 1000;
  const left = max > highest ? max - highest : 0n;
  const rate = spanSeconds > 0 ? Number(used) / spanSeconds : null;
  const lastsSeconds = rate === null ? null : Number(left) / rate;
  const endMs = lastsSeconds === null ? NaN : last + lastsSeconds * 1000;
  return {
    max: max.toString(),
    idsLeft: left.toString(),
    idsPerSecond: rate,
    spanSeconds,
    lastsSeconds,
    exhaustedAt:
      Number.isFinite(endMs) && Math.abs(endMs) <= 8.64e15 ? new Date(endMs).toISOString() : null,
  };
}

/**
 * Takes handed-back IDs out of the grants that held them, so that a later grant of them is
 * no overlap (docs/design.md §5 "Hand-back"). A handback line counts only when it matches
 * what the same node logged before it: a grant of that node, tag and store incarnation
 * ending at its end and covering it, and remainder lines (IDs left unserved at its stop,
 * each written after a grant whose IDs it names and before the handback) covering all of
 * it; and no grant of the node holding any of its IDs that may have been written before it
 * reaches past its end, belongs to another incarnation or shares an ID with another such
 * grant. Any other is ignored (counted): its IDs stay granted, so a later grant of them is
 * still reported as an overlap.
 *
 * `grants` are the tag's grants once each (`runs`: where each one's copies lie in
 * `t.grants`); a grant the hand-back empties becomes undefined (positions stay put). A
 * grant line that stands for more than one grant (see {@link whenWritten}) has the later
 * ones added at the end of `grants`: written after that handback line, of unknown order
 * to the node's later ones of the same millisecond (which they can refuse, never give IDs
 * up to), and before those of later milliseconds.
 */
function applyHandbacks(
  t: TagState,
  grants: (IdGrant | undefined)[],
  runs: readonly number[],
): { ids: bigint; ignored: number } {
  let ids = 0n;
  let ignored = 0;
  if (t.handbacks.length === 0) return { ids, ignored };
  // The grants a handback meets: `grants` is sorted by start, so they lie at or below the
  // last one starting at or below its end, back to where no grant reaches its start
  // (`reach`: the highest end so far; a hand-back only lowers ends). Later grants found
  // below (see whenWritten) are added at the end, apart.
  const firsts = grants.length;
  const line = (i: number) => t.grants[runs[2 * i]!]!;
  const reach: bigint[] = [];
  let high = -1n;
  for (let i = 0; i < firsts; i++) {
    if (line(i).end > high) high = line(i).end;
    reach.push(high);
  }
  const laterOnes: number[] = [];
  const meeting = (h: HandedBack): number[] => {
    let lo = 0;
    let hi = firsts;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (line(mid).start <= h.end) lo = mid + 1;
      else hi = mid;
    }
    const out: number[] = [];
    for (let i = lo - 1; i >= 0 && reach[i]! >= h.start; i--) if (meets(grants[i], h)) out.push(i);
    for (const i of laterOnes) if (meets(grants[i], h)) out.push(i);
    return out;
  };
  const meets = (g: IdGrant | undefined, h: HandedBack): g is IdGrant =>
    g !== undefined && g.node === h.node && g.start <= h.end && g.end >= h.start;
  // In the order the node wrote them: one hand-back's trimming is the next one's grant.
  const handbacks = [...t.handbacks].sort(writtenOrder);
  // The later grants a line stands for, by position: the index of the handback they follow.
  const later = new Map<number, number>();
  const split = new Set<number>();
  handbacks.forEach((h, k) => {
    for (const i of meeting(h)) {
      if (i >= firsts || split.has(i)) continue;
      const { more } = whenWritten(t.grants, runs[2 * i]!, runs[2 * i + 1]!, h);
      if (more === 0) continue;
      split.add(i);
      for (let n = 0; n < more; n++) {
        later.set(grants.length, k);
        laterOnes.push(grants.length);
        grants.push(line(i)); // as its line said
      }
    }
  });
  handbacks.forEach((h, k) => {
    const near: { i: number; g: IdGrant; when: Order }[] = [];
    for (const i of meeting(h)) {
      const g = grants[i]!;
      const after = later.get(i);
      const when =
        after === undefined
          ? whenWritten(t.grants, runs[2 * i]!, runs[2 * i + 1]!, h).when
          : g.at !== h.at
            ? g.at < h.at
              ? 'before'
              : 'after'
            : k <= after
              ? 'after'
              : 'unknown';
      near.push({ i, g, when });
    }
    // What only grants written before it can do (match it, give up IDs) takes those known
    // to be; what any grant that may have been can do (refuse it) takes those too.
    const before = near.filter((n) => n.when === 'before');
    const held = before.map((n) => n.g);
    const maybe = near.filter((n) => n.when !== 'after').map((n) => n.g);
    const from = held.find((g) => g.end === h.end);
    // Where a grant's line and its copies were read, to order the remainder lines after it
    // (a later grant a line stood for was written after the handback line that split it).
    const placesOf = (i: number): readonly Placed[] =>
      i < firsts
        ? t.grants.slice(runs[2 * i]!, runs[2 * i + 1]!).map((g) => ({ ...g, copies: [] }))
        : [handbacks[later.get(i)!]!];
    // A remainder line counts when written after a grant whose IDs it names, and before
    // the handback line.
    const unserved = t.remainders.filter(
      (r) =>
        r.node === h.node &&
        linesInOrder(r, h) &&
        before.some(
          (n) =>
            n.g.start <= r.end &&
            n.g.end >= r.start &&
            placesOf(n.i).some((p) => linesInOrder(p, r)),
        ),
    );
    const matches =
      from !== undefined &&
      maybe.every((g) => g.incarnation === h.incarnation && g.end <= h.end) &&
      // IDs the node was granted twice stay an overlap: no hand-back takes them out.
      disjoint(maybe) &&
      covered(held, h) &&
      covered(unserved, h);
    if (!matches) {
      ignored++;
      return;
    }
    ids += h.end - h.start + 1n;
    // The grants written before it keep only what precedes the returned IDs.
    for (const { i, g, when } of near) {
      if (when === 'before')
        grants[i] = g.start >= h.start ? undefined : { ...g, end: h.start - 1n };
    }
  });
  return { ids, ignored };
}

/** Two handback lines of one node in the order it wrote them (see {@link whenWritten}). */
function writtenOrder(a: HandedBack, b: HandedBack): number {
  if (a.at !== b.at) return a.at - b.at;
  // Within a millisecond, their lines in an input holding both.
  for (const p of [a, ...a.copies]) {
    for (const q of [b, ...b.copies]) if (p.source === q.source) return p.line - q.line;
  }
  return a.source - b.source || a.line - b.line;
}

type Order = 'before' | 'after' | 'unknown';

/**
 * Where a grant line stands to handback line `h` in their node's log (same node assumed),
 * and how many more grants than one it stands for (`more`). Another millisecond decides.
 * Within one, only the order of lines in one input is known (a node writes its log in
 * order), so the grant's copies (`all[from..to)`) are compared with the handback's in each
 * input that holds both: the first copy of the grant above the handback's first there makes
 * it `before`; read only in inputs without the handback (a log rotated within the
 * millisecond), it is `unknown` — it gives up no IDs and cannot make the handback match,
 * but can refuse it: the doubt can report an overlap, never hide one.
 *
 * A grant before the handback may have a twin after it: the same range leased again to
 * the same client in that millisecond writes the same line. An input holding more copies
 * of the grant than of the handback, some below it, holds that many more grants (a log fed
 * twice in one stream holds as many of each); a copy in an input without the handback
 * may be one too (the log rotated after the handback), and is counted as one — a false
 * alarm at worst. A grant written after a handback never loses the returned IDs, or a
 * second grant of them elsewhere (a duplicate) would meet nothing.
 */
function whenWritten(
  all: readonly IdGrant[],
  from: number,
  to: number,
  h: HandedBack,
): { when: Order; more: number } {
  const g = all[from]!;
  if (g.at !== h.at) return { when: g.at < h.at ? 'before' : 'after', more: 0 };
  const hs = [h, ...h.copies];
  const inputs = new Set(hs.map((p) => p.source));
  let shared = false;
  let before = false;
  let belowOnly = false;
  let more = 0;
  for (const source of inputs) {
    const lines = hs.filter((p) => p.source === source).map((p) => p.line);
    const first = Math.min(...lines);
    let n = 0;
    let above = false;
    let below = false;
    for (let j = from; j < to; j++) {
      const p = all[j]!;
      if (p.source !== source) continue;
      n++;
      if (p.line < first) above = true;
      else below = true;
    }
    if (n === 0) continue;
    shared = true;
    if (!above) {
      belowOnly = true;
      continue;
    }
    before = true;
    if (below) more = Math.max(more, Math.ceil(n / lines.length) - 1);
  }
  if (!shared) return { when: 'unknown', more: 0 };
  if (before) {
    // A copy only below the handback in one input (a window of the log that starts
    // between them), or in an input without it (the log rotated after it): one more.
    let elsewhere = belowOnly;
    for (let j = from; j < to; j++) if (!inputs.has(all[j]!.source)) elsewhere = true;
    if (elsewhere) more = Math.max(more, 1);
  }
  return { when: before ? 'before' : 'after', more };
}

/** True when no two of the ranges share an ID. */
function disjoint(ranges: readonly { start: bigint; end: bigint }[]): boolean {
  const sorted = [...ranges].sort((a, b) => cmp(a.start, b.start));
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start <= sorted[i - 1]!.end) return false;
  return true;
}

/**
 * True when line `a` was written before line `b` of the same node, as far as can be known:
 * an earlier millisecond, or the same one and an earlier line in an input holding both
 * (copies included).
 */
function linesInOrder(a: Placed, b: Placed): boolean {
  if (a.at !== b.at) return a.at < b.at;
  for (const p of [a, ...a.copies])
    for (const q of [b, ...b.copies]) if (p.source === q.source && p.line < q.line) return true;
  return false;
}

/** A line, where it was read and where its copies were. */
type Placed = LinePlace & { readonly at: number; readonly copies: readonly LinePlace[] };

/** True when the ranges together cover every ID of `h`. */
function covered(ranges: readonly { start: bigint; end: bigint }[], h: Unserved): boolean {
  const sorted = [...ranges].sort((a, b) => cmp(a.start, b.start));
  let next = h.start;
  for (const r of sorted) {
    if (r.start > next) break;
    if (r.end >= next) next = r.end + 1n;
    if (next > h.end) return true;
  }
  return next > h.end;
}
