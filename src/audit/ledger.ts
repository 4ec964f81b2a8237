/**
 * What the grants of a log add up to, before any sweep: the grant lines counted with the
 * same grant fed twice dropped, per deployment and tag the ID grants and skips (a
 * {@link TagState}), the snowflake worker holders, and the node and incarnation names
 * interned (a tag's grants, the millions, hold indexes, not strings). Apart from the line
 * intake (audit.ts) because this is the audit's memory, and its rules — what counts as one
 * grant, which lines join which deployment — are one idea: the sweeps read only what the
 * ledger hands out.
 */
import type { ParsedGrant } from './parse.js';
import { TagState, type Layout, type LinePlace, type Names } from './sweep.js';
import type { Holder } from './workers.js';

/** The grants taken so far, per deployment, tag and worker ID. */
export class GrantLedger {
  private grants = 0;
  private dropped = 0;
  private readonly seen = new Set<string>();
  /** The places of the copies of each handback line, by its key in {@link seen}. */
  private readonly handbackCopies = new Map<string, LinePlace[]>();
  private readonly nodeNames: string[] = [];
  private readonly nodeIndex = new Map<string, number>();
  private readonly incarnations: string[] = [];
  private readonly incarnationIndex = new Map<string, number>();
  private readonly layoutList: Layout[] = [];
  private readonly layoutIndex = new Map<string, number>();
  private lastLayout = 0;
  private readonly deploymentSet = new Set<string>();
  private readonly tags = new Map<string, TagState>();
  private readonly holders = new Map<string, Holder>();

  /** Grant lines taken, not counting those dropped as the same grant fed twice. */
  get grantLines(): number {
    return this.grants;
  }

  /** Grant lines dropped as the same grant fed twice (before the sweeps find more). */
  get duplicates(): number {
    return this.dropped;
  }

  /** Every deployment the grant lines named, `''` for lines without one. */
  get deployments(): readonly string[] {
    return [...this.deploymentSet];
  }

  /** Node and incarnation names by the indexes the grants hold (for the sweeps). */
  get names(): Names {
    return { nodes: this.nodeNames, incarnations: this.incarnations, layouts: this.layoutList };
  }

  /** The names of the nodes whose grants were taken, in the order first seen. */
  get nodes(): readonly string[] {
    return this.nodeNames;
  }

  /**
   * One grant line, read: line `line` of the `source`-th input (the order of a node's lines
   * within one millisecond, see {@link IdGrant.line}).
   */
  take(g: ParsedGrant, source = 0, line = 0): void {
    this.grants++;
    this.deploymentSet.add(g.deployment);
    // The same grant fed twice (one log passed twice) is one grant, not an overlap. ID
    // grants, the millions, are compared once sorted (sweep.ts); the few others here.
    if (g.kind !== 'segment' && g.kind !== 'batch' && g.kind !== 'range') {
      const key = JSON.stringify(
        g.kind === 'worker'
          ? [g.deployment, g.node, g.incarnation, 'w', g.worker, g.floor, g.horizon, g.at]
          : [g.deployment, g.node, g.incarnation, g.kind, g.tag, `${g.start}`, `${g.end}`, g.at],
      );
      if (this.seen.has(key)) {
        // Where copies of a handback or remainder line lie orders it (sweep.ts).
        this.handbackCopies.get(key)?.push({ source, line });
        this.dropped++;
        this.grants--;
        return;
      }
      this.seen.add(key);
      if (g.kind === 'handback' || g.kind === 'remainder') {
        const copies: LinePlace[] = [];
        this.handbackCopies.set(key, copies);
        this.add(g, source, line, copies);
        return;
      }
    }
    this.add(g, source, line);
  }

