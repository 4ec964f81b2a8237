/**
 * `idalloc-admin audit [FILE...] [--json] [--idle-timeout SECONDS]`: reads grant logs
 * (files, or stdin when none is given or for `-`) and reports per deployment and tag the
 * grants, overlaps, gaps and their causes, and how long the tag lasts. Needs no store.
 *
 * Exit codes ({@link AUDIT_EXIT}): 0 clean — every grant line read, no ID granted twice;
 * 1 overlaps, or deployments of a tag in regions the audit cannot prove disjoint (another
 * region count or shape: regions.ts); 2 usage error, or an input that cannot be read or is refused by its bounds
 * (a device, a line without end, a FIFO silent for the idle timeout): no verdict; 3 some
 * grant lines could not be read (cut, glued, out of range), no overlap among the rest;
 * 4 not one grant line. A script must never take 2, 3 or 4 for a clean audit.
 */
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { GrantAudit, reportText, type Verdict } from '../audit/index.js';
import { forEachLine, InputError, type InputBounds } from './bounded-input.js';

export const AUDIT_SYNOPSIS = `  audit [FILE...] [--json] [--idle-timeout S]
                  check grant logs of every node for IDs granted twice (no FILE or '-': stdin)
                  exit 0 clean, 1 overlaps (or regions not provably disjoint), 2 usage or input
                  not read, 3 grant lines it could not read, 4 no grant line; a pipe silent for
                  S seconds (default 60) is given up
`;

const USAGE_LINE = 'Usage: idalloc-admin audit [FILE...] [--json] [--idle-timeout SECONDS]';

/** The exit code of each verdict, and of an audit that could not run. */
export const AUDIT_EXIT: Readonly<Record<Verdict | 'usage', number>> = Object.freeze({
  clean: 0,
  overlaps: 1,
  unprovable: 1,
  usage: 2,
  unreadable: 3,
  empty: 4,
});

/** A pipe or FIFO silent this long is given up on (a FIFO with no writer, a terminal). */
export const DEFAULT_IDLE_SECONDS = 60;
/** No log line is this long: a longer one is a device or garbage, not a log. */
const MAX_LINE_BYTES = 1024 * 1024;

export interface AuditIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly stdin: Readable;
}

/** Runs `audit` with the arguments after the word `audit`; resolves to the exit code. */
export async function runAudit(argv: readonly string[], io: AuditIo): Promise<number> {
  let files: string[];
  let json: boolean;
  let idleSeconds = DEFAULT_IDLE_SECONDS;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        'idle-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(`${USAGE_LINE}\n${AUDIT_SYNOPSIS}`);
      return 0;
    }
    files = positionals.length === 0 ? ['-'] : positionals;
    json = values.json === true;
    const idle = values['idle-timeout'];
    if (idle !== undefined) {
      idleSeconds = Number(idle);
      if (!/^\d+(\.\d+)?$/.test(idle) || !(idleSeconds <= 86_400)) {
        throw new Error(
          `--idle-timeout ${idle} is not allowed: expected seconds from 0 (no limit) to 86400`,
        );
      }
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    io.err(`idalloc-admin: ${message}\n\n${USAGE_LINE}\n`);
    return AUDIT_EXIT.usage;
  }
  if (files.filter((f) => f === '-').length > 1) {
    io.err(`idalloc-admin: stdin ('-') can be read only once\n`);
    return AUDIT_EXIT.usage;
  }
  // Logs come from pipes (`docker compose logs | …`, `<(kubectl logs …)`): accepted, each
  // given up on after the idle timeout; regular files are read to their size when opened.
  const bounds: InputBounds = {
    pipes: true,
    idleMs: idleSeconds * 1000,
    maxBytes: Infinity,
    maxLineBytes: MAX_LINE_BYTES,
  };
  const audit = new GrantAudit();
  for (const file of files) {
    audit.beginSource(file === '-' ? 'stdin' : file);
    try {
      await forEachLine(
        file,
        bounds,
        (line, unterminated) => audit.addLine(line, unterminated),
        io.stdin,
      );
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      // An InputError names the input and the bound; an fs error is named here.
      const message =
        err instanceof InputError
          ? why
          : `cannot read ${file === '-' ? 'stdin' : `'${file}'`}: ${why}`;
      io.err(
        json
          ? `${JSON.stringify({ error: { code: 'UNREADABLE', message } })}\n`
          : `idalloc-admin: ${message}\n`,
      );
      return AUDIT_EXIT.usage;
    }
  }
  const report = audit.report();
  io.out(json ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
  return AUDIT_EXIT[report.verdict];
}
