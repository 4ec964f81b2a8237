/**
 * The snowflake worker lease and a grant log that cannot be written (on the embedded
 * store, on injected time): a claim whose line fails is not used and is given back at
 * once; no worker ID is claimed while the log fails; a raised horizon whose line fails is
 * not used (the generator stays under the horizon last logged); all resumes once the log
 * can be written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leaseTimings, WorkerLease } from '../../src/allocator/snowflake/lease.js';
import { GrantLogError } from '../../src/core/errors.js';
import type { GrantEvent, GrantRecorder } from '../../src/core/grant-log.js';
import type { WorkerLeaseStore } from '../../src/core/lease-port.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { FakeTime } from '../support/snowflake-fakes.js';

const LEASE = 30_000;
let dataDir: string;
const open: EmbeddedStore[] = [];
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-lease-log-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** A grant log that fails while `failing` is set (after its first failure is known). */
class SwitchableGrants implements GrantRecorder {
  failing = false;
  known = false;
  readonly lines: GrantEvent[] = [];
  record(event: GrantEvent): void {
    if (this.failing) {
      this.known = true;
      throw new GrantLogError('the grant log cannot be written (test)');
    }
    this.known = false;
    this.lines.push(event);
  }
  ensureWritable(): void {
    if (this.failing && this.known)
      throw new GrantLogError('the grant log cannot be written (test)');
  }
}

/** A lease of 4 worker IDs on `store`, on injected time, its lines into `grants`. */
function leaseOf(store: WorkerLeaseStore, time: FakeTime, grants: GrantRecorder): WorkerLease {
  return new WorkerLease({
    store,
    workerCount: 4,
    leaseMs: LEASE,
    clock: time.clock,
    schedule: time.schedule,
    random: () => 0,
    grants,
  });
}

describe('the worker lease when its grant lines cannot be written', () => {
  it('neither uses nor keeps a claim it could not log, and claims none while failing', async () => {
    const time = new FakeTime();
    const store = new EmbeddedStore({ dataDir, now: time.clock.now });
    open.push(store);
    const leases = store.workerLeases();
    let claims = 0;
    const counted: WorkerLeaseStore = {
      inspect: (ids, now, margin) => leases.inspect(ids, now, margin),
      claim: (id, req) => {
        claims++;
        return leases.claim(id, req);
      },
      renew: (id, req) => leases.renew(id, req),
      release: (id, token, settle) => leases.release(id, token, settle),
    };
    const grants = new SwitchableGrants();
    grants.failing = true;
    const lease = leaseOf(counted, time, grants);
    await lease.start();
    // Claimed in the store, its line failed: not held, and given back.
    expect(claims).toBe(1);
    expect(lease.current()).toBeUndefined();
    expect(lease.reason).toMatch(/^cannot claim a worker ID: the grant log cannot be written/);
    expect((await leases.inspect([0, 1, 2, 3], time.t, 0)).map((l) => l.state)).toEqual([
      'free',
      'free',
      'free',
      'free',
    ]);
    // While it fails, the retries ask the store for nothing.
    await time.advance(5 * leaseTimings(LEASE).retryMs);
    expect(claims).toBe(1);
    expect(lease.current()).toBeUndefined();

    grants.failing = false;
    await time.advance(leaseTimings(LEASE).retryMs);
    const held = lease.current();
    expect(held).toBeDefined();
    expect(grants.lines).toEqual([expect.objectContaining({ kind: 'worker', how: 'claim' })]);

    // A renewal whose line fails: the store raised the horizon, the node does not use it.
    grants.failing = true;
    await time.advance(leaseTimings(LEASE).renewEveryMs);
    expect(lease.current()?.horizon).toBe(held!.horizon);
    expect(lease.reason).toMatch(/^cannot renew the lease on worker \d: the grant log/);
    grants.failing = false;
    await time.advance(leaseTimings(LEASE).retryMs);
    expect(lease.current()!.horizon).toBeGreaterThan(held!.horizon);
    expect(lease.reason).toBeUndefined();
    await lease.close(time.t);
  });

  it('takes up a re-fence whose line failed at the next renewal, never the raised horizon without it', async () => {
    const time = new FakeTime();
    const store = new EmbeddedStore({ dataDir, now: time.clock.now });
    open.push(store);
    const grants = new SwitchableGrants();
    const lease = leaseOf(store.workerLeases(), time, grants);
    await lease.start();
    const held = lease.current()!;
    // The horizon is gone, as a wiped store would lose it: the next renewal re-fences.
    const raw = new DatabaseSync(store.path);
    raw.exec('PRAGMA busy_timeout = 5000');
    raw.prepare('DELETE FROM worker_horizons WHERE id = ?').run(held.workerId);
    raw.close();
    grants.failing = true;
    await time.advance(leaseTimings(LEASE).renewEveryMs);
    const fence = time.t + LEASE; // now + the margin (the lease length by default)
    expect(lease.current()).toMatchObject({ floor: held.floor, horizon: held.horizon });
    expect(lease.reason).toMatch(/^cannot renew the lease on worker \d: the grant log/);
    // Logged now, through a renewal that meets the same incarnation: the fence comes with it.
    grants.failing = false;
    await time.advance(leaseTimings(LEASE).retryMs);
    expect(lease.current()).toMatchObject({ floor: fence, epoch: held.epoch + 1 });
    expect(grants.lines.at(-1)).toMatchObject({ how: 'renew', floor: fence });
    expect(lease.current()!.horizon).toBeGreaterThanOrEqual(fence);
    await lease.close(time.t);
  });
});
