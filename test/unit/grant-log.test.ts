/**
 * The grant log as the segment allocator writes it: each grant recorded before any of its
 * IDs is served, leased ranges with their client, fenced and discarded grants and the
 * remainders at shutdown recorded and counted as skipped; and the file sink of GRANT_LOG.
 */
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import type { AllocatorObserver } from '../../src/allocator/types.js';
import { auditGrantLog } from '../../src/audit/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { GrantLogError } from '../../src/core/errors.js';
import type { GrantEvent, GrantLine } from '../../src/core/grant-log.js';
import { createGrantLog } from '../../src/grants/log.js';
import { LogDestination } from '../../src/observe/log-destination.js';
import { createLogger } from '../../src/observe/logger.js';
import { openGrantLog } from '../../src/service/startup.js';
import type { Grant } from '../../src/core/store-ports.js';
import { FakeSegmentStore, settle } from '../support/fake-segment-store.js';

/** A log that keeps its info lines as JSON text, like pino would write them. */
function memoryLog() {
  const lines: string[] = [];
  const errors: unknown[] = [];
  return {
    lines,
    errors,
    info: (obj: object, msg: string) => lines.push(JSON.stringify({ level: 30, ...obj, msg })),
    warn: () => {},
    error: (obj: object) => errors.push(obj),
  };
}

function setup(store = new FakeSegmentStore()) {
  const log = memoryLog();
  const skipped: [string, string, number][] = [];
  const observer: AllocatorObserver = {
    idsSkipped: (tag, reason, count) => skipped.push([tag, reason, count]),
  };
  const served: bigint[] = [];
  const events: { event: GrantEvent; servedBefore: number }[] = [];
  const grants = createGrantLog(log, { nodeId: 'node-1' });
  const allocator = new SegmentAllocator({
    store,
    observer,
    log,
    grants: {
      record(event) {
        events.push({ event, servedBefore: served.length });
        grants.record(event);
      },
    },
    options: { prefetchAt: 0.5 },
  });
  const grantsOf = () => log.lines.map((l) => (JSON.parse(l) as { grant: GrantLine }).grant);
  return { store, log, allocator, served, events, skipped, grantsOf };
}

describe('the grant log of the segment allocator', () => {
  it('records each segment before any of its IDs is served, with node, time, max', async () => {
    const s = setup();
    s.store.step = 10;
    for (let i = 0; i < 25; i++) s.served.push(await s.allocator.next('order'));
    await settle();
    const segments = s.events.filter((e) => e.event.kind === 'segment');
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const { event, servedBefore } of segments) {
      if (event.kind !== 'segment') continue;
      // No ID of this segment had been handed out when it was recorded.
      expect(s.served.slice(0, servedBefore).every((id) => id < event.start)).toBe(true);
    }
    expect(s.grantsOf()[0]).toEqual({
      kind: 'segment',
      node: 'node-1',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      tag: 'order',
      start: '1',
      end: '10',
      max: '9223372036854775807',
    });
    expect(s.log.lines[0]).toMatch(/"msg":"grant"/);
  });

  it('records a leased range with its client, and a large batch as a batch', async () => {
    const s = setup();
    await s.allocator.lease('order', 50, '10.0.0.7');
    await s.allocator.next('order');
    await s.allocator.nextBatch('order', 500);
    const kinds = s.grantsOf().map((g) => [g.kind, g.start, g.end, g.client]);
    expect(kinds).toContainEqual(['range', '1', '50', '10.0.0.7']);
    expect(kinds.filter(([k]) => k === 'batch')).toHaveLength(1);
  });

  it('records and counts a grant refused by the regression fence', async () => {
    const s = setup();
    await s.allocator.next('order');
    s.store.counter = 1n; // the store forgot: it grants 1..100 again
    s.allocator.nextBatch('order', 100); // drains the buffer and needs a fresh segment
    await settle(50);
    const fence = s.grantsOf().find((g) => g.kind === 'fence');
    expect(fence).toMatchObject({ tag: 'order', start: '1', highWater: '100' });
    expect(s.skipped).toContainEqual(['order', 'fence', Number(fence!.end)]);
    // The fence raised the counter: the next grant starts above the mark.
    expect(s.store.floors).toEqual([101n]);
  });

  it('records and counts a discarded grant, never serving it', async () => {
    class Discarding extends FakeSegmentStore {
      override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
        const g = await super.allocate(tag, count, exact);
        throw new IdAllocError(ErrorCode.UNAVAILABLE, 'discarded: 0 of 1 replicas', {
          discarded: true,
          start: g.start.toString(),
          end: g.end.toString(),
          incarnation: 'abc',
        });
      }
    }
    const s = setup(new Discarding());
    await expect(s.allocator.lease('order', 10)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(s.grantsOf()).toEqual([
      expect.objectContaining({
        kind: 'discarded',
        start: '1',
        end: '10',
        incarnation: 'abc',
        reason: 'discarded: 0 of 1 replicas',
      }),
    ]);
    expect(s.skipped).toEqual([['order', 'discarded_grant', 10]]);
  });

  it('counts the IDs an incarnation jump skipped, and carries them in the grant line', async () => {
    class Jumping extends FakeSegmentStore {
      override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
        this.counter += 1000n;
        const g = await super.allocate(tag, count, exact);
        return { ...g, bumped: true, skipped: 1000n, incarnation: 'run-2' };
      }
    }
    const s = setup(new Jumping());
    await s.allocator.next('order');
    expect(s.skipped).toEqual([['order', 'incarnation_jump', 1000]]);
    expect(s.grantsOf()[0]).toMatchObject({ start: '1001', skipped: '1000', incarnation: 'run-2' });
  });

  it('records the unserved remainder of both buffers at shutdown', async () => {
    const s = setup();
    s.store.step = 100;
    for (let i = 0; i < 60; i++) await s.allocator.next('order'); // past the prefetch mark
    await settle();
    const next = s.allocator.state('order')!.next!; // the prefetched segment, untouched
    expect(next.start).toBe(101n);
    await s.allocator.close();
    const rest = s.grantsOf().filter((g) => g.kind === 'remainder');
    expect(rest.map((g) => [g.start, g.end])).toEqual([
      ['61', '100'],
      ['101', String(next.end)],
    ]);
    expect(s.skipped).toEqual([
      ['order', 'shutdown_remainder', 40],
      ['order', 'shutdown_remainder', Number(next.remaining)],
    ]);
    // The audit reads the same lines: no overlap, the remainders accounted for.
    const r = auditGrantLog(s.log.lines);
    expect(r.overlaps).toBe(0);
    expect(r.tags[0]!.skipped.shutdown_remainder).toBe(String(40n + next.remaining));
  });
});

