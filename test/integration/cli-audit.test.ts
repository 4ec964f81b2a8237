/**
 * `idalloc-admin audit` as a real process: files and stdin, logs of several nodes with
 * other lines in between, exit 0 when clean, 1 on an overlap, 2 on a usage error or an
 * unreadable file, 3 when grant lines could not be read, 4 without a grant line, and
 * --json. It needs no store: no Redis is configured here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'idalloc-audit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

function file(name: string, lines: string[], newlineAtEnd = true): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}${newlineAtEnd ? '\n' : ''}`);
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

  it('exits 3 over a log whose last line was cut short, naming the file and line', async () => {
    const cut = line('b', 10, seg(2500n, 3500n)); // overlaps a's 2001..3000, if it were read
    const full = file('full-disk.log', [line('b', 5, seg(1001n, 2000n)), cut.slice(0, 60)], false);
    const r = await audit([nodeA, full]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`${full}:2: the last line is cut short`);
    expect(r.stdout).toMatch(/NOT CLEAN: 1 grant line\(s\) could not be read/);
    expect(r.stdout).not.toMatch(/no ID was granted twice/);
  });

  it('exits 3 over two grant lines glued by a short write, naming the line', async () => {
    const glued = file('glued.log', [
      line('b', 5, seg(1001n, 2000n)),
      `${line('b', 10, seg(2500n, 3500n)).slice(0, 70)}${line('b', 11, seg(3501n, 3600n))}`,
    ]);
    const r = await audit([nodeA, glued, '--json']);
    expect(r.code).toBe(3);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(report).toMatchObject({ verdict: 'unreadable', unreadable: 1, overlaps: 0 });
    expect(report.unreadableLines).toEqual([
      { file: glued, line: 2, why: expect.stringMatching(/cut short|glued/) as unknown },
    ]);
  });

  it('exits 4 over empty input and over logs without a grant line', async () => {
    const empty = await audit([]);
    expect(empty.code).toBe(4);
    expect(empty.stdout).toMatch(/audit: 0 lines, 0 grant lines .*NOTHING AUDITED/);
    const noGrants = await audit([file('other.log', ['{"msg":"listening"}', 'text'])]);
    expect(noGrants.code).toBe(4);
  });

  it('exits 3 on a 20-digit range end, and on a worker line out of a date range without a stack', async () => {
    const huge = line('a', 0, seg(1n, 1000n)).replace(
      '"end":"1000"',
      '"end":"99999999999999999999"',
    );
    const worker: GrantEvent = {
      kind: 'worker',
      worker: 1,
      floor: 9e15,
      horizon: 9.1e15,
      how: 'claim',
    };
    const r = await audit([
      file('odd.log', [huge, line('w', 1, worker), line('a', 2, seg(1n, 10n))]),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /odd\.log:1: segment grant of node a: 1\.\.99999999999999999999 is not a range/,
    );
    expect(r.stdout).toMatch(/odd\.log:2: worker grant of node w: floor 9000000000000000/);
  });

  it('exits 0 over one log of two deployments granting the same IDs', async () => {
    const at = (d: string, node: string, s: number, start: bigint, end: bigint) =>
      JSON.stringify({
        msg: GRANT_MSG,
        grant: grantLine(seg(start, end), node, T0 + s * 1000, d),
      });
    const r = await audit([
      file('two.log', [
        at('redis:h:6379/0 prefix=prod:', 'p1', 0, 1n, 1000n),
        at('redis:h:6379/0 prefix=test:', 't1', 1, 1n, 1000n),
        at('redis:h:6379/0 prefix=prod:', 'p2', 2, 1001n, 2000n),
      ]),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tag order in redis:h:6379\/0 prefix=prod:: 2 grants/m);
    expect(r.stdout).toMatch(/in 2 deployments; no overlaps/);
  });
});
