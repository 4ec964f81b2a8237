/**
 * The audit across deployments (docs/operations.md "Auditing regions"). Each deployment is
 * one store with its own counters; within one the sweeps (sweep.ts, workers.ts) prove that
 * no counter value was granted twice. Deployments of one tag in regions (N > 1) share one
 * ID space: a node of region i of N serves shape(c·N + i) for counter value c, so two
 * deployments are disjoint when they use the same N, the same shape and different i.
 * This file proves it from the lines, or names what breaks it:
 *
 * - same N, same shape fingerprint, same i, counter ranges that meet → an overlap (the
 *   same IDs were served by both);
 * - another N or another shape fingerprint for the tag in two deployments → unprovable:
 *   c·N + i = c'·N' + i' has solutions, and two bijections can meet anywhere;
 * - same N and shape, different i → disjoint, nothing to sweep.
 *
 * Snowflake worker IDs of regions are compared too: one worker ID held in two deployments
 * with windows `[floor, horizon]` that meet is an overlap (regions hold disjoint blocks of
 * worker IDs, so this only happens when two deployments claim the same region).
 *
 * Cost: one sort and one sweep per tag and layout over the grants of every deployment,
 * O(n log n) like the per-deployment sweep; the sweep keeps the two furthest-reaching
 * grants of distinct deployments, which is all a new grant needs to meet another
 * deployment's.
 */
import { LIST_LIMIT, type IdGrant, type Layout, type Names, type TagState } from './sweep.js';
import type { Holder } from './workers.js';
import type {
  RegionGrantRef,
  RegionOverlap,
  RegionReport,
  RegionSide,
  RegionWorkerHolder,
  RegionWorkerOverlap,
  Unprovable,
} from './types.js';

/** One grant (or worker window) of one deployment, as the cross sweep orders it. */
interface Span<T> {
  readonly start: bigint;
  readonly end: bigint;
  readonly deployment: string;
  readonly item: T;
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sorts `spans` by start and reports each span that meets an earlier span of another
 * deployment (the one reaching furthest). Overlaps within one deployment are the
 * per-deployment sweep's, not reported here.
 */
export function crossSweep<T>(
  spans: Span<T>[],
  found: (earlier: Span<T>, later: Span<T>) => void,
): void {
  spans.sort((a, b) => cmp(a.start, b.start) || cmp(a.end, b.end));
  // best: the span reaching furthest; other: the furthest among other deployments than best's.
  let best: Span<T> | undefined;
  let other: Span<T> | undefined;
  for (const s of spans) {
    const rival = best !== undefined && best.deployment !== s.deployment ? best : other;
    if (rival !== undefined && s.start <= rival.end) found(rival, s);
    if (best === undefined || s.end > best.end) {
      if (best !== undefined && best.deployment !== s.deployment) other = best;
      best = s;
    } else if (s.deployment !== best.deployment && (other === undefined || s.end > other.end)) {
      other = s;
    }
  }
}

const regionOf = (l: Layout): string => `${l.index}/${l.count}`;

function unprovableReason(a: RegionSide & Layout, b: RegionSide & Layout): string {
  if (a.count !== b.count) {
    return `region counts differ (${a.count} in ${a.deployment}, ${b.count} in ${b.deployment}): IDs c·${a.count}+i and c'·${b.count}+j can be equal, so the audit cannot prove these deployments disjoint; a tag needs one region count in every deployment`;
  }
  return `shapes differ (${a.shape} in ${a.deployment}, ${b.shape} in ${b.deployment}): two different bijections can map different counter values to one ID, so the audit cannot prove these deployments disjoint; a tag needs one shape (and permute key) in every deployment`;
}

/** The layouts of one tag's state, one per region count and shape (the region index aside). */
function kinds(t: TagState, layouts: readonly Layout[]): Map<string, Layout> {
  const out = new Map<string, Layout>();
  for (const i of t.layouts) {
    const l = layouts[i]!;
    const key = `${l.count}|${l.shape}`;
    if (!out.has(key)) out.set(key, l);
  }
  return out;
}

/** The cross-deployment report of the named deployments' tags and worker holders. */
export function checkRegions(
  states: readonly TagState[],
  holders: readonly Holder[],
  names: Names,
  grantsOf: (t: TagState) => readonly IdGrant[] = (t) => t.grants,
): RegionReport {
  const byTag = new Map<string, TagState[]>();
  const deployments = new Set<string>();
  for (const t of states) {
    deployments.add(t.deployment);
    const list = byTag.get(t.tag) ?? [];
    list.push(t);
    byTag.set(t.tag, list);
  }
  for (const h of holders) deployments.add(h.deployment);
  const overlapList: RegionOverlap[] = [];
  const unprovableList: Unprovable[] = [];
  let tags = 0;
  let overlaps = 0;
  let overlappingIds = 0n;
  let unprovable = 0;
  const ref = (s: Span<IdGrant>): RegionGrantRef => ({
    deployment: s.deployment,
    node: names.nodes[s.item.node]!,
    kind: s.item.kind,
    start: s.item.start.toString(),
    end: s.item.end.toString(),
    at: new Date(s.item.at).toISOString(),
    incarnation: names.incarnations[s.item.incarnation]!,
    ...(s.item.client === undefined ? {} : { client: s.item.client }),
  });
  for (const tag of [...byTag.keys()].sort()) {
    const list = byTag.get(tag)!.sort((a, b) => (a.deployment < b.deployment ? -1 : 1));
    const regioned = list.some((t) => [...t.layouts].some((i) => names.layouts[i]!.count > 1));
    if (list.length < 2 || !regioned) continue;
    tags++;
    // Layouts that differ between two deployments: no proof possible.
    const perState = list.map((t) => kinds(t, names.layouts));
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        for (const [ka, la] of perState[a]!) {
          for (const [kb, lb] of perState[b]!) {
            if (ka === kb || (la.count === 1 && lb.count === 1)) continue;
            unprovable++;
            const first = {
              deployment: list[a]!.deployment,
              region: regionOf(la),
              shape: la.shape,
            };
            const second = {
              deployment: list[b]!.deployment,
              region: regionOf(lb),
              shape: lb.shape,
            };
            if (unprovableList.length < LIST_LIMIT) {
              unprovableList.push({
                tag,
                first,
                second,
                reason: unprovableReason({ ...la, ...first }, { ...lb, ...second }),
              });
            }
          }
        }
      }
    }
    // Same layout (N, i, shape) in two deployments: their counter ranges must not meet.
    const byLayout = new Map<number, Span<IdGrant>[]>();
    for (const t of list) {
      for (const g of grantsOf(t)) {
        if (names.layouts[g.layout]!.count === 1) continue;
        const spans = byLayout.get(g.layout) ?? [];
        spans.push({ start: g.start, end: g.end, deployment: t.deployment, item: g });
        byLayout.set(g.layout, spans);
      }
    }
    for (const [layout, spans] of [...byLayout].sort((x, y) => x[0] - y[0])) {
      const l = names.layouts[layout]!;
      crossSweep(spans, (earlier, later) => {
        const end = later.end < earlier.end ? later.end : earlier.end;
        const ids = end - later.start + 1n;
        overlaps++;
        overlappingIds += ids;
        if (overlapList.length < LIST_LIMIT) {
          overlapList.push({
            tag,
            region: regionOf(l),
            shape: l.shape,
            start: later.start.toString(),
            end: end.toString(),
            ids: ids.toString(),
            first: ref(earlier),
            second: ref(later),
          });
        }
      });
    }
  }
  return {
    deployments: deployments.size,
    tags,
    overlaps,
    overlappingIds: overlappingIds.toString(),
    overlapList,
    unprovable,
    unprovableList,
    ...checkWorkers(holders),
  };
}

