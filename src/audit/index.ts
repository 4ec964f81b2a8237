/**
 * The audit of grant logs: given the grant lines of every node of a deployment, were any
 * IDs granted twice? Per tag, the ranges granted (segments, batches, leased ranges) are
 * sorted by start and swept once; a range that starts at or below the highest end seen
 * so far overlaps an earlier one. The holes between ranges are gaps, explained where the
 * logs say why (an incarnation jump, a discarded or fenced grant); a snowflake worker ID
 * held by two holders whose timestamp windows `[floor, horizon]` meet is an overlap too.
 *
 * `auditGrantLog(lines)` for tests and callers with lines at hand; {@link GrantAudit} to
 * feed lines as they stream in (the CLI reads files of millions of lines this way).
 */
import { SKIP_REASONS, type SkipReason } from '../core/grant-log.js';
import { parseLine, type ParsedGrant } from './parse.js';

/** Overlaps and gaps listed per tag (all are counted; only this many are listed). */
export const LIST_LIMIT = 100;

/** One grant as a report shows it. */
export interface GrantRef {
  readonly node: string;
  readonly kind: string;
  readonly start: string;
  readonly end: string;
  readonly at: string;
  readonly incarnation: string;
  readonly client?: string;
}

export interface Overlap {
  /** The IDs both grants hold. */
  readonly start: string;
  readonly end: string;
  readonly ids: string;
  readonly first: GrantRef;
  readonly second: GrantRef;
}

export type GapCause = Exclude<SkipReason, 'shutdown_remainder'> | 'unexplained';

export interface Gap {
  readonly start: string;
  readonly end: string;
  readonly ids: string;
  /** IDs of the gap by cause; `unexplained`: no line says why (admin bump, a node not in the logs…). */
  readonly causes: Partial<Record<GapCause, string>>;
  /**
   * The grants on either side came from different store incarnations (run_ids): a
   * restart or failover lies in the gap even where no node logged the jump (an admin
   * command applied it, or the node that did is not in the logs).
   */
  readonly incarnationChanged: boolean;
}

export interface Forecast {
  /** The tag's max as the latest grant line reported it. */
  readonly max: string;
  /** IDs above the highest granted, up to max. */
  readonly idsLeft: string;
  /** ID space used per second (highest end − lowest start + 1, over the log's time span). */
  readonly idsPerSecond: number | null;
  readonly spanSeconds: number;
  /** Seconds until max at that rate, or null without a rate. */
  readonly lastsSeconds: number | null;
  /** ISO time it runs out, or null (no rate, or beyond what a Date can show). */
  readonly exhaustedAt: string | null;
}

export interface TagReport {
  readonly tag: string;
  readonly grants: number;
  readonly nodes: readonly string[];
  readonly idsGranted: string;
  readonly lowest: string;
  readonly highest: string;
  readonly overlaps: number;
  readonly overlappingIds: string;
  readonly overlapList: readonly Overlap[];
  readonly gaps: number;
  readonly gapIds: string;
  readonly gapList: readonly Gap[];
  /** Gap IDs by cause, over all gaps. */
  readonly gapCauses: Record<GapCause, string>;
  /** IDs given up unserved, by reason, as the nodes logged them. */
  readonly skipped: Record<SkipReason, string>;
  /** Incarnations (Redis run_ids) the tag's grants came from, in order of first use. */
  readonly incarnations: readonly string[];
  readonly forecast: Forecast | null;
}

export interface WorkerOverlap {
  readonly worker: number;
  /** The timestamps (Unix ms) both holders may mint with. */
  readonly from: string;
  readonly to: string;
  readonly first: { node: string; floor: string; horizon: string; at: string };
  readonly second: { node: string; floor: string; horizon: string; at: string };
}

export interface WorkerReport {
  readonly holders: number;
  readonly workerIds: number;
  readonly overlaps: number;
  readonly overlapList: readonly WorkerOverlap[];
}

export interface AuditReport {
  readonly lines: number;
  readonly grantLines: number;
  /** Lines repeated verbatim (the same log fed twice): counted once. */
  readonly duplicateLines: number;
  readonly malformed: number;
  /** The first few malformed grant lines and why. */
  readonly malformedExamples: readonly string[];
  readonly nodes: readonly string[];
  readonly tags: readonly TagReport[];
  readonly workers: WorkerReport;
  /** ID overlaps plus worker overlaps: non-zero means some ID may have been issued twice. */
  readonly overlaps: number;
}

interface IdGrant {
  readonly start: bigint;
  readonly end: bigint;
  readonly at: number;
  readonly node: number;
  readonly kind: string;
  readonly incarnation: number;
  readonly client: string | undefined;
}

interface Explained {
  readonly start: bigint;
  readonly end: bigint;
  readonly cause: Exclude<GapCause, 'unexplained'>;
}

class TagState {
  readonly grants: IdGrant[] = [];
  readonly explained: Explained[] = [];
  readonly skipped = new Map<SkipReason, bigint>();
  max: { value: bigint; at: number } | undefined;

