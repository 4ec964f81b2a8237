/**
 * The audit and hand-back (docs/design.md §5 "Hand-back", §8.8): a handback line that
 * matches its node's grant and remainder lines takes the returned IDs out of that grant,
 * so a later grant of them by any node is no overlap and they are not counted as skipped;
 * a re-grant without one, or with one that matches nothing the node logged, is an overlap.
 */
import { describe, expect, it } from 'vitest';
import { auditGrantLog, GrantAudit } from '../../src/audit/index.js';
import { reportText } from '../../src/audit/format.js';
import { GRANT_MSG, grantLine, type GrantEvent } from '../../src/core/grant-log.js';
import { parseRegion } from '../../src/core/shape.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function line(node: string, s: number, event: GrantEvent): string {
  return JSON.stringify({
    msg: GRANT_MSG,
    grant: grantLine(event, node, T0 + s * 1000, 'd-0123456789abcdef'),
  });
}

const ids = (kind: 'segment' | 'remainder' | 'handback', start: bigint, end: bigint) =>
  ({ kind, tag: 't', start, end, incarnation: 'aaa' }) as GrantEvent;

/** A lease of start..end to `client`. */
const lease = (start: bigint, end: bigint, client = 'c') =>
  ({ ...ids('segment', start, end), kind: 'range', client }) as GrantEvent;
/** A line of node a at second `s`. */
const a = (event: GrantEvent, s = 3) => line('a', s, event);

/** Node a leases 51..100, takes all of it back, and leases it again, all at second 3. */
const leasedAgain = [
  a(lease(51n, 100n)),
  a(ids('remainder', 51n, 100n)),
  a(ids('handback', 51n, 100n)),
  a(lease(51n, 100n)),
];

/** A line of `deployment` in region 0/2 (the check across deployments compares these). */
function d(deployment: string, node: string, s: number, event: GrantEvent): string {
  const grant = grantLine(
    { ...event, region: parseRegion('0/2') } as GrantEvent,
    node,
    T0 + s * 1000,
    deployment,
  );
  return JSON.stringify({ msg: GRANT_MSG, grant });
}

/** The audit of `files` (name and lines), each read as its own input, as the CLI does. */
function auditFiles(files: [string, string[]][]) {
  const audit = new GrantAudit();
  for (const [name, lines] of files) {
    audit.beginSource(name);
    audit.addLines(lines);
  }
  return audit.report();
}

/** Node a granted start..end at second `s`, and took back from..end at second `back`. */
const takenBack = (s: number, back: number, start: bigint, end: bigint, from: bigint) => [
  line('a', s, ids('segment', start, end)),
  line('a', back, ids('remainder', from, end)),
  line('a', back, ids('handback', from, end)),
];

/** Node a leased 1..100 to a client, who returned 51..100, all at second 3. */
const returned = takenBack(3, 3, 1n, 100n, 51n);

/** Node a holds 1..100 (served 1..30) and 101..200, stops, and gives 31..200 back. */
const stoppedA = [
  line('a', 1, ids('segment', 1n, 100n)),
  line('a', 2, ids('segment', 101n, 200n)),
  line('a', 3, ids('remainder', 31n, 100n)),
  line('a', 3, ids('remainder', 101n, 200n)),
];
const handbackA = line('a', 3, ids('handback', 31n, 200n));
/** Node b is then granted 31..130. */
const regrantB = line('b', 4, ids('segment', 31n, 130n));

