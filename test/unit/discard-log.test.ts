/**
 * Discarded grants (replication not confirmed) are logged once when a burst of them
 * begins, with the reason, and once when a grant is confirmed again, with the count —
 * not once per fetch attempt, and never silently.
 */
import { describe, expect, it } from 'vitest';
import { DiscardLog } from '../../src/allocator/discard-log.js';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import type { Log } from '../../src/core/time-and-log.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { FakeSegmentStore, ManualClock } from '../support/fake-segment-store.js';

function recordingLog() {
  const warns: { obj: Record<string, unknown>; msg: string }[] = [];
  const log: Log = {
    error() {},
    info() {},
    warn: (obj, msg) => warns.push({ obj: obj as Record<string, unknown>, msg }),
  };
  return { log, warns };
}

const discard = (reason: string) =>
  new IdAllocError(ErrorCode.UNAVAILABLE, `segment discarded: ${reason}`, {
    discarded: true,
    reason,
  });

describe('DiscardLog', () => {
  it('logs the first discard of a burst with its reason, then the count when it ends', () => {
    const { log, warns } = recordingLog();
    const clock = new ManualClock();
    const d = new DiscardLog(log, clock);
    d.discarded('order', '0 of 1 required replicas acknowledged within 100 ms');
    clock.advance(300);
    d.discarded('order', '0 of 1 required replicas acknowledged within 100 ms');
    d.discarded('invoice', 'WAIT failed (Command timed out)');
    clock.advance(200);
    d.discarded('order', 'WAIT failed (Connection is closed.)');
    expect(warns.map((w) => w.obj)).toEqual([
      { tag: 'order', count: 1, reason: '0 of 1 required replicas acknowledged within 100 ms' },
      { tag: 'invoice', count: 1, reason: 'WAIT failed (Command timed out)' },
    ]);
    d.confirmed('order');
    d.confirmed('order'); // no burst open any more: nothing to say
    expect(warns.slice(2).map((w) => w.obj)).toEqual([
      { tag: 'order', count: 3, reason: 'WAIT failed (Connection is closed.)', ms: 500 },
    ]);
    expect(warns[2]!.msg).toContain('3 in a burst of 500 ms');
  });

  it('is what the segment allocator reports a discarding store with', async () => {
    const { log, warns } = recordingLog();
    const store = new FakeSegmentStore();
    const alloc = new SegmentAllocator({
      store,
      log,
      clock: new ManualClock(),
      options: { fetchTimeoutMs: 5000, retryBaseMs: 1, retryMaxMs: 2 },
    });
    try {
      store.failure = discard('1 of 2 required replicas acknowledged within 100 ms');
      const pending = Promise.resolve(alloc.next('order'));
      await new Promise((r) => setTimeout(r, 50)); // several attempts, each discarded
      const attempts = store.calls.length;
      expect(attempts).toBeGreaterThan(2);
      expect(warns).toHaveLength(1);
      expect(warns[0]!.obj).toMatchObject({ tag: 'order', count: 1 });
      store.failure = undefined;
      expect(await pending).toBe(1n);
      expect(warns).toHaveLength(2);
      expect(warns[1]!.obj).toMatchObject({
        tag: 'order',
        count: store.calls.length - 1,
        reason: '1 of 2 required replicas acknowledged within 100 ms',
      });
    } finally {
      await alloc.close();
    }
  });
});