  addSkip(reason: SkipReason, n: bigint): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0n) + n);
  }
}

interface Holder {
  readonly node: string;
  readonly worker: number;
  readonly floor: number;
  horizon: number;
  at: number;
}

/** Collects grant lines, then reports. */
export class GrantAudit {
  private lines = 0;
  private grantLines = 0;
  private duplicates = 0;
  private malformed = 0;
  private readonly malformedExamples: string[] = [];
  private readonly seen = new Set<string>();
  /** ID grant lines found repeated while sweeping (set by report()). */
  private sortedDuplicates = 0;
  private readonly nodeNames: string[] = [];
  private readonly nodeIndex = new Map<string, number>();
  private readonly incarnations: string[] = [];
  private readonly incarnationIndex = new Map<string, number>();
  private readonly tags = new Map<string, TagState>();
  private readonly holders = new Map<string, Holder>();

  /** One log line of any kind. */
  addLine(line: string): void {
    this.lines++;
    const r = parseLine(line);
    if (r.type === 'other') return;
    if (r.type === 'malformed') {
      this.malformed++;
      if (this.malformedExamples.length < 5) this.malformedExamples.push(r.why);
      return;
    }
    const g = r.grant;
    this.grantLines++;
    // The same grant fed twice (one log passed twice) is one grant, not an overlap. ID
    // grants, the millions, are compared once sorted (see tagReport); the few others here.
    if (g.kind !== 'segment' && g.kind !== 'batch' && g.kind !== 'range') {
      const key =
        g.kind === 'worker'
          ? `${g.node}|w|${g.worker}|${g.floor}|${g.horizon}|${g.at}`
          : `${g.node}|${g.kind}|${g.tag}|${g.start}|${g.end}|${g.at}`;
      if (this.seen.has(key)) {
        this.duplicates++;
        this.grantLines--;
        return;
      }
      this.seen.add(key);
    }
    this.add(g);
  }

  addLines(lines: Iterable<string>): void {
    for (const line of lines) this.addLine(line);
  }

  private add(g: ParsedGrant): void {
    const node = this.index(this.nodeIndex, this.nodeNames, g.node);
    if (g.kind === 'worker') {
      // One holder per node, worker ID and floor: a claim and its renewals.
      const key = `${g.node}|${g.worker}|${g.floor}`;
      const h = this.holders.get(key);
      if (h === undefined) {
        this.holders.set(key, {
          node: g.node,
          worker: g.worker,
          floor: g.floor,
          horizon: g.horizon,
          at: g.at,
        });
      } else {
        h.horizon = Math.max(h.horizon, g.horizon);
        h.at = Math.min(h.at, g.at);
      }
      return;
    }
    let t = this.tags.get(g.tag);
    if (t === undefined) {
      t = new TagState();
      this.tags.set(g.tag, t);
    }
    if (g.max !== undefined && (t.max === undefined || g.at >= t.max.at)) {
      t.max = { value: g.max, at: g.at };
    }
    const n = g.end - g.start + 1n;
    switch (g.kind) {
      case 'segment':
      case 'batch':
      case 'range': {
        const incarnation = this.index(this.incarnationIndex, this.incarnations, g.incarnation);
        t.grants.push({
          start: g.start,
          end: g.end,
          at: g.at,
          node,
          kind: g.kind,
          incarnation,
          client: g.client,
        });
        if (g.skipped > 0n) {
          t.addSkip('incarnation_jump', g.skipped);
          t.explained.push({
            start: g.start - g.skipped,
            end: g.start - 1n,
            cause: 'incarnation_jump',
          });
        }
        return;
      }
      case 'discarded':
        t.addSkip('discarded_grant', n);
        t.explained.push({ start: g.start, end: g.end, cause: 'discarded_grant' });
        return;
      case 'fence':
        t.addSkip('fence', n);
        t.explained.push({ start: g.start, end: g.end, cause: 'fence' });
        return;
      case 'remainder':
        t.addSkip('shutdown_remainder', n);
        return;
    }
  }

  private index(map: Map<string, number>, list: string[], name: string): number {
    let i = map.get(name);
    if (i === undefined) {
      i = list.length;
      list.push(name);
      map.set(name, i);
    }
    return i;
  }

