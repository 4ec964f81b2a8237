/**
 * The audit core on grant lines as nodes write them (grantLine, the writer's own format):
 * overlaps with both grants named, gaps with their causes, the forecast, snowflake worker
 * windows, and logs that mix grant lines with anything else.
 */
import { describe, expect, it } from 'vitest';
import { auditGrantLog, GrantAudit, LIST_LIMIT } from '../../src/audit/index.js';
import { reportText } from '../../src/audit/format.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A pino-style line carrying one grant of `node` at `T0 + s` seconds. */
function line(node: string, s: number, event: GrantEvent): string {
  return JSON.stringify({
    level: 30,
    time: new Date(T0 + s * 1000).toISOString(),
    name: 'idalloc',
    msg: GRANT_MSG,
    grant: grantLine(event, node, T0 + s * 1000),
  });
}

const seg = (tag: string, start: bigint, end: bigint, extra: Partial<GrantEvent> = {}) =>
  ({
    kind: 'segment',
    tag,
    start,
    end,
    max: 1_000_000n,
    incarnation: 'aaa',
    ...extra,
  }) as GrantEvent;

describe('audit of ID grants', () => {
  it('finds no overlap in disjoint grants from several nodes, in any order', () => {
    const r = auditGrantLog([
      line('b', 2, seg('order', 1001n, 2000n)),
      line('a', 1, seg('order', 1n, 1000n)),
      line('a', 3, { kind: 'range', tag: 'order', start: 2001n, end: 2100n, client: 'x' }),
      line('c', 1, seg('user', 1n, 10n)),
    ]);
    expect(r.overlaps).toBe(0);
    expect(r.nodes).toEqual(['a', 'b', 'c']);
    expect(r.tags.map((t) => [t.tag, t.grants, t.idsGranted, t.gaps])).toEqual([
      ['order', 3, '2100', 0],
      ['user', 1, '10', 0],
    ]);
  });

  it('reports an overlap with both grants, their nodes, times and incarnations', () => {
    const r = auditGrantLog([
      line('old-master-node', 1, seg('order', 1n, 1000n, { incarnation: 'run-old' })),
      line('new-master-node', 5, seg('order', 901n, 1900n, { incarnation: 'run-new' })),
    ]);
    expect(r.overlaps).toBe(1);
    const t = r.tags[0]!;
    expect(t.overlappingIds).toBe('100');
    expect(t.overlapList).toEqual([
      {
        start: '901',
        end: '1000',
        ids: '100',
        first: {
          node: 'old-master-node',
          kind: 'segment',
          start: '1',
          end: '1000',
          at: '2026-01-01T00:00:01.000Z',
          incarnation: 'run-old',
        },
        second: {
          node: 'new-master-node',
          kind: 'segment',
          start: '901',
          end: '1900',
          at: '2026-01-01T00:00:05.000Z',
          incarnation: 'run-new',
        },
      },
    ]);
    expect(reportText(r)).toMatch(
      /OVERLAP 901\.\.1000 \(100 IDs\): node old-master-node .* node new-master-node/,
    );
  });

  it('counts a grant inside a longer earlier one, and the same range granted twice', () => {
    const r = auditGrantLog([
      line('a', 1, seg('order', 1n, 1000n)),
      line('b', 2, seg('order', 10n, 20n)),
      line('c', 3, seg('order', 500n, 600n)),
      line('d', 4, seg('order', 1n, 1000n)),
    ]);
    expect(r.tags[0]!.overlaps).toBe(3);
    expect(r.tags[0]!.overlappingIds).toBe(String(11 + 101 + 1000));
  });

  it('counts every overlap but lists only the first ones', () => {
    const lines = [];
    for (let i = 0; i <= LIST_LIMIT + 5; i++) {
      lines.push(line(`n${i}`, i, seg('order', BigInt(i) * 10n + 1n, BigInt(i) * 10n + 15n)));
    }
    const t = auditGrantLog(lines).tags[0]!;
    expect(t.overlaps).toBe(LIST_LIMIT + 5);
    expect(t.overlapList).toHaveLength(LIST_LIMIT);
  });

  it('explains gaps by incarnation jumps, discarded and fenced grants, and leaves the rest unexplained', () => {
    const r = auditGrantLog([
      line('a', 1, seg('order', 1n, 100n)),
      // An incarnation jump of 1000 before this grant: 101..1100 skipped.
      line('a', 2, seg('order', 1101n, 1200n, { incarnation: 'bbb', skipped: 1000n })),
      // A discarded grant 1201..1300, then the next one above it.
      line('a', 3, { kind: 'discarded', tag: 'order', start: 1201n, end: 1300n, reason: 'WAIT' }),
      line('a', 4, seg('order', 1301n, 1400n, { incarnation: 'bbb' })),
      // A fenced grant 1401..1450 and, beyond it, 50 IDs nobody logged (an admin bump).
      line('a', 5, { kind: 'fence', tag: 'order', start: 1401n, end: 1450n, highWater: 1400n }),
      line('a', 6, seg('order', 1501n, 1600n, { incarnation: 'bbb' })),
      line('a', 7, { kind: 'remainder', tag: 'order', start: 1550n, end: 1600n }),
    ]);
    const t = r.tags[0]!;
    expect(r.overlaps).toBe(0);
    expect(t.gaps).toBe(3);
    expect(t.gapIds).toBe('1200');
    expect(t.gapCauses).toEqual({
      incarnation_jump: '1000',
      discarded_grant: '100',
      fence: '50',
      unexplained: '50',
    });
    expect(t.gapList.map((g) => [g.start, g.end, g.causes, g.incarnationChanged])).toEqual([
      ['101', '1100', { incarnation_jump: '1000' }, true],
      ['1201', '1300', { discarded_grant: '100' }, false],
      ['1401', '1500', { fence: '50', unexplained: '50' }, false],
    ]);
    expect(reportText(r)).toMatch(
      /\n {4}unexplained gap 1401\.\.1500 \(50 of 100 IDs unexplained\)\n/,
    );
    expect(t.skipped).toEqual({
      incarnation_jump: '1000',
      discarded_grant: '100',
      fence: '50',
      shutdown_remainder: '51',
    });
    expect(t.incarnations).toEqual(['aaa', 'bbb']);
  });

  it('does not count a discarded range granted again later as an overlap', () => {
    const r = auditGrantLog([
      line('a', 1, { kind: 'discarded', tag: 'order', start: 1n, end: 100n, reason: 'WAIT' }),
      line('b', 2, seg('order', 1n, 100n)),
    ]);
    expect(r.overlaps).toBe(0);
  });

  it('forecasts how long the tag lasts at the rate the log shows', () => {
    // 1000 IDs over 10 s: 100 IDs/s; max 1 000 000: 999 000 left → 9990 s.
    const r = auditGrantLog([
      line('a', 0, seg('order', 1n, 500n)),
      line('b', 10, seg('order', 501n, 1000n)),
    ]);
    expect(r.tags[0]!.forecast).toEqual({
      max: '1000000',
      idsLeft: '999000',
      idsPerSecond: 100,
      spanSeconds: 10,
      lastsSeconds: 9990,
      exhaustedAt: new Date(T0 + 10_000 + 9_990_000).toISOString(),
    });
    expect(reportText(r)).toMatch(/999000 IDs left before max 1000000; at 100 IDs\/s/);
  });

  it('gives no rate when every grant has one instant, and takes the latest max', () => {
    const r = auditGrantLog([
      line('a', 3, seg('order', 1n, 10n, { max: 500n })),
      line('a', 3, seg('order', 11n, 20n, { max: 700n })),
    ]);
    expect(r.tags[0]!.forecast).toMatchObject({ max: '700', idsLeft: '680', idsPerSecond: null });
  });
});

