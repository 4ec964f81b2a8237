/**
 * The grant log of a node (the events and lines: core/grant-log.ts). Where lines go: the
 * node's pino log at info level (`msg: "grant"`, the entry under `grant`; on stdout a
 * grant whose line could not be taken is not served either: stdout.ts), or, with
 * `GRANT_LOG=path`, appended to that file instead (file.ts: O_APPEND, every write
 * checked, a grant whose line failed is not served; not fsync'd: a line survives the
 * process crashing, not the machine crashing — the same as the pino log on stdout).
 */
import { hostname } from 'node:os';
import {
  GRANT_MSG,
  grantLine,
  type GrantEvent,
  type GrantLogSink,
  type GrantRecorder,
} from '../core/grant-log.js';
import { GrantFile } from './file.js';
import { GrantOutputGate, type GrantLineOutput } from './stdout.js';

export type { GrantLineOutput } from './stdout.js';

/** The default node id: `hostname:pid`, unique per process on a host. */
export function defaultNodeId(): string {
  return `${hostname()}:${process.pid}`;
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
   * fail closed when it cannot take them (stdout.ts). Without it they cannot fail.
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
