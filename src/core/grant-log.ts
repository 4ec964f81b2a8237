/**
 * The grant log: one JSON line per grant a node receives from its store (a segment, a
 * range leased to a client, a batch of its own, a snowflake worker claim or horizon), and
 * per range of IDs it gives up unserved (a discarded grant, a fenced one, the remainder of
 * its buffers at shutdown). `idalloc-admin audit` reads these lines from every node and
 * proves, or disproves, that no ID was granted twice.
 *
 * A line is written synchronously, before any ID of its grant is served: the allocator
 * records a grant before it returns it. Cost: one line per segment, never per ID.
 *
 * Where lines go: the node's pino log at info level (`msg: "grant"`, the entry under
 * `grant`; on stdout a grant whose line could not be taken is not served either:
 * grant-stdout.ts), or, with `GRANT_LOG=path`, appended to that file instead (grant-file.ts:
 * O_APPEND, every write checked, a grant whose line failed is not served; not fsync'd: a
 * line survives the process crashing, not the machine crashing — the same as the pino
 * log on stdout).
 */
import { hostname } from 'node:os';
import { GrantFile } from '../grants/file.js';
import { GrantOutputGate, type GrantLineOutput } from '../grants/stdout.js';

export { GrantLogError } from '../grants/file.js';
export type { GrantLineOutput } from '../grants/stdout.js';

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

/** The default node id: `hostname:pid`, unique per process on a host. */
export function defaultNodeId(): string {
  return `${hostname()}:${process.pid}`;
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
    return { ...base, ...(incarnation ? { incarnation } : {}), worker, floor, horizon, how };
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
  };
}

export interface GrantLogOptions {
  /** `NODE_ID`. @default hostname:pid */
  readonly nodeId?: string;
  /** The deployment every line names (see {@link GrantLine.deployment}). @default none */
  readonly deployment?: string;
  /** `GRANT_LOG`: a file to append lines to instead of `log`. */
  readonly file?: string;
  /**
   * Where `log` writes (the service's stdout destination): grant lines into `log` then
   * fail closed when it cannot take them (grant-stdout.ts). Without it they cannot fail.
   */
  readonly output?: GrantLineOutput;
  /** Wall clock (ms). @default Date.now */
  readonly now?: () => number;
}

/** A recorder that also closes what it opened. */
export interface GrantLog extends GrantRecorder {
  readonly nodeId: string;
  /** Why grant lines cannot be written now (tried again when due), or undefined. */
  check(): string | undefined;
  /**
   * Opens `GRANT_LOG` again by its path (SIGHUP, after a rotation); nothing without it.
   * @returns why it could not (no grant is served then), or undefined
   */
  reopen(): string | undefined;
  close(): void;
}

/**
 * The grant log of a node: lines into `log` at info level, or into `opts.file`.
 * @throws Error when the file cannot be opened for appending, ELOOP when it is a symbolic
 *   link (the caller names GRANT_LOG)
 */
export function createGrantLog(log: GrantLogSink, opts: GrantLogOptions = {}): GrantLog {
  const nodeId = opts.nodeId ?? defaultNodeId();
  const now = opts.now ?? Date.now;
  if (opts.file === undefined) {
    const emit = (event: GrantEvent) => () =>
      log.info({ grant: grantLine(event, nodeId, now(), opts.deployment) }, GRANT_MSG);
    if (opts.output === undefined) {
      return {
        nodeId,
        record: (event) => emit(event)(),
        check: () => undefined,
        reopen: () => undefined,
        close() {},
      };
    }
    const gate = new GrantOutputGate(opts.output);
    return {
      nodeId,
      record: (event) => gate.write(emit(event)),
      ensureWritable: () => gate.ensureWritable(),
      check: () => gate.check(),
      reopen: () => undefined,
      close() {},
    };
  }
  const file = new GrantFile(opts.file, log, now);
  return {
    nodeId,
    record(event) {
      const at = now();
      const line = { time: new Date(at).toISOString(), msg: GRANT_MSG };
      file.write(
        `${JSON.stringify({ ...line, grant: grantLine(event, nodeId, at, opts.deployment) })}\n`,
      );
    },
    ensureWritable: () => file.ensureWritable(),
    check: () => file.check(),
    reopen: () => file.reopen(),
    close: () => file.close(),
  };
}
