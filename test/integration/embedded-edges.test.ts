/**
 * The embedded store at its edges, in a real service process (README "Stores →
 * Embedded"): on a full disk `/v1/ids` answers 503 naming the cause, as `/v1/ranges`
 * does; after the file is deleted, the snowflake worker shows as not minting at once and
 * the lease loop logs one line, without a stack, not one a second.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, type PathLike } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { pause, waitUntil } from '../support/wait.js';

const services: ServiceProcess[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.dispose()));
  for (const c of cleanups.splice(0).reverse()) c();
});

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const svc = await startServiceProcess(env, 60_000);
  services.push(svc);
  return svc;
}

async function get(svc: ServiceProcess, path: string) {
  const res = await fetch(svc.base + path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Writes to `path` until the filesystem has no room left. */
function fill(path: PathLike): void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(path, 'w');
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('the embedded store on a full disk', () => {
  it('answers /v1/ids with 503 naming the cause, as /v1/ranges does, and costs no gap once it has room', async () => {
    // A filesystem of its own, small enough to fill: a tmpfs (the tests run as root).
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-full-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dataDir]);
    cleanups.push(() => execFileSync('umount', [dataDir]));
    const seed = new EmbeddedStore({ dataDir });
    await seed.createTag(segmentTag('order', { step: 10 }));
    await seed.close();
    const svc = await start({ DATA_DIR: dataDir, FETCH_TIMEOUT_MS: '1000' });
    expect((await get(svc, '/v1/ids/order?count=5')).status).toBe(200);
    fill(join(dataDir, 'filler'));

    let last = await get(svc, '/v1/ids/order?count=10');
    for (let i = 0; i < 5000 && last.status === 200; i++) {
      last = await get(svc, '/v1/ids/order?count=10');
    }
    expect(last.status).toBe(503);
    const ids = (last.body.error as { code: string; message: string }).message;
    // In our words: SQLite's own ("database or disk is full") is for the log only.
    expect(ids).toMatch(/^no IDs for tag 'order' within 1000 ms: .*\(the disk is full\)$/);
    expect(ids).not.toContain('did not grant a segment in time');
    const ranges = await get(svc, '/v1/ranges/order?size=10');
    expect(ranges.status).toBe(503);
    expect((ranges.body.error as { message: string }).message).toContain('(the disk is full)');

    // Room again: it serves again, and its failed commits left the witness as it was
    // (put back before the rollback), so no tag skips its gap.
    rmSync(join(dataDir, 'filler'));
    await waitUntil(
      async () => (await get(svc, '/v1/ids/order?count=10')).status === 200,
      'IDs once the disk has room',
      30_000,
    );
    expect(svc.logs.filter((l) => String(l.msg).includes('not the file last written'))).toEqual([]);
  }, 120_000);
});

describe('the embedded store file deleted under a snowflake node', () => {
  it('shows the worker as not minting at once, and the lease loop logs one line without a stack', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-gone-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const seed = new EmbeddedStore({ dataDir });
    await seed.createTag({ ...segmentTag('events'), mode: 'snowflake' });
    await seed.close();
    // The default lease (30 s): its horizon lies about 29 s ahead, so only the check of
    // the file can turn the worker red within the first seconds.
    const svc = await start({ DATA_DIR: dataDir });
    expect((await get(svc, '/v1/ids/events')).status).toBe(200);
    expect((await get(svc, '/v1/status')).body.snowflake).toMatchObject({ ready: true });

    const dbPath = join(dataDir, 'idalloc.db');
    for (const s of ['', '-wal', '-shm']) rmSync(dbPath + s, { force: true });
    const status = (await get(svc, '/v1/status')).body.snowflake as Record<string, unknown>;
    expect(status).toMatchObject({
      workerId: expect.any(Number),
      ready: false,
      reason: expect.stringContaining('lease is gone (its file was deleted or replaced)'),
    });
    expect((await get(svc, '/v1/ids/events')).status).toBe(503);

    // The next renewal (a third of the lease) fails; then it is retried every second.
    const renewals = () => svc.logs.filter((l) => String(l.msg).startsWith('cannot renew'));
    await waitUntil(() => renewals().length > 0, 'the first failed renewal', 30_000);
    await pause(5000);
    expect(renewals()).toHaveLength(1);
    expect(renewals()[0]).toMatchObject({ level: 40, error: { code: 'UNAVAILABLE' } });
    expect(JSON.stringify(svc.logs)).not.toMatch(/\\n\s+at /);
  }, 120_000);
});
