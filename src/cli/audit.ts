/**
 * `idalloc-admin audit [FILE...] [--json]`: reads grant logs (files, or stdin when none
 * is given or for `-`) and reports per tag the grants, overlaps, gaps and their causes,
 * and how long the tag lasts. Needs no store. Exit 0 no overlap, 1 overlaps, 2 usage (a
 * file that cannot be read too: a script must not take it for a clean or a failed audit).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { GrantAudit } from '../audit/index.js';
import { reportText } from '../audit/format.js';

export const AUDIT_SYNOPSIS = `  audit [FILE...] [--json]              check grant logs of every node for IDs granted twice
                                        (no FILE or '-': stdin)
`;

export interface AuditIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly stdin: Readable;
}

/** Feeds every line of `input` to `audit`. */
async function feed(audit: GrantAudit, input: Readable): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) audit.addLine(line);
}

/** Runs `audit` with the arguments after the word `audit`; resolves to the exit code. */
export async function runAudit(argv: readonly string[], io: AuditIo): Promise<number> {
  let files: string[];
  let json: boolean;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(`Usage: idalloc-admin audit [FILE...] [--json]\n${AUDIT_SYNOPSIS}`);
      return 0;
    }
    files = positionals.length === 0 ? ['-'] : positionals;
    json = values.json === true;
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    io.err(`idalloc-admin: ${message}\n\nUsage: idalloc-admin audit [FILE...] [--json]\n`);
    return 2;
  }
  if (files.filter((f) => f === '-').length > 1) {
    io.err(`idalloc-admin: stdin ('-') can be read only once\n`);
    return 2;
  }
  const audit = new GrantAudit();
  for (const file of files) {
    try {
      await feed(audit, file === '-' ? io.stdin : createReadStream(file));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const message = `cannot read ${file === '-' ? 'stdin' : `'${file}'`}: ${why}`;
      io.err(
        json
          ? `${JSON.stringify({ error: { code: 'UNREADABLE', message } })}\n`
          : `idalloc-admin: ${message}\n`,
      );
      return 2;
    }
  }
  const report = audit.report();
  io.out(json ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
  return report.overlaps > 0 ? 1 : 0;
}
