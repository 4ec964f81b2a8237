/**
 * `idalloc-admin audit` as a real process: files and stdin, logs of several nodes with
 * other lines in between, exit 0 when clean, 1 on an overlap, 2 on a usage error or an
 * unreadable file, and --json. It needs no store: no Redis is configured here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'idalloc-audit-cli-'));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function audit(args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        '--import',
        'tsx',
        'src/cli/admin.ts',
        'audit',
        ...args,
      ],
      // No store settings at all: audit must not need them.
      { cwd: ROOT, timeout: 30_000, env: { PATH: process.env.PATH ?? '' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

const T0 = Date.parse('2026-03-01T12:00:00Z');
function line(node: string, s: number, event: GrantEvent): string {
  const at = T0 + s * 1000;
  return JSON.stringify({ level: 30, time: at, msg: GRANT_MSG, grant: grantLine(event, node, at) });
}
const seg = (start: bigint, end: bigint): GrantEvent => ({
  kind: 'segment',
  tag: 'order',
  start,
  end,
  max: 1_000_000n,
  incarnation: 'r1',
});

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const nodeA = file('a.log', [
  '{"level":30,"msg":"listening on http://0.0.0.0:8080"}',
  line('a', 0, seg(1n, 1000n)),
  'a line that is not JSON',
  line('a', 20, seg(2001n, 3000n)),
]);
const nodeB = file('b.log', [line('b', 10, seg(1001n, 2000n))]);
const intruder = file('c.log', [line('c', 30, seg(2500n, 2600n))]);

describe('idalloc-admin audit', () => {
  it('exits 0 with a per-tag report when no ID was granted twice', async () => {
    const r = await audit([nodeA, nodeB]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(
      /^tag order: 3 grants from 2 node\(s\), 3000 IDs granted \(1\.\.3000\), 0 overlaps$/m,
    );
    expect(r.stdout).toMatch(/forecast: 997000 IDs left before max 1000000; at 150 IDs\/s/);
    expect(r.stdout).toMatch(/audit: 5 lines, 3 grant lines from 2 node\(s\); no overlaps/);
  });

  it('exits 1 and names both grants when two nodes were granted the same IDs', async () => {
    const r = await audit([nodeA, nodeB, intruder]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /OVERLAP 2500\.\.2600 \(101 IDs\): node a segment 2001\.\.3000 at 2026-03-01T12:00:20\.000Z.*node c segment 2500\.\.2600 at 2026-03-01T12:00:30\.000Z/,
    );
  });

  it('reads stdin when no file or - is given, and answers JSON with --json', async () => {
    // As `docker compose logs` prints them: a service prefix before each JSON line.
    const text = [
      `web-1  | ${line('a', 0, seg(1n, 10n))}`,
      `web-2  | ${line('b', 1, seg(5n, 20n))}`,
    ].join('\n');
    const fromStdin = await audit(['--json'], text);
    expect(fromStdin.code).toBe(1);
    const report = JSON.parse(fromStdin.stdout) as AuditReport;
    expect(report).toMatchObject({ grantLines: 2, overlaps: 1, nodes: ['a', 'b'] });
    expect(report.tags[0]!.overlapList[0]).toMatchObject({ start: '5', end: '10', ids: '6' });

    const mixed = await audit([nodeB, '-', '--json'], line('a', 0, seg(1n, 1000n)));
    expect(mixed.code).toBe(0);
    expect(JSON.parse(mixed.stdout)).toMatchObject({ grantLines: 2, overlaps: 0 });
  });

  it('exits 2 on a usage error or a file it cannot read, saying which', async () => {
    const bogus = await audit(['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/Unknown option '--bogus'.*\n\nUsage: idalloc-admin audit/s);
    const twice = await audit(['-', '-']);
    expect(twice).toMatchObject({ code: 2, stdout: '' });
    expect(twice.stderr).toMatch(/stdin \('-'\) can be read only once/);
    const missing = await audit([nodeA, join(dir, 'missing.log')]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/cannot read '.*missing\.log': ENOENT/);
  });
});
