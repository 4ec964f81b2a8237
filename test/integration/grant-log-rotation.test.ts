/**
 * GRANT_LOG in a real service process: SIGHUP (logrotate's `postrotate kill -HUP`)
 * reopens it — after a rename-and-delete rotation the grant lines go to the new file —
 * and does not stop the node, also under WORKERS=2 (the primary passes it on; each worker
 * writes as NODE_ID/w<k>); a grant log that cannot be written (/dev/full) serves no ID:
 * 503 naming the grant log, not ready, one log line saying so.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { waitUntil } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A data directory with tag `order` (step 10), and a file path for GRANT_LOG. */
async function setup(): Promise<{ dataDir: string; grantLog: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-rotation-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order', { step: 10 }));
  await store.close();
  return { dataDir, grantLog: join(dataDir, 'grants.log') };
}

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const node = await startServiceProcess(env, 60_000);
  cleanups.push(() => node.dispose());
  return node;
}

/** The grant objects of a GRANT_LOG file. */
function grantsIn(file: string): { kind: string; node: string; start?: string }[] {
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { msg: string; grant?: { kind: string; node: string } })
    .flatMap((l) => (l.msg === 'grant' && l.grant ? [l.grant] : []));
}

/**
 * IDs on a fresh connection (under WORKERS, the primary hands each to a worker in turn);
 * a count far above the step is a batch: a grant of its own.
 */
async function draw(node: ServiceProcess, count = 1000): Promise<void> {
  const res = await fetch(`${node.base}/v1/ids/order?count=${count}`, {
    headers: { connection: 'close' },
  });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

/** Renames the file away and deletes it, as a rotation without copytruncate does. */
function rotate(file: string): void {
  renameSync(file, `${file}.1`);
  unlinkSync(`${file}.1`);
}

describe('SIGHUP', () => {
  it('reopens GRANT_LOG after a rename-and-delete rotation and keeps serving', async () => {
    const { dataDir, grantLog } = await setup();
    const node = await start({ DATA_DIR: dataDir, GRANT_LOG: grantLog, NODE_ID: 'node-a' });
    await draw(node, 5);
    expect(grantsIn(grantLog).some((g) => g.kind === 'segment')).toBe(true);
    rotate(grantLog);
    node.proc.kill('SIGHUP');
    await waitUntil(
      () => node.logs.some((l) => l.msg === 'SIGHUP: reopened GRANT_LOG'),
      'the reopen',
    );
    await draw(node);
    // The node lives on, and the grant went to the file now at the path.
    expect(node.proc.exitCode).toBeNull();
    const after = grantsIn(grantLog);
    expect(after).toContainEqual(expect.objectContaining({ kind: 'batch', node: 'node-a' }));
    expect(after.every((g) => g.kind !== 'worker')).toBe(true); // the old lines went with the old file
    expect((await fetch(`${node.base}/readyz`)).status).toBe(200);
  }, 60_000);

  it('does not stop a node without GRANT_LOG', async () => {
    const { dataDir } = await setup();
    const node = await start({ DATA_DIR: dataDir });
    node.proc.kill('SIGHUP');
    await waitUntil(
      () => node.logs.some((l) => String(l.msg).startsWith('SIGHUP: nothing to reopen')),
      'the SIGHUP line',
    );
    await draw(node);
    expect(node.proc.exitCode).toBeNull();
  }, 60_000);

  it('reaches every worker under WORKERS=2, each writing as NODE_ID/w<k>', async () => {
    const { dataDir, grantLog } = await setup();
    const node = await start({
      DATA_DIR: dataDir,
      GRANT_LOG: grantLog,
      NODE_ID: 'node-b',
      WORKERS: '2',
    });
    // Both workers claimed a snowflake worker ID at start, each under its own name.
    await waitUntil(
      () => new Set(grantsIn(grantLog).map((g) => g.node)).size === 2,
      'two workers in the grant log',
    );
    const names = [...new Set(grantsIn(grantLog).map((g) => g.node))].sort();
    expect(names).toEqual([
      expect.stringMatching(/^node-b\/w\d+$/),
      expect.stringMatching(/^node-b\/w\d+$/),
    ]);
    rotate(grantLog);
    node.proc.kill('SIGHUP');
    await waitUntil(
      () => node.logs.filter((l) => l.msg === 'SIGHUP: reopened GRANT_LOG').length === 2,
      'both workers reopening',
    );
    // Fresh connections reach both workers: both write to the new file.
    await waitUntil(async () => {
      await draw(node);
      return new Set(grantsIn(grantLog).map((g) => g.node)).size === 2;
    }, 'grant lines of both workers in the new file');
    expect(new Set(grantsIn(grantLog).map((g) => g.node))).toEqual(new Set(names));
    expect(node.proc.exitCode).toBeNull();
  }, 90_000);
});

describe('a grant log that cannot be written', () => {
  it('serves no ID: 503 naming the grant log, not ready, one log line', async () => {
    const { dataDir } = await setup();
    const node = await start({ DATA_DIR: dataDir, GRANT_LOG: '/dev/full' });
    // Each waits for a grant up to FETCH_TIMEOUT_MS (as in a store outage), then gets the cause.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${node.base}/v1/ids/order`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(
        /^the grant log cannot be written \(GRANT_LOG=\/dev\/full: cannot write to it: ENOSPC\)/,
      );
    }
    const ranges = await fetch(`${node.base}/v1/ranges/order?size=5`);
    expect(ranges.status).toBe(503);
    await ranges.body?.cancel();
    const ready = await fetch(`${node.base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { message: string } }).error.message).toMatch(
      /^not ready: .*GRANT_LOG=\/dev\/full: cannot write to it: ENOSPC/,
    );
    const said = node.logs.filter((l) => String(l.msg).startsWith('GRANT_LOG=/dev/full'));
    expect(said).toHaveLength(1);
    expect(said[0]).not.toHaveProperty('err');
  }, 60_000);
});
