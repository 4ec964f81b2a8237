/**
 * `idalloc-admin audit` over the grant logs of two deployments (two stores, no link
 * between them) serving one tag as regions, two nodes each: four files, one audit. Regions
 * 0/2 and 1/2 granting the same counter values are disjoint (exit 0); the control, both
 * configured as region 0/2, overlaps (exit 1); another region count is not provable (exit 1).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/index.js';
import { GRANT_MSG, grantLine } from '../../src/core/grant-log.js';
import { parseRegion } from '../../src/core/shape.js';
import { runAdmin } from '../support/admin-process.js';

const dir = mkdtempSync(join(tmpdir(), 'idalloc-audit-regions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-03-01T12:00:00Z');

/** A node's log: five segments of 1000 counter values, every other 1000 from `first`. */
function nodeLog(deployment: string, node: string, region: string, first: bigint): string {
  const lines: string[] = [];
  for (let k = 0n; k < 5n; k++) {
    const start = first + k * 2000n;
    const event = {
      kind: 'segment',
      tag: 'order',
      start,
      end: start + 999n,
      incarnation: `run-${deployment}`,
      region: parseRegion(region),
      shape: 'bitreverse',
    } as const;
    const at = T0 + Number(k) * 1000;
    lines.push(JSON.stringify({ msg: GRANT_MSG, grant: grantLine(event, node, at, deployment) }));
  }
  const path = join(dir, `${deployment}-${node}-${region.replace('/', 'of')}.log`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Two nodes of each deployment, taking turns on the store's counter. */
function logs(eastRegion: string, westRegion: string): string[] {
  return [
    nodeLog('d-east', 'e1', eastRegion, 1n),
    nodeLog('d-east', 'e2', eastRegion, 1001n),
    nodeLog('d-west', 'w1', westRegion, 1n),
    nodeLog('d-west', 'w2', westRegion, 1001n),
  ];
}

const audit = (files: string[], json = false) =>
  runAdmin(['audit', ...files, ...(json ? ['--json'] : [])], {});

describe('idalloc-admin audit across regions', () => {
  it('exits 0 over four logs of regions 0/2 and 1/2 granting the same counter values', async () => {
    const r = await audit(logs('0/2', '1/2'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/across 2 deployments: 1 tag\(s\) in regions compared, 0 overlaps/);
  });

  it('exits 1 over the control, both deployments as region 0/2, naming the overlap', async () => {
    const r = await audit(logs('0/2', '0/2'), true);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(report.verdict).toBe('overlaps');
    expect(report.regions.overlaps).toBe(10);
    expect(report.regions.overlapList[0]).toMatchObject({
      tag: 'order',
      region: '0/2',
      shape: 'bitreverse',
      start: '1',
      end: '1000',
      first: { deployment: 'd-east' },
      second: { deployment: 'd-west' },
    });
  });

  it('exits 1 when the deployments use different region counts: not provable', async () => {
    const r = await audit(logs('0/2', '1/3'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /NOT PROVABLE tag order: d-east \(region 0\/2, shape bitreverse\) and d-west \(region 1\/3/,
    );
    expect(r.stdout).toMatch(/NOT PROVEN: 1 pair\(s\) of deployments/);
  });
});
