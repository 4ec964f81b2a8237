/**
 * The audit never calls clean what it did not read (issue 15): cut, glued and damaged
 * grant lines, values out of range, empty input; grant lines of two deployments in one log
 * audited apart; incarnations kept apart; forecasts without gaps; and the deployment each
 * node's grant lines name.
 */
import { describe, expect, it } from 'vitest';
import { auditGrantLog, GrantAudit } from '../../src/audit/index.js';
import { reportText } from '../../src/audit/format.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';
import { createGrantLog } from '../../src/grants/log.js';
import { checkedDeploymentId, newDeploymentId } from '../../src/core/deployment.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function line(node: string, s: number, event: GrantEvent, deployment?: string): string {
  const at = T0 + s * 1000;
  const grant = grantLine(event, node, at, deployment);
  return JSON.stringify({ time: new Date(at).toISOString(), msg: GRANT_MSG, grant });
}

const seg = (start: bigint, end: bigint, extra: Partial<GrantEvent> = {}): GrantEvent =>
  ({
    kind: 'segment',
    tag: 'order',
    start,
    end,
    max: 1_000_000n,
    incarnation: 'r1',
    ...extra,
  }) as GrantEvent;

describe('lines the audit cannot read', () => {
  // Node b's grant overlaps a's: an audit that skips b's line calls the log clean.
  const a = line('a', 1, seg(1n, 1000n));
  const b = line('b', 2, seg(500n, 1500n));

  it('counts a last line cut short, even where the cut took the grant marker', () => {
    for (const cut of [b.slice(0, b.indexOf('"grant":{') + 20), b.slice(0, 30)]) {
      const audit = new GrantAudit();
      audit.beginSource('node.log');
      audit.addLine(a);
      audit.addLine(cut, true);
      const r = audit.report();
      expect(r).toMatchObject({ verdict: 'unreadable', unreadable: 1, overlaps: 0 });
      expect(r.unreadableLines[0]).toMatchObject({ file: 'node.log', line: 2 });
      expect(reportText(r)).toMatch(/\n {2}node\.log:2: .*cut short/);
      expect(reportText(r)).toMatch(/NOT CLEAN: 1 grant line\(s\) could not be read/);
    }
  });

  it('counts two lines glued by a short write as one unreadable line, not half of one', () => {
    const torn = `${a.slice(0, 50)}${b}`; // a cut mid-line, b's write appended to it
    const whole = `${a}${b}`; // two whole lines, the newline lost
    for (const glued of [torn, whole, `web-1  | ${whole}`]) {
      const r = auditGrantLog([line('c', 0, seg(2000n, 2100n)), glued]);
      expect(r).toMatchObject({ verdict: 'unreadable', unreadable: 1, grantLines: 1 });
    }
    expect(auditGrantLog([whole]).unreadableLines[0]!.why).toMatch(/glued/);
  });

  it('counts garbage around a grant line, but reads a prefixed one', () => {
    const r = auditGrantLog([`${a} trailing`, `[pod/x/idalloc] ${b}`]);
    expect(r).toMatchObject({ unreadable: 1, grantLines: 1, verdict: 'unreadable' });
  });

  it('gives the verdict empty for no input, and unreadable for nothing but bad grant lines', () => {
    expect(auditGrantLog([])).toMatchObject({ verdict: 'empty', grantLines: 0 });
    const other = auditGrantLog(['{"msg":"listening"}', 'text']);
    expect(other.verdict).toBe('empty');
    expect(reportText(other)).toMatch(/NOTHING AUDITED: no grant line in the input/);
    expect(auditGrantLog(['{"msg":"grant"}', '{"msg":"grant","grant":{}}']).verdict).toBe(
      'unreadable',
    );
  });

  it('refuses IDs outside 0..2^63-1, a 20-digit range end among them', () => {
    const max = 9_223_372_036_854_775_807n;
    const bad = [
      seg(1n, 99_999_999_999_999_999_999n),
      seg(1n, max + 1n),
      seg(1n, 10n, { max: max + 1n }),
      seg(10n, 20n, { skipped: 10n ** 19n }),
    ];
    const r = auditGrantLog([...bad.map((e) => line('a', 1, e)), line('b', 2, seg(max, max))]);
    expect(r).toMatchObject({ unreadable: 4, grantLines: 1, verdict: 'unreadable' });
    expect(r.unreadableLines[0]!.why).toMatch(/1\.\.99999999999999999999 is not a range of IDs/);
  });

  it('counts a worker line whose times lie outside what a Date holds, without crashing', () => {
    const worker = (floor: number, horizon: number): GrantEvent => ({
      kind: 'worker',
      worker: 3,
      floor,
      horizon,
      how: 'claim',
    });
    const lines = [
      line('a', 1, worker(9e15, 9.1e15)),
      line('b', 1, worker(1000, 1e300)),
      line('c', 1, worker(-5, 1000)),
      line('d', 1, worker(5000, 1000)),
      line('e', 1, worker(1000, 2000)),
    ];
    const r = auditGrantLog(lines);
    expect(r).toMatchObject({ unreadable: 4, grantLines: 1, verdict: 'unreadable' });
    expect(() => reportText(r)).not.toThrow();
    expect(r.unreadableLines[0]!.why).toMatch(/floor 9000000000000000 .* are not times/);
  });
});

