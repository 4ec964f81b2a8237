/**
 * A file-level restore of the embedded store never repeats an ID (docs/design.md §8.1,
 * README "Restore the embedded store"): a copy taken while stopped and restored, a copy
 * of `idalloc.db` without its `-wal` taken while serving and restored, an older copy
 * renamed over the file while a process runs and opened by a second one — each is found
 * not to be the file last written (the witness beside it says so), takes a new
 * incarnation, and each tag skips its gap. Real service processes; every ID ledgered.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { find, parseExposition } from '../support/http.js';
import { IdLedger } from '../support/ledger.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';

const GAP = 1_000_000n;
const SUFFIXES = ['', '-wal', '-shm'] as const;

let dataDir: string;
let backupDir: string;
let dbPath: string;
const services: ServiceProcess[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-restore-'));
  backupDir = mkdtempSync(join(tmpdir(), 'idalloc-restore-copy-'));
  dbPath = join(dataDir, 'idalloc.db');
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.dispose()));
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(backupDir, { recursive: true, force: true });
});

/** A store holding `order` (step 100, gap 10^6), closed again. */
async function seed(): Promise<void> {
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order', { step: 100, gap: GAP }));
  await store.close();
}

async function start(): Promise<ServiceProcess> {
  const svc = await startServiceProcess({ DATA_DIR: dataDir }, 60_000);
  services.push(svc);
  return svc;
}

async function stop(svc: ServiceProcess): Promise<void> {
  svc.proc.kill('SIGTERM');
  expect(await svc.exited).toMatchObject({ code: 0 });
}

/**
 * Batches of IDs and client ranges from `svc`, each ID into the ledger, until one answer
 * is not a 200; returns how many answers were 200.
 */
async function draw(svc: ServiceProcess, ledger: IdLedger, rounds: number): Promise<number> {
  let served = 0;
  for (let i = 0; i < rounds; i++) {
    const ids = await fetch(`${svc.base}/v1/ids/order?count=40`);
    if (ids.status !== 200) return served;
    ledger.add('order', ((await ids.json()) as { ids: string[] }).ids.map(BigInt));
    const range = await fetch(`${svc.base}/v1/ranges/order?size=30`);
    if (range.status !== 200) return served;
    const r = (await range.json()) as { start: string; end: string };
    ledger.addRange('order', BigInt(r.start), BigInt(r.end));
    served += 2;
  }
  return served;
}

/** Copies the store's files that exist (of `suffixes`) to the backup directory. */
function copyOut(suffixes: readonly string[]): void {
  for (const s of suffixes) {
    if (existsSync(dbPath + s)) copyFileSync(dbPath + s, join(backupDir, `idalloc.db${s}`));
  }
}

/** The store's files replaced by the backup's, the witness left where it is. */
function restore(): void {
  for (const s of SUFFIXES) rmSync(dbPath + s, { force: true });
  for (const s of SUFFIXES) {
    const copy = join(backupDir, `idalloc.db${s}`);
    if (existsSync(copy)) copyFileSync(copy, dbPath + s);
  }
}

/** The node found the file restored, skipped the gap, and logged and counted it. */
async function expectRestoreSeen(svc: ServiceProcess): Promise<void> {
  const seen = svc.logs.filter((l) => String(l.msg).includes('is not the file last written here'));
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({ level: 40, file: dbPath });
  const metrics = parseExposition(await (await fetch(`${svc.base}/metrics`)).text());
  const skipped = find(metrics, 'idalloc_ids_skipped_total', {
    tag: 'order',
    reason: 'incarnation_jump',
  });
  expect(skipped[0]?.value).toBe(Number(GAP));
  // The grant line of the jump names the skip and the file's new incarnation.
  const grants = svc.logs
    .filter((l) => l.msg === 'grant')
    .map((l) => l.grant as Record<string, unknown>);
  const jumped = grants.filter((g) => g.skipped !== undefined);
  expect(jumped).toHaveLength(1);
  expect(jumped[0]).toMatchObject({
    skipped: String(GAP),
    incarnation: seen[0]!.incarnation,
  });
  expect(String(seen[0]!.incarnation)).toMatch(/^embedded:[0-9a-f]{16}$/);
}

