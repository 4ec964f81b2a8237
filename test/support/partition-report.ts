/**
 * What each side of a partition answered, for the partition tests' reports: IDs served
 * (HTTP 200), `UNAVAILABLE` answers (503), any other failure by code, and the longest
 * span in which one of the side's tags got no ID at all (`Load.longestUnavailability`).
 */
import { IdLedger } from './ledger.js';
import type { Load } from './load.js';
import { GrantLogs } from './grant-audit.js';
import type { ServiceProcess } from './service-process.js';

export interface SideFigures {
  readonly side: string;
  readonly ok: number;
  readonly unavailable: number;
  readonly otherErrors: Record<string, number>;
  readonly longestOutageMs: number;
}

/** A load's counts at one moment, to report only what came after it. */
export interface LoadMark {
  readonly at: number;
  readonly served: number;
  readonly errors: Record<string, number>;
}

export function mark(load: Load): LoadMark {
  return { at: Date.now(), served: load.served, errors: load.errorCounts() };
}

/**
 * The figures of one side's load since `from` (answers counted after it, outages that
 * began at or after it).
 */
export function sideFigures(side: string, load: Load, from: LoadMark): SideFigures {
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(load.errorCounts())) {
    const d = n - (from.errors[code] ?? 0);
    if (d > 0) errors[code] = d;
  }
  const { UNAVAILABLE: unavailable = 0, ...otherErrors } = errors;
  return {
    side,
    ok: load.served - from.served,
    unavailable,
    otherErrors,
    longestOutageMs: load.longestUnavailability(from.at),
  };
}

/** One line per side, prefixed by the scenario's name. */
export function formatFigures(scenario: string, figures: readonly SideFigures[]): string {
  return figures
    .map((f) => {
      const other = Object.keys(f.otherErrors).length
        ? ` other ${JSON.stringify(f.otherErrors)}`
        : '';
      return `${scenario}: ${f.side}: 200 × ${f.ok}, 503 × ${f.unavailable}${other}, longest unavailability ${f.longestOutageMs} ms`;
    })
    .join('\n');
}

/** Every ID of every load in one ledger (to check for repeats across the sides). */
export function allIds(loads: readonly Load[]): IdLedger {
  const all = new IdLedger();
  for (const l of loads) all.merge(l.ledger);
  return all;
}

/**
 * `idalloc-admin audit`'s check over the grant logs of every service node of a scenario
 * (what an operator would run over the deployment's logs): grant lines were written, and
 * no two grants — segments, ranges or snowflake worker windows — overlap. Prints the
 * audit's figures beside the ledger's.
 */
export function auditNodes(name: string, nodes: readonly ServiceProcess[]): void {
  const logs = new GrantLogs();
  for (const n of nodes) logs.addParsed(n.logs);
  const r = logs.expectNoOverlaps();
  const granted = r.tags.reduce((sum, t) => sum + BigInt(t.idsGranted), 0n);
  console.log(
    `${name}: audit of ${nodes.length} nodes' logs: ${r.grantLines} grant lines, ${granted} IDs granted, ${r.overlaps} overlaps`,
  );
}