describe('audit of snowflake worker claims', () => {
  const worker = (
    worker: number,
    floor: number,
    horizon: number,
    how: 'claim' | 'renew' = 'claim',
  ) => ({ kind: 'worker', worker, floor, horizon, how }) as GrantEvent;

  it('merges a claim with its renewals, and finds windows of one worker ID that meet', () => {
    const r = auditGrantLog([
      line('a', 0, worker(7, 1000, 30_000)),
      line('a', 10, worker(7, 1000, 40_000, 'renew')),
      // b claims worker 7 from 35 000: a's window reaches 40 000, so they overlap.
      line('b', 20, worker(7, 35_000, 60_000)),
      // worker 8: c then d, disjoint windows.
      line('c', 0, worker(8, 1000, 5000)),
      line('d', 9, worker(8, 5001, 9000)),
    ]);
    expect(r.workers).toMatchObject({ holders: 4, workerIds: 2, overlaps: 1 });
    expect(r.workers.overlapList[0]).toMatchObject({
      worker: 7,
      from: new Date(35_000).toISOString(),
      to: new Date(40_000).toISOString(),
      first: { node: 'a' },
      second: { node: 'b' },
    });
    expect(r.overlaps).toBe(1);
  });

  it('finds no overlap when a holder re-fences to a new floor above its old horizon', () => {
    const r = auditGrantLog([
      line('a', 0, worker(3, 1000, 5000)),
      line('a', 10, worker(3, 20_000, 50_000, 'renew')),
    ]);
    expect(r.workers).toMatchObject({ holders: 2, overlaps: 0 });
  });
});

