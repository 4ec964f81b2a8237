/**
 * What the worker lease logs while its store fails (README "Snowflake mode"): one line
 * when the attempts start failing — without a stack when the error names its cause — one
 * more only when the reason changes, and one when the store answers again; not a line
 * (with a stack) per attempt every second for as long as it lasts.
 */
import { describe, expect, it } from 'vitest';
import { WorkerLease } from '../../src/allocator/snowflake/lease.js';
import { unavailable } from '../../src/core/errors.js';
import type { WorkerLeaseStore } from '../../src/core/lease-port.js';
import { FakeTime } from '../support/snowflake-fakes.js';

interface Line {
  readonly level: 'error' | 'warn' | 'info';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A store that grants every claim and renewal, or fails renewals with `failure`. */
function flakyStore(): { store: WorkerLeaseStore; fail(err: Error | undefined): void } {
  let failure: Error | undefined;
  const store: WorkerLeaseStore = {
    inspect: async (ids, now) => ids.map((id) => ({ id, state: 'free' as const, floor: now })),
    claim: async (_id, req) => ({
      kind: 'claimed',
      floor: req.now,
      horizon: req.now + req.aheadMs,
      margin: false,
    }),
    renew: async (_id, req) => {
      if (failure) throw failure;
      return { kind: 'renewed', horizon: req.target, floor: undefined };
    },
    release: async () => 'released',
  };
  return { store, fail: (err) => (failure = err) };
}

function setup() {
  const time = new FakeTime();
  const lines: Line[] = [];
  const record = (level: Line['level']) => (obj: object, msg: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const flaky = flakyStore();
  const lease = new WorkerLease({
    store: flaky.store,
    workerCount: 4,
    leaseMs: 30_000,
    clock: time.clock,
    schedule: time.schedule,
    random: () => 0,
    log: { error: record('error'), warn: record('warn'), info: record('info') },
    grants: { record() {} },
  });
  return { time, lines, lease, ...flaky };
}

const failures = (lines: readonly Line[]) =>
  lines.filter((l) => l.msg.startsWith('cannot renew the lease'));

describe('WorkerLease logging while the store fails', () => {
  it('logs one line without a stack when renewals start failing, not one per retry', async () => {
    const { time, lines, lease, fail } = setup();
    await lease.start();
    expect(lease.current()?.workerId).toBe(0);
    fail(unavailable('the renewal of snowflake worker 0 refused: the store file was deleted', 10));
    // Two minutes of retries, one a second.
    await time.advance(120_000);
    const failed = failures(lines);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      level: 'warn',
      obj: { error: { code: 'UNAVAILABLE' }, attempts: 1 },
      msg: expect.stringContaining('the store file was deleted'),
    });
    expect(failed[0]!.obj.err).toBeUndefined();
    expect(JSON.stringify(lines)).not.toMatch(/\n\s+at /);
    expect(lease.reason).toContain('the store file was deleted');
    await lease.close(time.t);
  });

  it('logs again when the reason changes, and once when the store answers again', async () => {
    const { time, lines, lease, fail } = setup();
    await lease.start();
    fail(unavailable('the store is down', 1));
    await time.advance(30_000);
    fail(unavailable('the store is still down, differently', 1));
    await time.advance(5_000);
    expect(failures(lines)).toHaveLength(2);
    fail(undefined);
    await time.advance(2_000);
    const back = lines.filter(
      (l) => l.msg === 'the store answers the snowflake worker lease again',
    );
    expect(back).toHaveLength(1);
    expect(back[0]!.obj.attempts).toBeGreaterThan(20);
    expect(lease.reason).toBeUndefined();
    // A later failure is a new streak: logged again.
    fail(unavailable('the store is down', 1));
    await time.advance(20_000);
    expect(failures(lines)).toHaveLength(3);
    await lease.close(time.t);
  });

  it('keeps the stack of an error that names no cause (a bug)', async () => {
    const { time, lines, lease, fail } = setup();
    await lease.start();
    fail(new TypeError('cannot read properties of undefined'));
    await time.advance(15_000);
    const failed = failures(lines);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.obj.err).toBeInstanceOf(TypeError);
    await lease.close(time.t);
  });
});
