/** The audit's report (audit.ts builds it, format.ts prints it, the CLI answers it as JSON). */
import type { SkipReason } from '../core/grant-log.js';

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
  /**
   * IDs granted per second over the log's time span: the IDs the grants cover, not the
   * gaps between them (an incarnation jump or a bump is a one-off, not a rate).
   */
  readonly idsPerSecond: number | null;
  readonly spanSeconds: number;
  /** Seconds until max at that rate, or null without a rate. */
  readonly lastsSeconds: number | null;
  /** ISO time it runs out, or null (no rate, or beyond what a Date can show). */
  readonly exhaustedAt: string | null;
}

export interface TagReport {
  readonly tag: string;
  /** The deployment the tag's grants came from ('' for lines that name none). */
  readonly deployment: string;
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
  /**
   * IDs given up unserved, by reason, as the nodes logged them; `shutdown_remainder`
   * without the IDs handed back.
   */
  readonly skipped: Record<SkipReason, string>;
  /**
   * IDs given back to the store's counter at a clean stop (handback lines that match the
   * node's grant and remainder lines): never issued, so granting them again is no overlap.
   */
  readonly handedBack: string;
  /** Handback lines that match no grant and remainder of their node: their IDs stay granted. */
  readonly handbacksIgnored: number;
  /** Incarnations (Redis run_ids) the tag's grants came from, in order of first use. */
  readonly incarnations: readonly string[];
  readonly forecast: Forecast | null;
}

export interface WorkerOverlap {
  readonly deployment: string;
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

/** A grant of one deployment, as a cross-deployment finding shows it. */
export interface RegionGrantRef extends GrantRef {
  readonly deployment: string;
}

/** The same counter values of one tag, region and shape granted in two deployments. */
export interface RegionOverlap {
  readonly tag: string;
  /** `i/N`: both grants' region. */
  readonly region: string;
  /** Both grants' shape fingerprint. */
  readonly shape: string;
  /** The counter values both grants hold (IDs shape(c·N + i) of both). */
  readonly start: string;
  readonly end: string;
  readonly ids: string;
  readonly first: RegionGrantRef;
  readonly second: RegionGrantRef;
}

/** How one deployment issued a tag: region `i/N` and shape fingerprint. */
export interface RegionSide {
  readonly deployment: string;
  readonly region: string;
  readonly shape: string;
}

/** Two deployments of one tag whose IDs the audit cannot prove disjoint. */
export interface Unprovable {
  readonly tag: string;
  readonly first: RegionSide;
  readonly second: RegionSide;
  readonly reason: string;
}

/** One snowflake worker ID held in two deployments at once (regions of N > 1). */
export interface RegionWorkerOverlap {
  readonly worker: number;
  readonly from: string;
  readonly to: string;
  readonly first: RegionWorkerHolder;
  readonly second: RegionWorkerHolder;
}

export interface RegionWorkerHolder {
  readonly deployment: string;
  readonly region: string;
  readonly node: string;
  readonly floor: string;
  readonly horizon: string;
  readonly at: string;
}

/**
 * The check across deployments (regions.ts): each deployment is one store, and tags
 * issued in regions of N > 1 must be disjoint between them.
 */
export interface RegionReport {
  /** Named deployments in the log. */
  readonly deployments: number;
  /** Tags with lines of N > 1 in two or more deployments: the ones compared. */
  readonly tags: number;
  /** Grants that share counter values with a grant of another deployment, same layout. */
  readonly overlaps: number;
  readonly overlappingIds: string;
  readonly overlapList: readonly RegionOverlap[];
  /** Pairs of deployments and layouts of one tag that cannot be proven disjoint. */
  readonly unprovable: number;
  readonly unprovableList: readonly Unprovable[];
  /** Worker holders of N > 1 compared across deployments. */
  readonly workerHolders: number;
  readonly workerOverlaps: number;
  readonly workerOverlapList: readonly RegionWorkerOverlap[];
}

/**
 * What the audit concludes: `clean` — every grant line read, none granted twice;
 * `overlaps` — some ID was granted twice (whatever else); `unprovable` — no overlap found,
 * but two deployments issued a tag in regions the audit cannot prove disjoint (another
 * region count or shape); `unreadable` — no overlap among
 * the lines read, but some grant lines could not be read, so none can be ruled out;
 * `empty` — not one grant line: nothing was audited.
 */
export type Verdict = 'clean' | 'overlaps' | 'unprovable' | 'unreadable' | 'empty';

/** A line that looks like a grant line but cannot be read. */
export interface UnreadableLine {
  /** The file ('stdin' for standard input; '' when lines were handed over directly). */
  readonly file: string;
  /** 1-based line number within the file. */
  readonly line: number;
  readonly why: string;
}

export interface AuditReport {
  readonly verdict: Verdict;
  readonly lines: number;
  readonly grantLines: number;
  /** Lines repeated verbatim (the same log fed twice): counted once. */
  readonly duplicateLines: number;
  /** Lines that look like grant lines (cut, glued, out of range…) but cannot be read. */
  readonly unreadable: number;
  /** The first few of them: where and why. */
  readonly unreadableLines: readonly UnreadableLine[];
  /** The deployments the grant lines name ('' for lines that name none), sorted. */
  readonly deployments: readonly string[];
  readonly nodes: readonly string[];
  readonly tags: readonly TagReport[];
  readonly workers: WorkerReport;
  /** Across deployments: tags and worker IDs of regions (N > 1) compared between stores. */
  readonly regions: RegionReport;
  /**
   * ID overlaps plus worker overlaps, within and across deployments: non-zero means some
   * ID may have been issued twice.
   */
  readonly overlaps: number;
}