describe('reading logs', () => {
  it('takes grant lines among other lines and prefixes, and counts the unreadable ones by line', () => {
    const good = line('a', 1, seg('order', 1n, 10n));
    const r = auditGrantLog([
      'plain text, not JSON',
      '{"level":30,"msg":"request completed","res":{"statusCode":200}}',
      '{"level":40,"tag":"grant","msg":"tag not found"}',
      `web-1  | ${good}`,
      `[pod/idalloc-0/idalloc] ${line('b', 2, seg('order', 11n, 20n))}`,
      '{"msg":"grant","grant":{"kind":"segment","node":"x","at":"2026-01-01T00:00:00Z","tag":"order","start":"9","end":"3"}}',
      '{"msg":"grant","grant":{"kind":"segment","at":"2026-01-01T00:00:00Z"}}',
      '{"msg":"grant"',
      '',
    ]);
    expect(r.lines).toBe(9);
    expect(r.grantLines).toBe(2);
    expect(r.unreadable).toBe(3);
    expect(r.unreadableLines).toEqual([
      {
        file: '',
        line: 6,
        why: 'segment grant of node x: 9..3 is not a range of IDs (0..9223372036854775807)',
      },
      { file: '', line: 7, why: 'grant without a node' },
      { file: '', line: 8, why: 'not a whole JSON object (cut short?)' },
    ]);
    expect(r.verdict).toBe('unreadable');
    expect(r.tags[0]!.idsGranted).toBe('20');
  });

  it('counts a line fed twice once (the same log passed twice is no overlap)', () => {
    const l = line('a', 1, seg('order', 1n, 10n));
    const r = auditGrantLog([l, l]);
    expect(r).toMatchObject({ grantLines: 1, duplicateLines: 1, overlaps: 0 });
  });

  it('audits a million grants from four nodes in one pass', () => {
    const audit = new GrantAudit();
    const nodes = ['a', 'b', 'c', 'd'];
    // Lines interleaved across nodes, each node's starts ascending; one overlap planted.
    for (let i = 0; i < 1_000_000; i++) {
      const start = BigInt(i) * 100n + 1n;
      const end = i === 500_000 ? start + 100n : start + 99n;
      audit.addLine(line(nodes[i % 4]!, i / 1000, seg('order', start, end)));
    }
    const r = audit.report();
    expect(r.tags[0]!.grants).toBe(1_000_000);
    expect(r.tags[0]!.overlaps).toBe(1);
    expect(r.tags[0]!.overlapList[0]).toMatchObject({ start: '50000101', end: '50000101' });
  }, 120_000);
});
