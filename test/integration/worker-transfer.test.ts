/**
 * Snowflake worker leases and horizons in `tag export` / `tag import` (docs/design.md §6
 * "Moving between stores") as one specification run against both stores — Redis
 * (worker-export-2.lua, worker-import-2.lua) and the embedded SQLite store — and across
 * them, both ways: a worker ID leased at the export is held for its old node (no claim,
 * nothing below its horizon) until `releaseImported`; a free one's horizon rises; a lease
 * of this store is never taken over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { ClaimRequest, WorkerLeaseStore, WorkerTransfer } from '../../src/core/lease-port.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { holderOf } from '../../src/store/embedded/worker-transfer.js';
import { testStore } from '../support/store.js';

const LEASE_MS = 30_000;
const MARGIN_MS = 3000;
const HOLD_MS = 3600_000;

interface Side {
  readonly name: string;
  readonly leases: WorkerLeaseStore;
  readonly transfer: WorkerTransfer;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const backends: { name: string; open(): Side }[] = [
  {
    name: 'RedisStore',
    open() {
      const store = testStore(inject('redisUrl'));
      const handle = store.openWorkerLeases(() => {});
      closers.push(async () => {
        await handle.close();
        await store.close();
      });
      return { name: 'Redis', leases: handle.leases, transfer: store.workerTransfer() };
    },
  },
  {
    name: 'EmbeddedStore',
    open() {
      const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-worker-transfer-'));
      const store = new EmbeddedStore({ dataDir });
      closers.push(async () => {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      });
      return { name: 'embedded', leases: store.workerLeases(), transfer: store.workerTransfer() };
    },
  },
];

function claimOf(token: string, now = Date.now()): ClaimRequest {
  return { token, leaseMs: LEASE_MS, now, aheadMs: 1000, marginMs: MARGIN_MS, maxWaitMs: 10 ** 9 };
}

const request = (dryRun = false) => ({
  now: Date.now(),
  holdMs: HOLD_MS,
  marginMs: MARGIN_MS,
  dryRun,
});

describe.each(backends)('worker transfer on $name', ({ open }) => {
  it('exports every worker ID: a leased one with its holder, a released one with its horizon', async () => {
    const { leases, transfer } = open();
    const claimed = await leases.claim(3, claimOf('node-a'));
    expect(claimed.kind).toBe('claimed');
    const b = await leases.claim(5, claimOf('node-b'));
    const settle = Date.now() + 7;
    expect(await leases.release(5, 'node-b', settle)).toBe('released');

    const states = await transfer.exportWorkers(Date.now(), MARGIN_MS);
    expect(states.map((s) => s.id)).toEqual([3, 5]);
    expect(states[0]).toMatchObject({ id: 3, holder: holderOf('node-a'), imported: false });
    expect(states[0]!.horizon).toBeGreaterThanOrEqual(
      claimed.kind === 'claimed' ? claimed.horizon : Infinity,
    );
    // Settled at what node B used, never below its floor (Redis fences a fresh ID).
    const floorB = b.kind === 'claimed' ? b.floor : Infinity;
    expect(states[1]).toEqual({ id: 5, horizon: Math.max(settle, floorB - 1), imported: false });
  });

  it('holds a worker ID leased at the export until released, and starts it above the horizon', async () => {
    const { leases, transfer } = open();
    const horizon = Date.now() + 20_000;
    const record = { id: 2, horizon, holder: 'ffffffffffffffff' };

    expect(await transfer.importWorker({ ...record, id: 9 }, request(true))).toMatchObject({
      outcome: 'held',
    });
    expect((await leases.claim(9, claimOf('dry'))).kind).toBe('claimed'); // nothing written

    const held = await transfer.importWorker(record, request());
    expect(held.outcome).toBe('held');
    expect(held.horizon).toBeGreaterThanOrEqual(Date.now() + HOLD_MS - 60_000);
    expect(await leases.inspect([2], Date.now(), MARGIN_MS)).toEqual([{ id: 2, state: 'held' }]);
    expect((await leases.claim(2, claimOf('new-node'))).kind).toBe('taken');
    // A second import (the same file again) keeps the hold, and its floor.
    expect((await transfer.importWorker(record, request())).outcome).toBe('held');
    const exported = await transfer.exportWorkers(Date.now(), MARGIN_MS);
    expect(exported.find((s) => s.id === 2)).toMatchObject({ imported: true });

    const settle = Date.now() + MARGIN_MS;
    expect(await transfer.releaseImported(2, settle)).toBe('released');
    expect(await transfer.releaseImported(2, settle)).toBe('lost');
    const claim = await leases.claim(2, claimOf('new-node'));
    expect(claim.kind).toBe('claimed');
    // Above the old store's horizon, and above the release's margin: not the hold's end.
    if (claim.kind === 'claimed') {
      expect(claim.floor).toBeGreaterThan(horizon);
      expect(claim.floor).toBeGreaterThan(settle);
      expect(claim.floor).toBeLessThan(Date.now() + HOLD_MS / 2);
    }
  });

  it('once marked moved, refuses every new claim in the claim itself; a held lease renews and releases', async () => {
    const { leases, transfer } = open();
    const held = await leases.claim(1, claimOf('old-node'));
    expect(held.kind).toBe('claimed');
    await transfer.markMoved(4);
    await transfer.markMoved(4); // idempotent
    for (const id of [0, 2, 3])
      expect(await leases.claim(id, claimOf('late'))).toEqual({ kind: 'moved' });
    const renewed = await leases.renew(1, {
      token: 'old-node',
      leaseMs: LEASE_MS,
      now: Date.now(),
      target: Date.now() + 1000,
      marginMs: MARGIN_MS,
      floor: held.kind === 'claimed' ? held.floor : 0,
    });
    expect(renewed.kind).toBe('renewed');
    expect(await leases.release(1, 'old-node', Date.now())).toBe('released');
    expect(await leases.claim(1, claimOf('old-node'))).toEqual({ kind: 'moved' });
  });

  it("raises a free worker ID's horizon, never lowers it, and never takes a lease over", async () => {
    const { leases, transfer } = open();
    const horizon = Date.now() + 15_000;
    expect(await transfer.importWorker({ id: 4, horizon }, request())).toEqual({
      outcome: 'raised',
      horizon,
    });
    expect((await transfer.importWorker({ id: 4, horizon: horizon - 5 }, request())).outcome).toBe(
      'unchanged',
    );
    const claim = await leases.claim(4, claimOf('new-node'));
    expect(claim.kind === 'claimed' && claim.floor > horizon).toBe(true);

    // Held here by a node: the export's holder is another node whose timestamps may reach
    // above this holder's first one (conflict), or the same one (kept).
    const here = await leases.claim(6, claimOf('here'));
    expect(here.kind).toBe('claimed');
    const first = here.kind === 'claimed' ? here.floor : 0;
    const other = { id: 6, horizon: first + 60_000, holder: holderOf('elsewhere') };
    expect((await transfer.importWorker(other, request())).outcome).toBe('conflict');
    // Another node whose timestamps all lie below this holder's first one: nothing to
    // fence (a store restarted empty lost the old lease; the new claim is above it).
    const before = { ...other, horizon: first - 1 };
    expect((await transfer.importWorker(before, request())).outcome).toBe('kept');
    const same = { ...other, holder: holderOf('here') };
    expect((await transfer.importWorker(same, request())).outcome).toBe('kept');
    const renewed = await leases.renew(6, {
      token: 'here',
      leaseMs: LEASE_MS,
      now: Date.now(),
      target: Date.now() + 1000,
      marginMs: MARGIN_MS,
      floor: first,
    });
    expect(renewed).toMatchObject({ kind: 'renewed', floor: undefined });
  });
});

describe('worker transfer across stores', () => {
  it.each([
    ['embedded', 'Redis', 1, 0],
    ['Redis', 'embedded', 0, 1],
  ])('from %s to %s: the leased worker ID is held, the free one fenced', async (_a, _b, i, j) => {
    const from = backends[i]!.open();
    const to = backends[j]!.open();
    await from.leases.claim(1, claimOf('old-node'));
    await from.leases.claim(0, claimOf('gone'));
    const settle = Date.now() + 50;
    await from.leases.release(0, 'gone', settle);

    for (const state of await from.transfer.exportWorkers(Date.now(), MARGIN_MS)) {
      const { imported: _imported, ...record } = state;
      await to.transfer.importWorker(record, request());
    }
    expect((await to.leases.claim(1, claimOf('new-node'))).kind).toBe('taken');
    const free = await to.leases.claim(0, claimOf('new-node'));
    expect(free.kind === 'claimed' && free.floor > settle).toBe(true);
  });
});

describe('worker transfer of an embedded file restored from a copy', () => {
  it('exports and imports a horizon of another incarnation as a claim sees it: margin included', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-worker-transfer-'));
    closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const seed = new EmbeddedStore({ dataDir });
    const used = Date.now() + 50;
    for (const id of [3, 4, 5]) {
      await seed.workerLeases().claim(id, claimOf(`n${id}`));
      await seed.workerLeases().release(id, `n${id}`, used);
    }
    await seed.close();
    // What a restored file holds: rows written under an incarnation that is not the file's.
    const raw = new DatabaseSync(join(dataDir, 'idalloc.db'));
    raw.prepare("UPDATE worker_horizons SET incarnation = 'embedded:0123456789abcdef'").run();
    raw.close();

    const store = new EmbeddedStore({ dataDir });
    closers.push(() => store.close());
    const transfer = store.workerTransfer();
    const now = Date.now();
    const states = await transfer.exportWorkers(now, MARGIN_MS);
    // The raw row says `used`; a claim here would start above now + margin.
    expect(states.find((s) => s.id === 3)!.horizon).toBeGreaterThanOrEqual(now + MARGIN_MS - 1);
    // Raising it to the export of another store below that margin leaves the margin.
    const below = { id: 4, horizon: used + 10 };
    expect(await transfer.importWorker(below, { ...request(), now })).toMatchObject({
      outcome: 'unchanged',
    });
    const [look] = await store.workerLeases().inspect([4], Date.now(), MARGIN_MS);
    expect((look as { floor: number }).floor).toBeGreaterThanOrEqual(now + MARGIN_MS);
    // A hold's base (what a release settles no lower than) includes it too.
    const hold = { id: 5, horizon: used + 10, holder: holderOf('elsewhere') };
    expect((await transfer.importWorker(hold, { ...request(), now })).outcome).toBe('held');
    expect(await transfer.releaseImported(5, used + 20)).toBe('released');
    const claim = await store.workerLeases().claim(5, claimOf('new-node', now));
    expect(claim).toMatchObject({ kind: 'claimed', margin: false });
    expect((claim as { floor: number }).floor).toBeGreaterThanOrEqual(now + MARGIN_MS);
  });
});
