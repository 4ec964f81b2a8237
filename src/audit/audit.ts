/**
 * The audit of grant logs: given the grant lines of every node of a deployment, were any
 * IDs granted twice? Per deployment and tag, the ranges granted (segments, batches, leased
 * ranges) are swept once for overlaps and gaps (sweep.ts); a snowflake worker ID held by
 * two holders whose timestamp windows `[floor, horizon]` meet is an overlap too
 * (workers.ts). Deployments of a tag in regions are compared with each other (regions.ts).
 * The audit never calls a log clean that it did not read: lines that look
 * like grant lines but cannot be read make the verdict `unreadable`, and a log without one
 * grant line `empty`.
 *
 * This file is the audit's two ends: the line intake (every line counted, an unreadable
 * one named by file and line number, a grant handed to the ledger, ledger.ts) and the
 * report (the sweeps run over what the ledger holds, and the verdict drawn from them).
 * `auditGrantLog(lines)` for tests and callers with lines at hand; {@link GrantAudit} to
 * feed lines as they stream in (the CLI reads files of millions of lines this way).
 */
import { GrantLedger } from './ledger.js';
import { parseLine } from './parse.js';
import { sweepTag, sweptGrants, type IdGrant, type TagState } from './sweep.js';
import { sweepWorkers } from './workers.js';
import { checkRegions } from './regions.js';
import type { AuditReport, TagReport, UnreadableLine, Verdict } from './types.js';

/** Unreadable lines named in the report (all are counted). */
export const UNREADABLE_SHOWN = 10;

/** Collects grant lines, then reports. */
export class GrantAudit {
  private lines = 0;
  private unreadable = 0;
  private readonly unreadableLines: UnreadableLine[] = [];
  private source = '';
  /** The sources begun so far: a line's place is its source's ordinal and line number. */
  private sources = 0;
  private lineNo = 0;
  private readonly ledger = new GrantLedger();

  /** The lines that follow come from `file` (numbered from 1 again): for the report. */
  beginSource(file: string): void {
    this.source = file;
    this.sources++;
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
      if (r.type === 'grant') this.ledger.take(r.grant, this.sources, this.lineNo);
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

  report(): AuditReport {
    const ledger = this.ledger;
    // Copies of one ID grant (one log fed twice) are found by the sweep, once sorted: they
    // are duplicate lines, not grant lines.
    let copies = 0;
    const names = ledger.names;
    const swept = new Map<TagState, readonly IdGrant[]>();
    const tags: TagReport[] = ledger
      .tagStates()
      .sort((a, b) => order(a.deployment, b.deployment) || order(a.tag, b.tag))
      .filter((t) => t.grants.length > 0 || t.skipped.size > 0)
      .map((t) => {
        const s = sweepTag(t, names);
        copies += s.copies;
        swept.set(t, s.grants);
        return s.report;
      });
    const workers = sweepWorkers(ledger.workerHolders());
    // The regions' check reads each deployment's own grants as its hand-backs left them
    // (swept above, or here when the sweep had lines without a deployment merged in).
    const regions = checkRegions(
      ledger.namedTagStates(),
      ledger.namedHolders(),
      names,
      (t) => swept.get(t) ?? sweptGrants(t).grants,
    );
    const overlaps =
      tags.reduce((n, t) => n + t.overlaps, 0) +
      workers.overlaps +
      regions.overlaps +
      regions.workerOverlaps;
    const grantLines = ledger.grantLines - copies;
    const verdict: Verdict =
      overlaps > 0
        ? 'overlaps'
        : regions.unprovable > 0
          ? 'unprovable'
          : this.unreadable > 0
            ? 'unreadable'
            : grantLines === 0
              ? 'empty'
              : 'clean';
    return {
      verdict,
      lines: this.lines,
      grantLines,
      duplicateLines: ledger.duplicates + copies,
      unreadable: this.unreadable,
      unreadableLines: [...this.unreadableLines],
      deployments: [...ledger.deployments].sort(order),
      nodes: [...ledger.nodes].sort(),
      tags,
      workers,
      regions,
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
