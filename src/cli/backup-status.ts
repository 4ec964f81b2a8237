/**
 * `tag export --out FILE --status-file STATUS.prom`: the outcome of a backup in a form
 * Prometheus can alert on (docs/monitoring.md) — a Prometheus text-format file for
 * node_exporter's textfile collector, replaced atomically after every attempt, failed or
 * not. A backup that fails is otherwise only a line on a container's stderr that no one
 * reads; the file turns it into IdallocBackupFailing and IdallocBackupStale.
 *
 * The file is the whole state: a failure keeps the last success (and its tag count) read
 * back from the previous file, so "time since the last good backup" survives failures.
 */
import { readFileSync } from 'node:fs';
import { writeAtomically } from './transfer.js';

/** What one attempt leaves in the status file. */
export interface BackupOutcome {
  /** When the attempt ended, in ms since the epoch. */
  readonly at: number;
  /** Live tags in the export written; undefined when no export was written. */
  readonly tags: number | undefined;
}

/** The last success a previous status file recorded, if any. */
interface LastSuccess {
  readonly seconds: number;
  readonly tags: number;
}

const SERIES = {
  attempt: 'idalloc_backup_last_attempt_timestamp_seconds',
  success: 'idalloc_backup_last_success_timestamp_seconds',
  ok: 'idalloc_backup_last_ok',
  tags: 'idalloc_backup_tags',
} as const;

const HELP: Readonly<Record<keyof typeof SERIES, string>> = {
  attempt:
    'When the last tag export attempt ended (success or failure), in seconds since the epoch.',
  success: 'When the last tag export that wrote its file ended, in seconds since the epoch.',
  ok: 'Whether the last tag export attempt wrote its file (1) or failed (0).',
  tags: 'Live tags in the last export written.',
};

/** The value of an unlabelled series in a text-format file, if present and finite. */
function valueOf(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  const v = m ? Number(m[1]) : NaN;
  return Number.isFinite(v) ? v : undefined;
}

/** The last success recorded at `file`; none when it is missing or unreadable. */
function previousSuccess(file: string): LastSuccess | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const seconds = valueOf(text, SERIES.success);
  const tags = valueOf(text, SERIES.tags);
  return seconds === undefined || tags === undefined ? undefined : { seconds, tags };
}

/** The text-format file for `outcome`, given the last success before it. */
export function statusText(outcome: BackupOutcome, before: LastSuccess | undefined): string {
  const now = outcome.at / 1000;
  const last: LastSuccess | undefined =
    outcome.tags === undefined ? before : { seconds: now, tags: outcome.tags };
  const values: Partial<Record<keyof typeof SERIES, number>> = {
    attempt: now,
    ok: outcome.tags === undefined ? 0 : 1,
    // Never succeeded: no success series, which IdallocBackupStale's absent() catches.
    ...(last ? { success: last.seconds, tags: last.tags } : {}),
  };
  let text = '';
  for (const key of Object.keys(SERIES) as (keyof typeof SERIES)[]) {
    const v = values[key];
    if (v === undefined) continue;
    text += `# HELP ${SERIES[key]} ${HELP[key]}\n# TYPE ${SERIES[key]} gauge\n${SERIES[key]} ${v}\n`;
  }
  return text;
}

/** Replaces `file` with the outcome of this attempt (tmp + rename: a scrape sees old or new). */
export function recordBackup(file: string, outcome: BackupOutcome): void {
  writeAtomically(file, statusText(outcome, previousSuccess(file)));
}

/**
 * Runs an export and records its outcome at `file`, whatever it was: `run` gets the
 * callback the export calls once its file is written. A status file that cannot be
 * written makes the run fail (exit 1): a backup no alert can see is not a backup to trust.
 */
export async function withBackupStatus(
  file: string,
  err: (text: string) => void,
  run: (written: (tags: number) => void) => Promise<number>,
): Promise<number> {
  let tags: number | undefined;
  let code: number;
  try {
    code = await run((n) => (tags = n));
  } finally {
    try {
      recordBackup(file, { at: Date.now(), tags });
    } catch (e) {
      err(
        `idalloc-admin: cannot write the backup status to ${file}: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      code = 1;
    }
  }
  return code;
}
