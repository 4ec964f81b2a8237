/**
 * The primary's gathering of `/v1/status` (service/cluster/primary-status.ts) with fake
 * workers: every serving worker is asked, the list comes back sorted by worker id under
 * the node's identity, and a worker that does not answer within its time is left out
 * (the node's worker count still says how many there are).
 */
import type { Worker } from 'node:cluster';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerStatus } from '../../src/http/status.js';
import type { ClusterMessage } from '../../src/service/cluster/messages.js';
import { statusGathering } from '../../src/service/cluster/primary-status.js';

const identity = Object.freeze({ id: 'node-a', host: 'h', version: '0.1.0', startedAt: 1 });

const statusOf = (worker: number): WorkerStatus => ({
  worker,
  pid: 1000 + worker,
  startedAt: null,
  ready: { ready: true, reason: null },
  store: { kind: 'redis', up: true, durable: false },
  snowflake: null,
  tagsServed: 0,
  tags: [],
});

/** A fake worker recording what the primary sends it. */
function fakeWorker(id: number): Worker & { sent: ClusterMessage[] } {
  const sent: ClusterMessage[] = [];
  return {
    id,
    sent,
    isConnected: () => true,
    send: (m: ClusterMessage) => sent.push(m) > 0,
  } as unknown as Worker & { sent: ClusterMessage[] };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the primary gathering every worker status', () => {
  it('asks every serving worker and answers the list sorted by worker id, with the identity', async () => {
    const [w1, w2] = [fakeWorker(1), fakeWorker(2)];
    const g = statusGathering(identity, 2, () => [w2, w1]);
    expect(g.onMessage(w1, { type: 'idalloc:status?', id: 7 })).toBe(true);
    for (const w of [w2, w1]) {
      const ask = w.sent.find((m) => m.type === 'idalloc:worker-status?')!;
      g.onMessage(w, { type: 'idalloc:worker-status', id: ask.id, status: statusOf(w.id) });
    }
    await vi.waitFor(() => expect(w1.sent.some((m) => m.type === 'idalloc:status')).toBe(true));
    expect(w1.sent.find((m) => m.type === 'idalloc:status')).toEqual({
      type: 'idalloc:status',
      id: 7,
      view: { node: identity, workerCount: 2, workers: [statusOf(1), statusOf(2)] },
    });
  });

  it('leaves out a worker that does not answer in time', async () => {
    vi.useFakeTimers();
    const [w1, w2] = [fakeWorker(1), fakeWorker(2)];
    const g = statusGathering(identity, 2, () => [w1, w2]);
    g.onMessage(w2, { type: 'idalloc:status?', id: 3 });
    const ask = w2.sent.find((m) => m.type === 'idalloc:worker-status?')!;
    g.onMessage(w2, { type: 'idalloc:worker-status', id: ask.id, status: statusOf(2) });
    await vi.advanceTimersByTimeAsync(2_500);
    expect(w2.sent.find((m) => m.type === 'idalloc:status')).toEqual({
      type: 'idalloc:status',
      id: 3,
      view: { node: identity, workerCount: 2, workers: [statusOf(2)] },
    });
  });

  it('ignores the other messages', () => {
    const g = statusGathering(identity, 1, () => []);
    expect(g.onMessage(fakeWorker(1), { type: 'idalloc:listening', port: 1 })).toBe(false);
    expect(g.onMessage(fakeWorker(1), { type: 'idalloc:metrics?', id: 1 })).toBe(false);
  });
});