describe('a file-level restore of the embedded store', () => {
  it('of a copy taken while stopped: the restored file skips its gap, 0 repeats', async () => {
    await seed();
    const ledger = new IdLedger();
    const a = await start();
    expect(await draw(a, ledger, 10)).toBe(20);
    await stop(a);
    copyOut(SUFFIXES);
    const again = await start();
    expect(await draw(again, ledger, 10)).toBe(20);
    await stop(again);
    restore();
    const b = await start();
    expect(await draw(b, ledger, 10)).toBe(20);
    expect(ledger.overlaps()).toEqual([]);
    expect(ledger.count('order')).toBe(30n * 70n);
    await expectRestoreSeen(b);
  }, 240_000);

  it('of idalloc.db copied without its -wal while serving: 0 repeats', async () => {
    await seed();
    const ledger = new IdLedger();
    const a = await start();
    expect(await draw(a, ledger, 10)).toBe(20);
    // What `cp idalloc.db` takes from a running store: the main file alone, which holds
    // only what was checkpointed into it.
    copyOut(['']);
    expect(await draw(a, ledger, 10)).toBe(20);
    await stop(a);
    restore();
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    const b = await start();
    expect(await draw(b, ledger, 10)).toBe(20);
    expect(ledger.overlaps()).toEqual([]);
    expect(ledger.count('order')).toBe(30n * 70n);
    await expectRestoreSeen(b);
  }, 240_000);

  it('of an older copy renamed over the file while a process runs, opened by a second process: 0 repeats', async () => {
    await seed();
    // The older copy: the store as seeded (a consistent copy of a stopped store).
    copyOut(SUFFIXES);
    const ledger = new IdLedger();
    const a = await start();
    expect(await draw(a, ledger, 10)).toBe(20);
    renameSync(join(backupDir, 'idalloc.db'), dbPath);
    // The first process serves what it holds, then refuses: the file is not its own.
    expect(await draw(a, ledger, 1000)).toBeLessThan(2000);
    const b = await start();
    expect(await draw(b, ledger, 10)).toBe(20);
    expect(await draw(a, ledger, 1)).toBe(0);
    expect(ledger.overlaps()).toEqual([]);
    await expectRestoreSeen(b);
  }, 240_000);
});

describe('a restored file in the store itself', () => {
  it('fences a snowflake worker ID whose horizon it holds by the margin, the look included', async () => {
    const store = new EmbeddedStore({ dataDir });
    const leases = store.workerLeases();
    const claim = (now: number) => ({
      token: 't',
      leaseMs: 3000,
      now,
      aheadMs: 2000,
      marginMs: 60_000,
      maxWaitMs: 120_000,
    });
    const t0 = Date.now();
    expect(await leases.claim(0, claim(t0))).toMatchObject({ kind: 'claimed', margin: false });
    await leases.release(0, 't', t0 + 1);
    await store.close();
    copyOut(SUFFIXES);
    const later = new EmbeddedStore({ dataDir });
    const used = Date.now();
    const held = await later.workerLeases().claim(0, { ...claim(used), token: 'u' });
    expect(held).toMatchObject({ kind: 'claimed', margin: false });
    await later.workerLeases().release(0, 'u', used + 5000);
    await later.close();
    restore();
    const restored = new EmbeddedStore({ dataDir });
    const now = Date.now();
    // The look already sees the file as restored; the claim waits the margin.
    const [look] = await restored.workerLeases().inspect([0], now, 60_000);
    expect(look).toMatchObject({ state: 'free', floor: expect.any(Number) });
    expect((look as { floor: number }).floor).toBeGreaterThanOrEqual(now + 60_000);
    const after = await restored.workerLeases().claim(0, { ...claim(now), token: 'v' });
    expect(after).toMatchObject({ kind: 'claimed', margin: true });
    expect((after as { floor: number }).floor).toBeGreaterThan(used + 5000);
    await restored.close();
  });

  it('takes a file of an idalloc from before the guard as of unknown incarnation: each tag skips its gap once', async () => {
    await seed();
    const old = new DatabaseSync(dbPath);
    old.exec('DROP TABLE meta');
    old.exec('ALTER TABLE tags DROP COLUMN incarnation');
    old.exec('ALTER TABLE worker_horizons DROP COLUMN incarnation');
    old.exec('PRAGMA user_version = 1');
    old.close();
    const store = new EmbeddedStore({ dataDir });
    const first = await store.allocate('order', 0, false);
    expect(first).toMatchObject({ start: 1n + GAP, bumped: true, skipped: GAP });
    expect(await store.allocate('order', 0, false)).toMatchObject({
      start: 101n + GAP,
      bumped: false,
      skipped: 0n,
      incarnation: first.incarnation,
    });
    await store.close();
  });

  it('a witness one write ahead (a crash before COMMIT) or missing costs one gap, nothing more', async () => {
    await seed();
    const store = new EmbeddedStore({ dataDir });
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1n, bumped: false });
    const witness = join(dataDir, 'idalloc.witness');
    const w = JSON.parse(readFileSync(witness, 'utf8')) as { generation: number };
    // What a process killed between the witness and its COMMIT leaves.
    writeFileSync(witness, JSON.stringify({ ...w, generation: w.generation + 1 }));
    expect(await store.allocate('order', 0, false)).toMatchObject({
      start: 101n + GAP,
      skipped: GAP,
    });
    expect(await store.allocate('order', 0, false)).toMatchObject({
      start: 201n + GAP,
      bumped: false,
    });
    rmSync(witness);
    expect(await store.allocate('order', 0, false)).toMatchObject({
      start: 301n + 2n * GAP,
      skipped: GAP,
    });
    expect(await store.allocate('order', 0, false)).toMatchObject({ bumped: false });
    await store.close();
  });

  it('a refused write leaves the witness as it was: a later grant does not jump', async () => {
    await seed();
    const store = new EmbeddedStore({ dataDir });
    await expect(store.allocate('nope', 0, false)).rejects.toMatchObject({
      code: 'TAG_NOT_FOUND',
    });
    await expect(store.createTag(segmentTag('order'))).rejects.toMatchObject({
      code: 'TAG_EXISTS',
    });
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1n, bumped: false });
    await store.close();
  });
});
