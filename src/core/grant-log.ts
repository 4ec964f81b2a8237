/**
 * The grant log: one JSON line per grant a node receives from its store (a segment, a
 * range leased to a client, a batch of its own, a snowflake worker claim or horizon), and
 * per range of IDs it gives up unserved (a discarded grant, a fenced one, the remainder of
 * its buffers at shutdown), and per range of those it gave back to the store (a hand-back). `idalloc-admin audit` reads these lines from every node and
 * proves, or disproves, that no ID was granted twice.
 *
 * A line is written synchronously, before any ID of its grant is served: the allocator
 * records a grant before it returns it. Cost: one line per segment, never per ID.
 *
 * This file is the grant log's vocabulary, shared by the allocator that records grants,
 * the writers that put lines somewhere (src/grants) and the audit that reads them back
 * (src/audit): the events, the line's shape and the recorder port.
 */
import { regionText, type Region } from './shape.js';

/** The logging the grant log needs (a pino logger, or the allocators' Log, fits). */
export interface GrantLogSink {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Why IDs were skipped, as the metric `idalloc_ids_skipped_total{reason}` names it. */
export type SkipReason = 'incarnation_jump' | 'discarded_grant' | 'fence' | 'shutdown_remainder';

export const SKIP_REASONS: readonly SkipReason[] = Object.freeze([
  'incarnation_jump',
  'discarded_grant',
  'fence',
  'shutdown_remainder',
]);

/** What an allocator reports; the recorder adds the node and the time. */
export type GrantEvent =
  /** A segment of the node's double buffer. */
  | IdsEvent<'segment'>
  /** A batch larger than the step, served from its own range. */
  | IdsEvent<'batch'>
  /** A range leased to a client (`/v1/ranges`, `lease()`). */
  | (IdsEvent<'range'> & { readonly client?: string })
  /** A grant `WAIT` did not confirm under `REDIS_MIN_REPLICAS`: none of it is served. */
  | (IdsEvent<'discarded'> & { readonly reason: string })
  /** A grant at or below IDs the store granted before (regression fence): refused. */
  | (IdsEvent<'fence'> & { readonly highWater: bigint })
  /** IDs of a buffer left unserved when the allocator closed. */
  | IdsEvent<'remainder'>
  /**
   * Unserved IDs (of a remainder line just before) given back to the store's counter at a
   * clean stop, written once the store confirmed it: never issued, so a later grant of
   * them is no overlap (docs/design.md §5 "Hand-back").
   */
  | IdsEvent<'handback'>
  | WorkerEvent;

interface IdsEvent<K extends string> {
  readonly kind: K;
  readonly tag: string;
  readonly start: bigint;
  readonly end: bigint;
  /** The tag's max at the time (for how long the tag lasts). */
  readonly max?: bigint;
  readonly incarnation?: string;
  /** IDs the incarnation guard skipped right before this grant. */
  readonly skipped?: bigint;
  /** The node's region; written only when it has more than one (`region: "i/N"`). */
  readonly region?: Region;
  /** The tag's {@link shapeFingerprint}; written only when it is not `plain`. */
  readonly shape?: string;
}

/** A snowflake worker ID held: timestamps from `floor` to `horizon` (Unix ms) are its. */
export interface WorkerEvent {
  readonly kind: 'worker';
  readonly worker: number;
  readonly floor: number;
  readonly horizon: number;
  /** 'claim' for a fresh claim, 'renew' for a raised horizon. */
  readonly how: 'claim' | 'renew';
  readonly incarnation?: string;
  /** The node's region; written only when it has more than one (its worker IDs are a block). */
  readonly region?: Region;
}

/** One grant line's `grant` object as written: IDs as decimal strings. */
export interface GrantLine {
  readonly kind: GrantEvent['kind'];
  readonly node: string;
  /**
   * The deployment the grant came from: the id stored in its store (core/deployment.ts).
   * One log may hold the lines of two deployments; the audit checks each apart. Absent in
   * lines of older versions.
   */
  readonly deployment?: string;
  /** ISO-8601 time the node received (or gave up) the grant. */
  readonly at: string;
  readonly incarnation?: string;
  readonly tag?: string;
  readonly start?: string;
  readonly end?: string;
  readonly max?: string;
  readonly skipped?: string;
  readonly client?: string;
  readonly reason?: string;
  readonly highWater?: string;
  readonly worker?: number;
  readonly floor?: number;
  readonly horizon?: number;
  readonly how?: 'claim' | 'renew';
  /**
   * `i/N`: the node's region index and count, only when N > 1 (absent: 0/1). The IDs of a
   * counter value `c` are shape(c·N + i): the audit compares deployments through it.
   */
  readonly region?: string;
  /** The tag's shape fingerprint (core/shape.ts), only when not `plain` (absent: plain). */
  readonly shape?: string;
}

/** The `msg` of every grant line. */
export const GRANT_MSG = 'grant';

/** Where an allocator sends its grants. */
export interface GrantRecorder {
  /**
   * Writes the event's line before any ID of it is served.
   * @throws GrantLogError when the line could not be written whole: the grant must not
   *   be served (a line of IDs given up unserved may be lost: nothing else is at stake)
   */
  record(event: GrantEvent): void;
  /**
   * Called before a grant is taken from the store, so that none is taken while lines
   * cannot be written. Omitted by recorders that cannot fail.
   * @throws GrantLogError while the log cannot be written
   */
  ensureWritable?(): void;
}

export const silentGrants: GrantRecorder = Object.freeze({ record() {} });

/** `grants.record(event)` for a line about IDs never served: its failure costs nothing. */
export function recordUnserved(grants: GrantRecorder, event: GrantEvent): void {
  try {
    grants.record(event);
  } catch {
    // The grant log said once that it is failing; these IDs were never served anyway.
  }
}

/** The `region` field of a line: present only for a node of more than one region. */
function regionField(region: Region | undefined): { region?: string } {
  return region !== undefined && region.count > 1 ? { region: regionText(region) } : {};
}

/** A grant event as the line's `grant` object. */
export function grantLine(
  event: GrantEvent,
  node: string,
  at: number,
  deployment?: string,
): GrantLine {
  const base = {
    kind: event.kind,
    node,
    ...(deployment ? { deployment } : {}),
    at: new Date(at).toISOString(),
  };
  if (event.kind === 'worker') {
    const { worker, floor, horizon, how, incarnation } = event;
    return {
      ...base,
      ...(incarnation ? { incarnation } : {}),
      worker,
      floor,
      horizon,
      how,
      ...regionField(event.region),
    };
  }
  return {
    ...base,
    ...(event.incarnation ? { incarnation: event.incarnation } : {}),
    tag: event.tag,
    start: event.start.toString(),
    end: event.end.toString(),
    ...(event.max === undefined ? {} : { max: event.max.toString() }),
    ...(event.skipped ? { skipped: event.skipped.toString() } : {}),
    ...(event.kind === 'range' && event.client ? { client: event.client } : {}),
    ...(event.kind === 'discarded' ? { reason: event.reason } : {}),
    ...(event.kind === 'fence' ? { highWater: event.highWater.toString() } : {}),
    ...regionField(event.region),
    ...(event.shape !== undefined && event.shape !== 'plain' ? { shape: event.shape } : {}),
  };
}