  private add(g: ParsedGrant, source: number, line: number, copies: LinePlace[] = []): void {
    const node = intern(this.nodeIndex, this.nodeNames, g.node);
    if (g.kind === 'worker') {
      // One holder per deployment, node, worker ID and floor: a claim and its renewals.
      const key = JSON.stringify([g.deployment, g.node, g.worker, g.floor]);
      const h = this.holders.get(key);
      if (h === undefined) {
        const { deployment, worker, floor, horizon, at, region } = g;
        this.holders.set(key, { deployment, node: g.node, worker, floor, horizon, at, region });
      } else {
        h.horizon = Math.max(h.horizon, g.horizon);
        h.at = Math.min(h.at, g.at);
      }
      return;
    }
    const tagKey = JSON.stringify([g.deployment, g.tag]);
    let t = this.tags.get(tagKey);
    if (t === undefined) {
      t = new TagState(g.deployment, g.tag);
      this.tags.set(tagKey, t);
    }
    if (g.max !== undefined && (t.max === undefined || g.at >= t.max.at)) {
      t.max = { value: g.max, at: g.at };
    }
    const n = g.end - g.start + 1n;
    switch (g.kind) {
      case 'segment':
      case 'batch':
      case 'range': {
        const incarnation = intern(this.incarnationIndex, this.incarnations, g.incarnation);
        const layout = this.layoutOf(g.region.count, g.region.index, g.shape);
        t.layouts.add(layout);
        t.grants.push({
          start: g.start,
          end: g.end,
          at: g.at,
          node,
          kind: g.kind,
          incarnation,
          client: g.client,
          layout,
          source,
          line,
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
        t.remainders.push({ start: g.start, end: g.end, node, at: g.at, source, line, copies });
        return;
      case 'handback':
        t.handbacks.push({
          start: g.start,
          end: g.end,
          at: g.at,
          node,
          incarnation: intern(this.incarnationIndex, this.incarnations, g.incarnation),
          source,
          line,
          copies,
        });
        return;
    }
  }

  /** The index of a layout, added when first seen (a log holds a handful). */
  private layoutOf(count: number, index: number, shape: string): number {
    // Most lines repeat the last one's layout: no key built for them (millions of grants).
    const last = this.layoutList[this.lastLayout];
    if (last !== undefined && last.count === count && last.index === index && last.shape === shape)
      return this.lastLayout;
    const key = `${count}/${index}/${shape}`;
    let i = this.layoutIndex.get(key);
    if (i === undefined) {
      i = this.layoutList.length;
      this.layoutList.push(Object.freeze({ count, index, shape }));
      this.layoutIndex.set(key, i);
    }
    this.lastLayout = i;
    return i;
  }

  /**
   * Per tag and named deployment what the lines said, as taken (deployment-less lines
   * left out: they belong to some deployment, unknown which): the cross-deployment check
   * (regions.ts) compares these.
   */
  namedTagStates(): TagState[] {
    return [...this.tags.values()].filter((t) => t.deployment !== '');
  }

  /** The worker holders of named deployments, as taken (see {@link namedTagStates}). */
  namedHolders(): Holder[] {
    return [...this.holders.values()].filter((h) => h.deployment !== '');
  }

  /**
   * Lines without a deployment come from nodes of an older version — during an upgrade,
   * nodes of the same deployment as the named lines. So they are audited with every
   * deployment the log names (an overlap across two deployments may show that is none; one
   * between an old and an upgraded node never hides), and alone when the log names none.
   */
  private named(): string[] {
    return [...this.deploymentSet].filter((d) => d !== '');
  }

  /** Per deployment and tag what the lines said, deployment-less lines merged in (above). */
  tagStates(): TagState[] {
    const named = this.named();
    const states = [...this.tags.values()];
    if (named.length === 0) return states;
    const unnamed = new Map(states.filter((t) => t.deployment === '').map((t) => [t.tag, t]));
    const merged = new Set<string>();
    const out = states
      .filter((t) => t.deployment !== '')
      .map((t) => {
        const u = unnamed.get(t.tag);
        if (u === undefined) return t;
        merged.add(t.tag);
        return t.with(u);
      });
    return [...out, ...[...unnamed.values()].filter((u) => !merged.has(u.tag))];
  }

  /** The worker holders, a deployment-less one once for each deployment named (above). */
  workerHolders(): Holder[] {
    const named = this.named();
    return [...this.holders.values()].flatMap((h) =>
      h.deployment === '' && named.length > 0
        ? named.map((deployment) => ({ ...h, deployment }))
        : [h],
    );
  }
}

/** `name`'s index in `list`, added at the end when first seen. */
function intern(map: Map<string, number>, list: string[], name: string): number {
  let i = map.get(name);
  if (i === undefined) {
    i = list.length;
    list.push(name);
    map.set(name, i);
  }
  return i;
}
