/**
 * The audit across deployments (audit/regions.ts): a tag issued in regions by several
 * stores is proven disjoint when the deployments share the region count and shape and
 * differ in region index; the same region in two deployments with meeting counter ranges
 * is an overlap; another region count or shape cannot be proven disjoint. Lines of older
 * versions (no region, no shape) are plain 0/1 and audited as before.
 */
import { describe, expect, it } from 'vitest';
import { AUDIT_EXIT } from '../../src/cli/audit.js';
import { auditGrantLog } from '../../src/audit/index.js';
import { reportText } from '../../src/audit/format.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';
import { parseRegion } from '../../src/core/shape.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A grant line of `node` in `deployment` at `T0 + s` seconds. */
function line(deployment: string, node: string, s: number, event: GrantEvent): string {
  const at = T0 + s * 1000;
  return JSON.stringify({ msg: GRANT_MSG, grant: grantLine(event, node, at, deployment) });
}

/** A segment of `tag` in region `region` (i/N) and shape fingerprint `shape`. */
function seg(start: bigint, end: bigint, region?: string, shape?: string, tag = 'order') {
  return {
    kind: 'segment',
    tag,
    start,
    end,
    incarnation: 'run',
    ...(region === undefined ? {} : { region: parseRegion(region) }),
    ...(shape === undefined ? {} : { shape }),
  } as GrantEvent;
}

describe('audit across deployments of regions', () => {
  it('proves two deployments of one tag in regions 0/2 and 1/2 disjoint, counters alike', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 1000n, '0/2', 'bitreverse')),
      line('east', 'e2', 2, seg(1001n, 2000n, '0/2', 'bitreverse')),
      line('west', 'w1', 1, seg(1n, 1000n, '1/2', 'bitreverse')),
      line('west', 'w2', 2, seg(1001n, 2000n, '1/2', 'bitreverse')),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.regions).toMatchObject({ deployments: 2, tags: 1, overlaps: 0, unprovable: 0 });
    expect(reportText(r)).toMatch(
      /across 2 deployments: 1 tag\(s\) in regions compared, 0 overlaps, 0 not provable/,
    );
  });

  it('reports the same region in two deployments with meeting counter ranges as an overlap', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 1000n, '0/2')),
      line('west', 'w1', 3, seg(901n, 1900n, '0/2')),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(AUDIT_EXIT[r.verdict]).toBe(1);
    expect(r.overlaps).toBe(1);
    expect(r.tags.every((t) => t.overlaps === 0)).toBe(true); // each store alone is clean
    expect(r.regions.overlapList).toEqual([
      {
        tag: 'order',
        region: '0/2',
        shape: 'plain',
        start: '901',
        end: '1000',
        ids: '100',
        first: expect.objectContaining({ deployment: 'east', node: 'e1', start: '1', end: '1000' }),
        second: expect.objectContaining({ deployment: 'west', node: 'w1', start: '901' }),
      },
    ]);
    expect(reportText(r)).toMatch(
      /OVERLAP tag order region 0\/2 shape plain: counter values 901\.\.1000 \(100 IDs\) in east node e1 .* and in west node w1/,
    );
  });

  it('finds an overlap between deployments among many grants, whatever their order', () => {
    const lines: string[] = [];
    for (let i = 0n; i < 2000n; i++) {
      lines.push(line('east', `e${i % 3n}`, 1, seg(i * 10n + 1n, i * 10n + 10n, '1/4')));
      lines.push(
        line('west', `w${i % 3n}`, 1, seg(i * 10n + 1n + 50_000n, i * 10n + 10n + 50_000n, '1/4')),
      );
    }
    lines.push(line('west', 'w9', 9, seg(15_005n, 15_005n, '1/4')));
    const r = auditGrantLog(lines.reverse());
    expect(r.regions.overlaps).toBe(1);
    expect(r.regions.overlapList[0]).toMatchObject({ start: '15005', end: '15005' });
  });

  it('does not count an overlap within one deployment twice (the per-store sweep has it)', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 100n, '0/2')),
      line('east', 'e2', 2, seg(50n, 150n, '0/2')),
      line('west', 'w1', 1, seg(1n, 100n, '1/2')),
    ]);
    expect(r.overlaps).toBe(1);
    expect(r.regions.overlaps).toBe(0);
  });

  it('cannot prove deployments of different region counts disjoint: exit 1, both named', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 100n, '0/2')),
      line('west', 'w1', 1, seg(1n, 100n, '1/3')),
    ]);
    expect(r.verdict).toBe('unprovable');
    expect(AUDIT_EXIT[r.verdict]).toBe(1);
    expect(r.regions.unprovableList).toEqual([
      {
        tag: 'order',
        first: { deployment: 'east', region: '0/2', shape: 'plain' },
        second: { deployment: 'west', region: '1/3', shape: 'plain' },
        reason: expect.stringMatching(/^region counts differ \(2 in east, 3 in west\)/),
      },
    ]);
    expect(reportText(r)).toMatch(/NOT PROVEN: 1 pair\(s\) of deployments/);
  });

  it('cannot prove deployments of different shapes disjoint', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 100n, '0/2', 'bitreverse')),
      line('west', 'w1', 1, seg(1n, 100n, '1/2', 'permute/63/0a1b2c3d')),
    ]);
    expect(r.verdict).toBe('unprovable');
    expect(r.regions.unprovableList[0]!.reason).toMatch(
      /^shapes differ \(bitreverse in east, permute\/63\/0a1b2c3d in west\)/,
    );
  });

  it('cannot prove a regioned deployment disjoint from one of a single region', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 100n, '0/2')),
      line('west', 'w1', 1, seg(1n, 100n)),
    ]);
    expect(r.verdict).toBe('unprovable');
  });

  it('leaves tags of one region in several deployments as before: not compared', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, seg(1n, 100n)),
      line('west', 'w1', 1, seg(1n, 100n)),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.regions).toMatchObject({ tags: 0, overlaps: 0, unprovable: 0 });
    expect(reportText(r)).not.toMatch(/across/);
  });

  it('reads lines of older versions (no region, no shape, no deployment) as plain 0/1', () => {
    const old = JSON.stringify({
      msg: GRANT_MSG,
      grant: {
        kind: 'segment',
        node: 'old',
        at: '2026-01-01T00:00:00Z',
        tag: 'order',
        start: '1',
        end: '5',
      },
    });
    const r = auditGrantLog([old, line('east', 'e1', 1, seg(6n, 10n, '0/2'))]);
    expect(r.unreadable).toBe(0);
    expect(r.verdict).toBe('clean');
    expect(r.regions.tags).toBe(0);
  });

  it('counts a line with a malformed region or shape as unreadable', () => {
    const bad = (grant: object) =>
      JSON.stringify({
        msg: GRANT_MSG,
        grant: {
          kind: 'segment',
          node: 'n',
          at: '2026-01-01T00:00:00Z',
          tag: 't',
          start: '1',
          end: '5',
          ...grant,
        },
      });
    const r = auditGrantLog([bad({ region: '2/2' }), bad({ region: 3 }), bad({ shape: 'Nope!' })]);
    expect(r.unreadable).toBe(3);
    expect(r.unreadableLines[0]!.why).toMatch(/region "2\/2" is not i\/N/);
    expect(r.unreadableLines[2]!.why).toMatch(/not a shape fingerprint/);
  });
});

