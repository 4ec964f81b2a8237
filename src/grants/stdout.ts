/**
 * Grant lines in the service's log on stdout (no `GRANT_LOG`): they fail closed like the
 * file's (file.ts). The log's destination (observe/log-destination.ts) says whether each
 * grant line was written or buffered; once it cannot be — stdout broke (its reader died:
 * EPIPE, for good), or its reader stalled and grant lines fill the buffer — no new grant
 * is served ({@link GrantLogError}, a 503 naming the grant log), readiness says why, and
 * one line on stderr says so. IDs of grants whose lines were taken are still served.
 *
 * The limit: a line buffered for a stalled reader is lost if stdout breaks before the
 * reader reads it, or the process ends first, while its IDs may have been served. A
 * `GRANT_LOG` file has no such buffer: every line is written before its grant is served.
 */
import { GrantLogError } from '../core/errors.js';

/** The log destination, as far as grant lines are concerned (LogDestination has it). */
export interface GrantLineOutput {
  /**
   * Runs `emit`, which writes one grant line through the logger synchronously.
   * @returns why that line was not written nor buffered, or undefined
   */
  writeGrant(emit: () => void): string | undefined;
  /** Why grant lines cannot be taken now ('stalled', or an error code), or undefined. */
  readonly grantFault: string | undefined;
  /** Writes `line` where the destination reports its own failure (stderr). */
  say(line: string): void;
}

/** The fail-closed state of grant lines on a {@link GrantLineOutput}. */
export class GrantOutputGate {
  /** The failure last told on stderr, so that each is told once. */
  private told: string | undefined;

  constructor(private readonly output: GrantLineOutput) {}

  /** Why grant lines cannot be written now, or undefined. */
  check(): string | undefined {
    const fault = this.output.grantFault;
    if (fault === undefined) {
      this.told = undefined;
      return undefined;
    }
    return this.failure(fault);
  }

  /** @throws GrantLogError while grant lines cannot be written */
  ensureWritable(): void {
    const failure = this.check();
    if (failure !== undefined) throw new GrantLogError(answer(failure));
  }

  /** Runs `emit` (one grant line). @throws GrantLogError when its line was not taken */
  write(emit: () => void): void {
    const fault = this.output.writeGrant(emit);
    if (fault !== undefined) throw new GrantLogError(answer(this.failure(fault)));
  }

  private failure(fault: string): string {
    const failure =
      fault === 'stalled'
        ? 'the log on stdout is not being read: grant lines fill its buffer'
        : `the log on stdout cannot be written (${fault})`;
    if (this.told !== failure) {
      this.told = failure;
      this.output.say(
        `idalloc: ${failure}: no new IDs are served until grant lines can be written; set GRANT_LOG=<file> to keep the grant log in a file`,
      );
    }
    return `${failure}; set GRANT_LOG=<file> to keep the grant log in a file`;
  }
}

function answer(failure: string): string {
  return `the grant log cannot be written (${failure}): this node serves no IDs whose grant it cannot record`;
}
