/**
 * The grant logs of a fault test's nodes, kept as the JSON lines a node writes, and the
 * audit run over them at the end: what an operator would run over a deployment's logs.
 */
import { expect } from 'vitest';
import type { Log } from '../../src/core/time-and-log.js';
import { auditGrantLog, type AuditReport } from '../../src/audit/index.js';
import { createGrantLog, type GrantLog } from '../../src/grants/log.js';
import type { Grant } from '../../src/core/store-ports.js';

/** Every node's log lines in one place (as `docker compose logs` would interleave them). */
export class GrantLogs {
  readonly lines: string[] = [];

  /** A logger for one in-process node: its info lines (grant lines among them) land here. */
  log(): Log {
    const push = (level: number) => (obj: object, msg: string) => {
      this.lines.push(JSON.stringify({ level, time: new Date().toISOString(), ...obj, msg }));
    };
    return { error: push(50), warn: push(40), info: push(30) };
  }

  /** The grant log of node `nodeId`, writing into these lines (for `createAllocator`). */
  node(nodeId: string): GrantLog {
    return createGrantLog(this.log(), { nodeId });
  }

  /**
   * For tests that call a store directly: the grant line the node `nodeId` would have
   * written for `grant`, written by the same writer the allocator uses.
   */
  recordGrant(nodeId: string, tag: string, grant: Grant): void {
    this.node(nodeId).record({
      kind: 'segment',
      tag,
      start: grant.start,
      end: grant.end,
      max: grant.max,
      ...(grant.incarnation === undefined ? {} : { incarnation: grant.incarnation }),
      ...(grant.skipped ? { skipped: grant.skipped } : {}),
    });
  }

  /** Adds a service process's parsed stdout lines. */
  addParsed(logs: readonly Record<string, unknown>[]): void {
    for (const l of logs) this.lines.push(JSON.stringify(l));
  }

  audit(): AuditReport {
    return auditGrantLog(this.lines);
  }

  /**
   * Audits the lines and asserts what every fault test must end with: grant lines were
   * there to audit (at least `minGrants`), and no ID was granted twice.
   */
  expectNoOverlaps(minGrants = 1): AuditReport {
    const r = this.audit();
    expect(r.unreadableLines, 'unreadable grant lines').toEqual([]);
    expect(r.grantLines, 'grant lines to audit').toBeGreaterThanOrEqual(minGrants);
    const overlaps = r.tags.flatMap((t) => t.overlapList);
    expect(overlaps, 'overlaps found by audit').toEqual([]);
    expect(r.workers.overlapList, 'worker overlaps found by audit').toEqual([]);
    expect(r.overlaps).toBe(0);
    return r;
  }
}