/**
 * Worker IDs held in two deployments at once, where at least one holder is of a region
 * (N > 1): a holder of no region (0/1) may claim any worker ID, so it is compared with
 * them too. Two deployments of no region are independent, as everywhere in the audit.
 */
function checkWorkers(
  holders: readonly Holder[],
): Pick<RegionReport, 'workerHolders' | 'workerOverlaps' | 'workerOverlapList'> {
  const span = (h: Holder, deployment: string): Span<Holder> => ({
    start: BigInt(h.floor),
    end: BigInt(h.horizon),
    deployment,
    item: h,
  });
  const regional = holders.filter((h) => h.region.count > 1);
  const plain = holders.filter((h) => h.region.count === 1);
  /** Per worker ID, the sweeps to run: each finds pairs of two labels only. */
  const sweeps = new Map<number, Span<Holder>[][]>();
  const add = (worker: number, spans: Span<Holder>[]) => {
    if (spans.length > 1) sweeps.set(worker, [...(sweeps.get(worker) ?? []), spans]);
  };
  const byWorker = <T>(xs: readonly Holder[], f: (h: Holder) => T) => {
    const m = new Map<number, T[]>();
    for (const h of xs) m.set(h.worker, [...(m.get(h.worker) ?? []), f(h)]);
    return m;
  };
  // Regions against regions, deployment by deployment.
  for (const [worker, spans] of byWorker(regional, (h) => span(h, h.deployment)))
    add(worker, spans);
  // Each deployment's regional holders against the other deployments' holders of no region.
  const plainBy = byWorker(plain, (h) => h);
  for (const [worker, hs] of byWorker(regional, (h) => h)) {
    const others = plainBy.get(worker) ?? [];
    for (const d of new Set(hs.map((h) => h.deployment))) {
      const mine = hs.filter((h) => h.deployment === d).map((h) => span(h, 'region'));
      const theirs = others.filter((h) => h.deployment !== d).map((h) => span(h, 'other'));
      if (theirs.length > 0) add(worker, [...mine, ...theirs]);
    }
  }
  const show = (h: Holder): RegionWorkerHolder => ({
    deployment: h.deployment,
    region: `${h.region.index}/${h.region.count}`,
    node: h.node,
    floor: new Date(h.floor).toISOString(),
    horizon: new Date(h.horizon).toISOString(),
    at: new Date(h.at).toISOString(),
  });
  const list: RegionWorkerOverlap[] = [];
  let overlaps = 0;
  for (const [worker, all] of [...sweeps].sort((a, b) => a[0] - b[0])) {
    for (const spans of all) {
      crossSweep(spans, (earlier, later) => {
        overlaps++;
        if (list.length < LIST_LIMIT) {
          list.push({
            worker,
            from: new Date(later.item.floor).toISOString(),
            to: new Date(Math.min(later.item.horizon, earlier.item.horizon)).toISOString(),
            first: show(earlier.item),
            second: show(later.item),
          });
        }
      });
    }
  }
  return { workerHolders: regional.length, workerOverlaps: overlaps, workerOverlapList: list };
}