describe('audit of snowflake worker IDs across deployments of regions', () => {
  const worker = (w: number, floor: number, horizon: number, region: string): GrantEvent => ({
    kind: 'worker',
    how: 'claim',
    worker: w,
    floor,
    horizon,
    region: parseRegion(region),
  });

  it('reports one worker ID held in two deployments at once as an overlap', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, worker(3, T0, T0 + 60_000, '0/2')),
      line('west', 'w1', 1, worker(3, T0 + 30_000, T0 + 90_000, '0/2')),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.workers.overlaps).toBe(0);
    expect(r.regions.workerOverlaps).toBe(1);
    expect(r.regions.workerOverlapList[0]).toMatchObject({
      worker: 3,
      first: { deployment: 'east', region: '0/2', node: 'e1' },
      second: { deployment: 'west', region: '0/2', node: 'w1' },
    });
    expect(reportText(r)).toMatch(/OVERLAP worker 3 from .* east node e1 region 0\/2/);
  });

  it('compares a holder of no region (0/1: any worker ID) with the holders of regions', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, worker(600, T0, T0 + 60_000, '0/1')),
      line('west', 'w1', 1, worker(600, T0, T0 + 60_000, '1/2')),
      // Two deployments of no region stay independent, as everywhere in the audit.
      line('north', 'n1', 1, worker(7, T0, T0 + 60_000, '0/1')),
      line('south', 's1', 1, worker(7, T0, T0 + 60_000, '0/1')),
    ]);
    expect(r.regions.workerOverlaps).toBe(1);
    const o = r.regions.workerOverlapList[0]!;
    expect(o.worker).toBe(600);
    expect([o.first.region, o.second.region].sort()).toEqual(['0/1', '1/2']);
    expect([o.first.deployment, o.second.deployment].sort()).toEqual(['east', 'west']);
    expect(r.verdict).toBe('overlaps');
  });

  it('finds nothing when the windows do not meet or the worker IDs differ', () => {
    const r = auditGrantLog([
      line('east', 'e1', 1, worker(3, T0, T0 + 60_000, '0/2')),
      line('west', 'w1', 1, worker(3, T0 + 60_001, T0 + 90_000, '0/2')),
      line('west', 'w2', 1, worker(600, T0, T0 + 90_000, '1/2')),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.regions.workerHolders).toBe(3);
  });
});