describe('audit of hand-backs', () => {
  it('a re-grant of handed-back IDs is no overlap, and they are not skipped', () => {
    const r = auditGrantLog([...stoppedA, handbackA, regrantB]);
    expect(r.verdict).toBe('clean');
    const t = r.tags[0]!;
    expect(t.handedBack).toBe('170');
    expect(t.skipped.shutdown_remainder).toBe('0');
    expect(t.gaps).toBe(0);
    expect(t.idsGranted).toBe(String(30 + 100));
    expect(reportText(r)).toContain('handed back at a clean stop: 170 IDs');
  });

  it('a re-grant without a handback line is still an overlap', () => {
    const r = auditGrantLog([...stoppedA, regrantB]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.skipped.shutdown_remainder).toBe('170');
    expect(r.tags[0]!.handedBack).toBe('0');
  });

  it('ignores a handback line that its node did not log as unserved: the re-grant is an overlap', () => {
    const r = auditGrantLog([
      line('a', 1, ids('segment', 1n, 100n)),
      line('a', 3, ids('remainder', 61n, 100n)),
      line('a', 3, ids('handback', 31n, 100n)), // 31..60 were served
      line('b', 4, ids('segment', 31n, 130n)),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.handbacksIgnored).toBe(1);
  });

  it("ignores a handback line of another node or incarnation than the grant's", () => {
    for (const bad of [
      line('x', 3, ids('handback', 31n, 200n)),
      line('a', 3, { ...ids('handback', 31n, 200n), incarnation: 'bbb' } as GrantEvent),
      line('a', 3, ids('handback', 31n, 150n)), // not the end of a grant
    ]) {
      const r = auditGrantLog([...stoppedA, bad, regrantB]);
      expect(r.verdict, bad).toBe('overlaps');
      expect(r.tags[0]!.handbacksIgnored, bad).toBe(1);
    }
  });

  it("keeps the node's own grants after the hand-back (a restart under the same name)", () => {
    const r = auditGrantLog([...stoppedA, handbackA, line('a', 9, ids('segment', 31n, 130n))]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.idsGranted).toBe('130');
  });
});

/**
 * A node's lines of one millisecond: their stamps tie, so their order in the node's log
 * (written as they happened) says which grant the hand-back returned from and which came
 * after it. A grant written after the handback line is never one it returned from.
 */
describe('audit of hand-backs: lines of the same millisecond', () => {
  it('a grant of the returned IDs by the same node in that millisecond is no overlap', () => {
    // The next fetch of node a takes 51..1050 from the lowered counter.
    const r = auditGrantLog([...returned, line('a', 3, ids('segment', 51n, 1050n))]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.handbacksIgnored).toBe(0);
    expect(r.tags[0]!.handedBack).toBe('50');
    expect(r.tags[0]!.idsGranted).toBe('1050');
  });

  it('keeps a grant written after the handback line, so that a duplicate of it is found', () => {
    // Node a is granted 51..60 again after the return; node b is granted 51..60 as well
    // (a counter that went back): served twice, which the audit must report.
    const r = auditGrantLog([
      ...returned,
      line('a', 3, ids('segment', 51n, 60n)),
      line('b', 4, ids('segment', 51n, 60n)),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.overlappingIds).toBe('10');
  });

  it('a log fed twice is still one log (its copies are not overlaps)', () => {
    const log = [...returned, line('a', 3, ids('segment', 51n, 1050n))];
    const r = auditGrantLog([...log, ...log]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.idsGranted).toBe('1050');
  });

  it('a log passed as two files is one log', () => {
    const log = [...returned, line('a', 3, ids('segment', 51n, 1050n))];
    const r = auditFiles([
      ['a.log', log],
      ['copy-of-a.log', log],
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.idsGranted).toBe('1050');
  });

  it('a grant in another file of the same millisecond is not taken as returned (a duplicate of it is found)', () => {
    // a's log rotated within the millisecond: the grant after the handback line opens the
    // new file, at a lower line number than the handback line in the old one.
    const r = auditFiles([
      ['a.log.1', returned],
      ['a.log', [line('a', 3, ids('segment', 51n, 60n))]],
      ['b.log', [line('b', 4, ids('segment', 51n, 60n))]],
    ]);
    expect(r.verdict).toBe('overlaps');
    // b's grant meets a's (which of a's: the handback is refused, its doubt unresolved).
    expect(r.tags[0]!.overlapList.some((o) => o.second.node === 'b' || o.first.node === 'b')).toBe(
      true,
    );
  });

  it('a grant of that millisecond in another file still refuses the handback it may precede', () => {
    // a's log rotated within the millisecond: 51..150 (a grant past the returned tail, or
    // under another incarnation) may have been written before the handback line.
    for (const second of [
      ids('segment', 51n, 150n),
      { ...ids('segment', 51n, 100n), incarnation: 'bbb' } as GrantEvent,
    ]) {
      const r = auditFiles([
        ['a.log.1', [line('a', 2, ids('segment', 1n, 100n)), line('a', 3, second)]],
        [
          'a.log',
          [line('a', 3, ids('remainder', 51n, 100n)), line('a', 3, ids('handback', 51n, 100n))],
        ],
      ]);
      expect(
        r.verdict,
        JSON.stringify(second, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
      ).toBe('overlaps');
      expect(r.tags[0]!.handbacksIgnored).toBe(1);
    }
  });

  it('a copy read first from another file never hides an overlap', () => {
    const log = [
      line('a', 2, ids('segment', 1n, 100n)),
      line('a', 3, ids('segment', 51n, 150n)), // before the handback line: refuses it
      line('a', 3, ids('remainder', 51n, 100n)),
      line('a', 3, ids('handback', 51n, 100n)),
    ];
    const refused = auditFiles([
      ['part.log', [log[1]!]],
      ['a.log', log],
    ]);
    expect(refused.verdict).toBe('overlaps');
    expect(refused.tags[0]!.handbacksIgnored).toBe(1);

    // A snapshot taken before the handback line was written, read first: its copy of the
    // grant may be a lease written again after the handback (as in a log rotated there),
    // so it counts as one — a false alarm here, never a hidden duplicate.
    const snapshot = [
      line('a', 3, ids('segment', 1n, 100n)),
      line('a', 3, ids('remainder', 51n, 100n)),
    ];
    const whole = [
      ...snapshot,
      line('a', 3, ids('handback', 51n, 100n)),
      line('a', 3, ids('segment', 101n, 200n)),
    ];
    const r = auditFiles([
      ['snapshot.log', snapshot],
      ['a.log', whole],
      ['b.log', [line('b', 4, ids('segment', 51n, 60n))]],
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.handedBack).toBe('50');
  });

  it('reports the same twice over', () => {
    const audit = new GrantAudit();
    audit.addLines([...returned, line('a', 3, ids('segment', 51n, 1050n)), ...returned]);
    const first = audit.report();
    expect(first.verdict).toBe('clean');
    expect(audit.report()).toEqual(first);
  });
});

describe('audit of hand-backs: lines alike on both sides of a handback line', () => {
  const lease = (client: string) =>
    ({ ...ids('segment', 51n, 100n), kind: 'range', client }) as GrantEvent;
  /** Node a leases 51..100 to `first`, takes all of it back, leases it again to `second`. */
  const released = (first: string, second: string) => [
    line('a', 3, lease(first)),
    line('a', 3, ids('remainder', 51n, 100n)),
    line('a', 3, ids('handback', 51n, 100n)),
    line('a', 3, lease(second)),
  ];
  const regrantB = line('b', 4, ids('segment', 51n, 100n));

  it('a range leased again in that millisecond keeps its IDs, whichever client holds it', () => {
    for (const [first, second] of [
      ['10.0.0.7', '10.0.0.8'],
      ['10.0.0.7', '10.0.0.7'], // the same line twice: two leases all the same
    ] as const) {
      const r = auditGrantLog([...released(first, second), regrantB]);
      expect(r.verdict, second).toBe('overlaps');
      expect(r.tags[0]!.overlappingIds, second).toBe('50');
      expect(r.tags[0]!.handedBack, second).toBe('50');
      expect(r.duplicateLines, second).toBe(0);
    }
  });

  it('two leases of one range to two clients are an overlap, not a line fed twice', () => {
    const r = auditGrantLog([line('a', 3, lease('10.0.0.7')), line('a', 3, lease('10.0.0.8'))]);
    expect(r.verdict).toBe('overlaps');
    expect(r.duplicateLines).toBe(0);
  });

  it('the same log fed twice in one stream is still one log', () => {
    const log = released('10.0.0.7', '10.0.0.7');
    const r = auditGrantLog([...log, ...log]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.grants).toBe(1);
    expect(r.tags[0]!.idsGranted).toBe('50');
    expect(r.duplicateLines).toBe(4);
  });
});

describe('audit of hand-backs: a third review', () => {
  it('a lease found again refuses a later handback it may precede', () => {
    const r = auditGrantLog([
      ...leasedAgain,
      a(ids('segment', 31n, 60n)),
      a(ids('remainder', 51n, 60n)),
      a(ids('handback', 51n, 60n)),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.overlappingIds).toBe('10');
  });

  it('two leases alike around a handback line that matches nothing are two', () => {
    const r = auditGrantLog([
      a(lease(51n, 100n)),
      a(ids('remainder', 61n, 100n)),
      a(ids('handback', 51n, 100n)),
      a(lease(51n, 100n)),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.overlappingIds).toBe('50');
    expect(r.duplicateLines).toBe(0);
  });

  it('two leases alike after the handback line are two more', () => {
    const r = auditGrantLog([...leasedAgain, a(lease(51n, 100n))]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.overlappingIds).toBe('50');
  });

  it('a lease alike in the next file of a log rotated after the handback line is a lease', () => {
    const r = auditFiles([
      [
        'a.log.1',
        [a(lease(51n, 100n)), a(ids('remainder', 51n, 100n)), a(ids('handback', 51n, 100n))],
      ],
      ['a.log', [a(lease(51n, 100n))]],
      ['b.log', [line('b', 4, ids('segment', 51n, 100n))]],
    ]);
    expect(r.verdict).toBe('overlaps');
  });

  it("matches a handback line only with the remainder lines of the grant's stop", () => {
    const returnedAgain = [a(ids('segment', 51n, 150n), 5), a(ids('remainder', 101n, 150n), 6)];
    const hb = a(ids('handback', 51n, 150n), 6);
    const regrant = line('b', 7, ids('segment', 51n, 150n));
    // 51..100 logged unserved at an earlier stop, or after the handback: not this one's.
    for (const lines of [
      [...takenBack(1, 3, 1n, 100n, 51n), ...returnedAgain, hb, regrant],
      [...returnedAgain, hb, a(ids('remainder', 51n, 100n), 9), regrant],
    ]) {
      const r = auditGrantLog(lines);
      expect(r.verdict).toBe('overlaps');
      expect(r.tags[0]!.handbacksIgnored).toBe(1);
    }
  });

  it('orders the handback lines of a millisecond by the file that holds them all', () => {
    const log = [
      a(ids('segment', 1n, 100n)),
      a(ids('remainder', 31n, 100n)),
      a(ids('handback', 31n, 50n)), // not the end of a grant: matches nothing
      a(ids('handback', 51n, 100n)),
    ];
    const r = auditFiles([
      ['tail.log', [log[3]!]],
      ['a.log', log],
      ['b.log', [line('b', 4, ids('segment', 31n, 50n))]],
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.handbacksIgnored).toBe(1);
  });

  it('the check across deployments reads hand-backs with older lines merged in, and afresh', () => {
    const audit = new GrantAudit();
    audit.addLines([
      d('d-00000000000000d1', 'a', 1, ids('segment', 1n, 100n)),
      d('d-00000000000000d1', 'a', 2, ids('remainder', 51n, 100n)),
      d('d-00000000000000d1', 'a', 2, ids('handback', 51n, 100n)),
      d('d-00000000000000d2', 'c', 3, ids('segment', 51n, 100n)),
      line('old', 4, ids('segment', 5001n, 5010n)).replace(/"deployment":"[^"]*",/, ''),
    ]);
    expect(audit.report().regions.overlaps).toBe(0);
    audit.addLines([
      d('d-00000000000000d1', 'a', 5, ids('segment', 201n, 300n)),
      d('d-00000000000000d2', 'c', 5, ids('segment', 201n, 300n)),
    ]);
    expect(audit.report().regions.overlaps).toBe(1);
  });
});

describe('audit of hand-backs: a fourth review', () => {
  it('a handback never takes out IDs the node was granted twice', () => {
    for (const lines of [
      // A lease and a segment of the node meet; the next grant follows the handback line.
      [
        a(lease(51n, 150n), 1),
        a(ids('segment', 31n, 150n), 2),
        a(ids('remainder', 31n, 150n)),
        a(ids('handback', 31n, 150n)),
        a(ids('segment', 31n, 230n)),
      ],
      // Two segments of the node meet, both partly unserved.
      [
        a(ids('segment', 1n, 100n), 1),
        a(ids('segment', 51n, 100n), 2),
        a(ids('remainder', 81n, 100n)),
        a(ids('remainder', 51n, 100n)),
        a(ids('handback', 51n, 100n)),
        line('b', 4, ids('segment', 51n, 100n)),
      ],
    ]) {
      const r = auditGrantLog(lines);
      expect(r.verdict).toBe('overlaps');
      expect(r.tags[0]!.handbacksIgnored).toBe(1);
    }
  });

  it('a lease alike read only below the handback line, in a window of the log, is a lease', () => {
    const r = auditFiles([
      [
        'a.log.1',
        [a(lease(51n, 100n)), a(ids('remainder', 51n, 100n)), a(ids('handback', 51n, 100n))],
      ],
      [
        'a.window',
        [a(ids('remainder', 51n, 100n)), a(ids('handback', 51n, 100n)), a(lease(51n, 100n))],
      ],
      ['b.log', [line('b', 4, ids('segment', 51n, 100n))]],
    ]);
    expect(r.verdict).toBe('overlaps');
  });

  it('a lease found again can be handed back in a later millisecond', () => {
    const r = auditGrantLog([
      ...leasedAgain,
      a(ids('remainder', 51n, 100n), 5),
      a(ids('handback', 51n, 100n), 5),
      line('b', 6, ids('segment', 51n, 100n)),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.handedBack).toBe('100');
  });

  it("a stopping node's remainder lines may come before its last grant's line", () => {
    // The spare segment's grant landed while the node was stopping: the current buffer's
    // remainder line was written before it (as in test/integration/handback-restarts).
    const r = auditGrantLog([
      a(ids('segment', 101n, 300n), 1),
      a(ids('remainder', 127n, 300n), 2),
      a(ids('segment', 301n, 700n), 2),
      a(ids('remainder', 301n, 700n), 2),
      a(ids('handback', 127n, 700n), 2),
      a(ids('segment', 127n, 226n), 3),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.handedBack).toBe('574');
  });

  it('a remainder line written after the handback line does not make it match', () => {
    const r = auditGrantLog([
      a(ids('segment', 1n, 100n)),
      a(ids('handback', 51n, 100n)),
      a(ids('remainder', 51n, 100n)),
      line('b', 4, ids('segment', 51n, 100n)),
    ]);
    expect(r.verdict).toBe('overlaps');
    expect(r.tags[0]!.handbacksIgnored).toBe(1);
  });
});

describe('audit of hand-backs: several files', () => {
  it("applies a node's hand-backs in the order it wrote them, whatever the files' order", () => {
    const older = takenBack(1, 2, 1n, 100n, 31n);
    const newer = takenBack(5, 6, 31n, 130n, 61n);
    for (const files of [
      [
        ['a.log.1', older],
        ['a.log', newer],
      ],
      [
        ['a.log', newer],
        ['a.log.1', older],
      ],
    ] as [string, string[]][][]) {
      const r = auditFiles([...files, ['b.log', [line('b', 7, ids('segment', 61n, 200n))]]]);
      expect(r.verdict, files[0]![0]).toBe('clean');
      expect(r.tags[0]!.handedBack).toBe('140');
    }
  });

  it('a copy of the handback line read first, in a file without the grant, changes nothing', () => {
    const r = auditFiles([
      ['tail.log', [returned[2]!]],
      ['a.log', returned],
      ['b.log', [line('b', 4, ids('segment', 51n, 60n))]],
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.handedBack).toBe('50');
  });

  it('the check across deployments leaves out IDs handed back too', () => {
    const r = auditGrantLog([
      d('d-00000000000000d1', 'a', 1, ids('segment', 1n, 100n)),
      d('d-00000000000000d1', 'a', 2, ids('remainder', 51n, 100n)),
      d('d-00000000000000d1', 'a', 2, ids('handback', 51n, 100n)),
      d('d-00000000000000d2', 'c', 3, ids('segment', 51n, 100n)),
    ]);
    expect(r.verdict).toBe('clean');
    expect(r.regions.overlaps).toBe(0);
  });
});

describe('audit of an upgrade: lines with and without a deployment', () => {
  it('merges a tag of 200 000 grants with the lines of an older node', () => {
    const lines = Array.from({ length: 200_000 }, (_, i) =>
      line('a', 1, ids('segment', BigInt(i * 10 + 1), BigInt(i * 10 + 10))),
    );
    // A node of an older version writes no deployment.
    lines.push(
      JSON.stringify({
        msg: GRANT_MSG,
        grant: grantLine(ids('segment', 2_000_001n, 2_000_010n), 'old', T0 + 2000),
      }),
    );
    const r = auditGrantLog(lines);
    expect(r.verdict).toBe('clean');
    expect(r.tags[0]!.grants).toBe(200_001);
  });
});