describe('grant lines in the log on stdout (no GRANT_LOG)', () => {
  it('fail closed once the log cannot be written: the grant refused, none taken, said once', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const reports: string[] = [];
      const dest = new LogDestination(fd, (l) => reports.push(l));
      const grants = createGrantLog(createLogger('info', dest), {
        output: dest,
      });
      expect(grants.check()).toBeUndefined();
      expect(() => grants.ensureWritable?.()).not.toThrow();
      const event: GrantEvent = { kind: 'segment', tag: 'order', start: 1n, end: 10n };
      expect(() => grants.record(event)).toThrow(GrantLogError);
      const failure =
        'the log on stdout cannot be written (ENOSPC); set GRANT_LOG=<file> to keep the grant log in a file';
      expect(() => grants.record(event)).toThrow(
        `the grant log cannot be written (${failure}): this node serves no IDs whose grant it cannot record`,
      );
      expect(() => grants.ensureWritable?.()).toThrow(GrantLogError);
      expect(grants.check()).toBe(failure);
      // The destination's own line, then the grant log's, once however often it is asked.
      expect(reports).toHaveLength(2);
      expect(reports[1]).toBe(
        'idalloc: the log on stdout cannot be written (ENOSPC): no new IDs are served until grant lines can be written; set GRANT_LOG=<file> to keep the grant log in a file',
      );
      dest.exit();
    } finally {
      closeSync(fd);
    }
  });
});

describe('GRANT_LOG: the file sink', () => {
  it('appends one JSON line per grant, in the form audit reads', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'grant-log-')), 'grants.log');
    const log = memoryLog();
    const a = createGrantLog(log, { nodeId: 'n1', file, now: () => 0 });
    a.record({ kind: 'segment', tag: 'order', start: 1n, end: 10n, max: 99n });
    a.close();
    const b = createGrantLog(log, { nodeId: 'n2', file, now: () => 1000 });
    b.record({ kind: 'segment', tag: 'order', start: 5n, end: 20n, max: 99n });
    b.close();
    const text = readFileSync(file, 'utf8');
    expect(text.trimEnd().split('\n')).toHaveLength(2);
    expect(log.lines).toEqual([]); // the file instead of the log
    const r = auditGrantLog(text.split('\n'));
    expect(r.tags[0]!.overlapList[0]).toMatchObject({
      start: '5',
      end: '10',
      first: { node: 'n1' },
      second: { node: 'n2' },
    });
  });

  it('names GRANT_LOG when the file cannot be opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grant-log-'));
    expect(() => openGrantLog({ file: join(dir, 'missing', 'x.log') }, memoryLog())).toThrow(
      ConfigError,
    );
    expect(() => openGrantLog({ file: join(dir, 'missing', 'x.log') }, memoryLog())).toThrow(
      /^GRANT_LOG=.*missing\/x\.log: cannot open the file for appending/,
    );
  });

  it('uses NODE_ID, or hostname:pid by default', () => {
    expect(openGrantLog({ nodeId: 'web-3' }, memoryLog()).nodeId).toBe('web-3');
    expect(openGrantLog({}, memoryLog()).nodeId).toMatch(new RegExp(`:${process.pid}$`));
  });
});