describe('deployments and incarnations', () => {
  it('audits two deployments of one log apart: the same IDs in each are no overlap', () => {
    const one = 'redis:10.0.0.1:6379/0 prefix=idalloc:';
    const two = 'redis:10.0.0.1:6379/0 prefix=staging:';
    const r = auditGrantLog([
      line('a', 1, seg(1n, 1000n), one),
      line('x', 1, seg(1n, 1000n), two),
      line('b', 2, seg(1001n, 2000n), one),
    ]);
    expect(r).toMatchObject({ verdict: 'clean', overlaps: 0, deployments: [one, two] });
    expect(r.tags.map((t) => [t.deployment, t.tag, t.grants])).toEqual([
      [one, 'order', 2],
      [two, 'order', 1],
    ]);
    expect(reportText(r)).toMatch(
      /^tag order in redis:10\.0\.0\.1:6379\/0 prefix=staging:: 1 grants/m,
    );
    // Within one deployment the same IDs are an overlap; lines of older versions, which
    // name no deployment, are audited as one.
    expect(
      auditGrantLog([line('a', 1, seg(1n, 10n), one), line('b', 2, seg(5n, 20n), one)]).overlaps,
    ).toBe(1);
    expect(auditGrantLog([line('a', 1, seg(1n, 10n)), line('b', 2, seg(5n, 20n))]).overlaps).toBe(
      1,
    );
  });

  it('audits lines of an older version (no deployment) with every deployment the log names', () => {
    // A rolling upgrade: node a not yet upgraded, node b upgraded, one deployment.
    const d = 'redis:h:6379/0 prefix=idalloc:';
    const r = auditGrantLog([line('a', 1, seg(1n, 10n)), line('b', 2, seg(5n, 20n), d)]);
    expect(r.overlaps).toBe(1);
    expect(r.tags.map((t) => [t.deployment, t.grants])).toEqual([[d, 2]]);
    const w: GrantEvent = { kind: 'worker', worker: 1, floor: 1000, horizon: 9000, how: 'claim' };
    expect(auditGrantLog([line('a', 1, w), line('b', 1, w, d)]).workers.overlaps).toBe(1);
    // A tag only old lines hold is reported on its own.
    const alone = auditGrantLog([
      line('a', 1, seg(1n, 10n, { tag: 'user' })),
      line('b', 2, seg(1n, 5n), d),
    ]);
    expect(alone.tags.map((t) => [t.deployment, t.tag])).toEqual([
      ['', 'user'],
      [d, 'order'],
    ]);
  });

  it('keeps worker IDs of two deployments apart', () => {
    const w: GrantEvent = { kind: 'worker', worker: 1, floor: 1000, horizon: 9000, how: 'claim' };
    expect(auditGrantLog([line('a', 1, w, 'd1'), line('b', 1, w, 'd2')]).workers.overlaps).toBe(0);
    expect(auditGrantLog([line('a', 1, w, 'd1'), line('b', 1, w, 'd1')]).workers.overlaps).toBe(1);
  });

  it('does not fold grants of another incarnation at the same node, range and ms into one', () => {
    const r = auditGrantLog([
      line('a', 1, seg(1n, 100n, { incarnation: 'run-1' })),
      line('a', 1, seg(1n, 100n, { incarnation: 'run-2' })),
      line('a', 1, seg(1n, 100n, { incarnation: 'run-2' })), // a copy: counted once
    ]);
    expect(r).toMatchObject({ overlaps: 1, grantLines: 2, duplicateLines: 1 });
    expect(r.tags[0]!.overlapList[0]).toMatchObject({
      first: { incarnation: 'run-1' },
      second: { incarnation: 'run-2' },
    });
  });

  it('forecasts from the IDs granted, not the gaps between them', () => {
    // 1000 IDs over 10 s with a jump of a billion between: 100 IDs/s, not 1e8.
    const r = auditGrantLog([
      line('a', 0, seg(1n, 500n, { max: 2_000_000_000n })),
      line(
        'a',
        10,
        seg(1_000_000_501n, 1_000_001_000n, { max: 2_000_000_000n, skipped: 1_000_000_000n }),
      ),
    ]);
    expect(r.tags[0]!.forecast).toMatchObject({ idsPerSecond: 100, spanSeconds: 10 });
  });
});

describe('the deployment a grant line names', () => {
  it('is written in every line by the recorder', () => {
    const lines: string[] = [];
    const log = { info: (o: object) => lines.push(JSON.stringify(o)), error: () => {} };
    createGrantLog(log, { nodeId: 'n', deployment: 'd-0123456789abcdef' }).record(seg(1n, 2n));
    expect(JSON.parse(lines[0]!)).toMatchObject({
      grant: { node: 'n', deployment: 'd-0123456789abcdef' },
    });
  });

  it('is an id created at random, and a stored value that is no id is refused, not logged', () => {
    const a = newDeploymentId();
    expect(a).toMatch(/^d-[0-9a-f]{16}$/);
    expect(newDeploymentId()).not.toBe(a);
    expect(checkedDeploymentId(a, 'the key k')).toBe(a);
    expect(() => checkedDeploymentId('two words', 'the key k')).toThrow(
      /^the key k holds "two words", not a deployment id: expected 1 to 64 printable ASCII characters/,
    );
    expect(() => checkedDeploymentId(null, 'the key k')).toThrow(/the key k holds null/);
  });
});
