/**
 * The audit of grant logs: given the grant lines of every node of a deployment, were any
 * IDs granted twice? Per deployment and tag, the ranges granted (segments, batches, leased
 * ranges) are swept once for overlaps and gaps (sweep.ts); a snowflake worker ID held by
 * two holders whose timestamp windows `[floor, horizon]` meet is an overlap too. The audit
 * never calls a log clean that it did not read: lines that look like grant lines but
 * cannot be read make the verdict `unreadable`, and a log without one grant line `empty`.
 *
 * `auditGrantLog(lines)` for tests and callers with lines at hand; {@link GrantAudit} to
 * feed lines as they stream in (the CLI reads files of millions of lines this way).
 */
import { parseLine, type ParsedGrant } from './parse.js';
import { sweepTag, TagState } from './sweep.js';
import { sweepWorkers, type Holder } from './workers.js';
import type { AuditReport, TagReport, UnreadableLine, Verdict } from './types.js';

export type * from './types.js';
export { LIST_LIMIT } from './sweep.js';

/** Unreadable lines named in the report (all are counted). */
export const UNREADABLE_SHOWN = 10;

/** Collects grant lines, then reports. */
export class GrantAudit {
  private lines = 0;
  private grantLines = 0;
  private duplicates = 0;
  private unreadable = 0;
  private readonly unreadableLines: UnreadableLine[] = [];
  private source = '';
  private lineNo = 0;
  private readonly seen = new Set<string>();
  private readonly nodeNames: string[] = [];
  private readonly nodeIndex = new Map<string, number>();
  private readonly incarnations: string[] = [];
  private readonly incarnationIndex = new Map<string, number>();
  private readonly deployments = new Set<string>();
  private readonly tags = new Map<string, TagState>();
  private readonly holders = new Map<string, Holder>();

  /** The lines that follow come from `file` (numbered from 1 again): for the report. */
  beginSource(file: string): void {
    this.source = file;
    this.lineNo = 0;
  }

  /**
   * One log line of any kind. `unterminated`: the last line of its input, without a
   * newline after it (where a full disk cuts a line).
   */
  addLine(line: string, unterminated = false): void {
    this.lines++;
    this.lineNo++;
    let r: ReturnType<typeof parseLine>;
    try {
      r = parseLine(line, unterminated);
      if (r.type === 'grant') this.take(r.grant);
    } catch (err) {
      // Whatever a line holds, it must not end the audit: it is a line not read.
      r = { type: 'unreadable', why: err instanceof Error ? err.message : String(err) };
    }
    if (r.type !== 'unreadable') return;
    this.unreadable++;
    if (this.unreadableLines.length < UNREADABLE_SHOWN) {
      this.unreadableLines.push({ file: this.source, line: this.lineNo, why: r.why });
    }
  }

  addLines(lines: Iterable<string>): void {
    for (const line of lines) this.addLine(line);
  }

  private take(g: ParsedGrant): void {
    this.grantLines++;
    this.deployments.add(g.deployment);
    // The same grant fed twice (one log passed twice) is one grant, not an overlap. ID
    // grants, the millions, are compared once sorted (sweep.ts); the few others here.
    if (g.kind !== 'segment' && g.kind !== 'batch' && g.kind !== 'range') {
      const key = JSON.stringify(
        g.kind === 'worker'
          ? [g.deployment, g.node, g.incarnation, 'w', g.worker, g.floor, g.horizon, g.at]
          : [g.deployment, g.node, g.incarnation, g.kind, g.tag, `${g.start}`, `${g.end}`, g.at],
      );
      if (this.seen.has(key)) {
        this.duplicates++;
        this.grantLines--;
        return;
      }
      this.seen.add(key);
    }
    this.add(g);
  }

  private add(g: ParsedGrant): void {
    const node = this.index(this.nodeIndex, this.nodeNames, g.node);
    if (g.kind === 'worker') {
      // One holder per deployment, node, worker ID and floor: a claim and its renewals.
      const key = JSON.stringify([g.deployment, g.node, g.worker, g.floor]);
      const h = this.holders.get(key);
      if (h === undefined) {
        const { deployment, worker, floor, horizon, at } = g;
        this.holders.set(key, { deployment, node: g.node, worker, floor, horizon, at });
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

  /**
   * Lines without a deployment come from nodes of an older version — during an upgrade,
   * nodes of the same deployment as the named lines. So they are audited with every
   * deployment the log names (an overlap across two deployments may show that is none; one
   * between an old and an upgraded node never hides), and alone when the log names none.
   */
  private named(): string[] {
    return [...this.deployments].filter((d) => d !== '');
  }

  private tagStates(): TagState[] {
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

  private workerHolders(): Holder[] {
    const named = this.named();
    return [...this.holders.values()].flatMap((h) =>
      h.deployment === '' && named.length > 0
        ? named.map((deployment) => ({ ...h, deployment }))
        : [h],
    );
  }

  report(): AuditReport {
    let copies = 0;
    const names = { nodes: this.nodeNames, incarnations: this.incarnations };
    const tags: TagReport[] = this.tagStates()
      .sort((a, b) => order(a.deployment, b.deployment) || order(a.tag, b.tag))
      .filter((t) => t.grants.length > 0 || t.skipped.size > 0)
      .map((t) => {
        const swept = sweepTag(t, names);
        copies += swept.copies;
        return swept.report;
      });
    const workers = sweepWorkers(this.workerHolders());
    const overlaps = tags.reduce((n, t) => n + t.overlaps, 0) + workers.overlaps;
    const grantLines = this.grantLines - copies;
    const verdict: Verdict =
      overlaps > 0
        ? 'overlaps'
        : this.unreadable > 0
          ? 'unreadable'
          : grantLines === 0
            ? 'empty'
            : 'clean';
    return {
      verdict,
      lines: this.lines,
      grantLines,
      duplicateLines: this.duplicates + copies,
      unreadable: this.unreadable,
      unreadableLines: [...this.unreadableLines],
      deployments: [...this.deployments].sort(order),
      nodes: [...this.nodeNames].sort(),
      tags,
      workers,
      overlaps,
    };
  }
}

function order(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The audit of a set of log lines (see {@link GrantAudit}). */
export function auditGrantLog(lines: Iterable<string>): AuditReport {
  const audit = new GrantAudit();
  audit.addLines(lines);
  return audit.report();
}