  report(): AuditReport {
    this.sortedDuplicates = 0;
    const tags = [...this.tags.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .filter(([, t]) => t.grants.length > 0 || t.skipped.size > 0)
      .map(([name, t]) => this.tagReport(name, t));
    const workers = this.workerReport();
    return {
      lines: this.lines,
      grantLines: this.grantLines - this.sortedDuplicates,
      duplicateLines: this.duplicates + this.sortedDuplicates,
      malformed: this.malformed,
      malformedExamples: [...this.malformedExamples],
      nodes: [...this.nodeNames].sort(),
      tags,
      workers,
      overlaps: tags.reduce((n, t) => n + t.overlaps, 0) + workers.overlaps,
    };
  }

  private ref(g: IdGrant): GrantRef {
    return {
      node: this.nodeNames[g.node]!,
      kind: g.kind,
      start: g.start.toString(),
      end: g.end.toString(),
      at: new Date(g.at).toISOString(),
      incarnation: this.incarnations[g.incarnation]!,
      ...(g.client === undefined ? {} : { client: g.client }),
    };
  }

  private tagReport(tag: string, t: TagState): TagReport {
    // By start, then end; ties by node, time and kind so that a line fed twice lies next
    // to its copy.
    t.grants.sort(
      (a, b) =>
        cmp(a.start, b.start) ||
        cmp(a.end, b.end) ||
        a.node - b.node ||
        a.at - b.at ||
        (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0),
    );
    const grants: IdGrant[] = [];
    for (const g of t.grants) {
      const p = grants[grants.length - 1];
      const copy =
        p !== undefined &&
        p.start === g.start &&
        p.end === g.end &&
        p.node === g.node &&
        p.at === g.at &&
        p.kind === g.kind;
      if (copy) this.sortedDuplicates++;
      else grants.push(g);
    }
    const explained = t.explained.sort((a, b) =>
      a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
    );
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
    let holder: IdGrant | undefined; // the grant reaching highest so far
    let ex = 0; // explanations before this index end below the current gap
    const nodes = new Set<number>();
    const incarnations: number[] = [];
    for (const g of grants) {
      granted += g.end - g.start + 1n;
      nodes.add(g.node);
      if (!incarnations.includes(g.incarnation)) incarnations.push(g.incarnation);
      if (holder !== undefined && g.start <= holder.end) {
        overlaps++;
        const to = g.end < holder.end ? g.end : holder.end;
        overlapping += to - g.start + 1n;
        if (overlapList.length < LIST_LIMIT) {
          overlapList.push({
            start: g.start.toString(),
            end: to.toString(),
            ids: (to - g.start + 1n).toString(),
            first: this.ref(holder),
            second: this.ref(g),
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
            causes: Object.fromEntries(
              Object.entries(causes.ids).map(([c, n]) => [c, n.toString()]),
            ),
            incarnationChanged:
              this.incarnations[holder.incarnation] !== '' &&
              this.incarnations[g.incarnation] !== '' &&
              holder.incarnation !== g.incarnation,
          });
        }
      }
      if (holder === undefined || g.end > holder.end) holder = g;
    }
    const lowest = grants[0]?.start ?? 0n;
    const highest = holder?.end ?? 0n;
    const skipped = Object.fromEntries(
      SKIP_REASONS.map((r) => [r, (t.skipped.get(r) ?? 0n).toString()]),
    ) as Record<SkipReason, string>;
    return {
      tag,
      grants: grants.length,
      nodes: [...nodes].map((i) => this.nodeNames[i]!).sort(),
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
      incarnations: incarnations.map((i) => this.incarnations[i]!).filter((s) => s !== ''),
      forecast: forecast(grants, lowest, highest, t.max?.value),
    };
  }

  private workerReport(): WorkerReport {
    const byWorker = new Map<number, Holder[]>();
    for (const h of this.holders.values()) {
      const list = byWorker.get(h.worker) ?? [];
      list.push(h);
      byWorker.set(h.worker, list);
    }
    const overlapList: WorkerOverlap[] = [];
    let overlaps = 0;
    const show = (h: Holder) => ({
      node: h.node,
      floor: new Date(h.floor).toISOString(),
      horizon: new Date(h.horizon).toISOString(),
      at: new Date(h.at).toISOString(),
    });
    for (const [worker, list] of [...byWorker.entries()].sort(([a], [b]) => a - b)) {
      list.sort((a, b) => a.floor - b.floor);
      let reach: Holder | undefined;
      for (const h of list) {
        // Two holders of one worker ID are safe iff their timestamp windows are disjoint.
        if (reach !== undefined && h.floor <= reach.horizon) {
          overlaps++;
          if (overlapList.length < LIST_LIMIT) {
            overlapList.push({
              worker,
              from: new Date(h.floor).toISOString(),
              to: new Date(Math.min(h.horizon, reach.horizon)).toISOString(),
              first: show(reach),
              second: show(h),
            });
          }
        }
        if (reach === undefined || h.horizon > reach.horizon) reach = h;
      }
    }
    return { holders: this.holders.size, workerIds: byWorker.size, overlaps, overlapList };
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
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

function forecast(
  grants: readonly IdGrant[],
  lowest: bigint,
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
  const used = Number(highest - lowest + 1n);
  const rate = spanSeconds > 0 ? used / spanSeconds : null;
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

/** The audit of a set of log lines (see {@link GrantAudit}). */
export function auditGrantLog(lines: Iterable<string>): AuditReport {
  const audit = new GrantAudit();
  audit.addLines(lines);
  return audit.report();
}
