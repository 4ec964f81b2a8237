/**
 * A node always exits: SIGTERM ends a real service process within its 10 s bound, with
 * exit 0 and its snowflake worker lease released in the store, even when the reader of
 * its stdout (a log shipper, a pipe to `head`) died — and its stderr's with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { WorkerLook } from '../../src/core/lease-port.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { testPrefix } from '../support/prefix.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { testStore } from '../support/store.js';

const redisUrl = inject('redisUrl');
/** The shutdown bound of src/service/main.ts (README: a node stops within 10 s; 11 s under WORKERS). */
const SHUTDOWN_LIMIT_MS = 10_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A store for the node, and how to look at a worker ID in it afterwards. */
interface StoreUnderTest {
  readonly env: Record<string, string>;
  look(worker: number): Promise<WorkerLook | undefined>;
}

function embedded(): StoreUnderTest {
  const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-exit-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  return {
    env: { DATA_DIR: dataDir },
    async look(worker) {
      const store = new EmbeddedStore({ dataDir });
      try {
        return (await store.workerLeases().inspect([worker], Date.now(), 0))[0];
      } finally {
        await store.close();
      }
    },
  };
}

function redis(): StoreUnderTest {
  const keyPrefix = testPrefix();
  return {
    env: { REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix },
    async look(worker) {
      const store = testStore(redisUrl, keyPrefix);
      const leases = store.openWorkerLeases(() => {});
      try {
        return (await leases.leases.inspect([worker], Date.now(), 0))[0];
      } finally {
        await leases.close();
        await store.close();
      }
    },
  };
}

/** The worker IDs the node's processes claimed, from their grant lines. */
function claimedWorkers(node: ServiceProcess): number[] {
  return node.logs.flatMap((l) => {
    const grant = l.grant as { kind?: string; worker?: number } | undefined;
    return l.msg === 'grant' && grant?.kind === 'worker' && grant.worker !== undefined
      ? [grant.worker]
      : [];
  });
}

describe.each<
  [string, string, () => StoreUnderTest, readonly ('stdout' | 'stderr')[], Record<string, string>]
>([
  ['the embedded store', 'stdout', embedded, ['stdout'] as const, {}],
  ['the embedded store', 'stdout and stderr', embedded, ['stdout', 'stderr'] as const, {}],
  ['Redis', 'stdout', redis, ['stdout'] as const, {}],
  ['the embedded store with WORKERS=2', 'stdout', embedded, ['stdout'] as const, { WORKERS: '2' }],
])('SIGTERM to a node on %s when the reader of its %s died', (_, __, store, streams, env) => {
  it('exits 0 within the bound and releases its worker lease', async () => {
    const s = store();
    const node = await startServiceProcess({ ...s.env, ...env }, 60_000);
    cleanups.push(() => node.dispose());
    const workerCount = Number(env.WORKERS ?? 1);
    // Under WORKERS the first listening line may come before the last worker's claim.
    const deadline = Date.now() + 30_000;
    while (claimedWorkers(node).length < workerCount && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const workers = claimedWorkers(node);
    expect(workers).toHaveLength(workerCount);
    // The reader goes away: every write to the pipe now fails with EPIPE.
    for (const name of streams) node.proc[name]?.destroy();
    // Nothing is logged in between: the first line to fail is the shutdown's own (once a
    // write failed, pino's own destination stopped writing, and that hid the hang).
    await new Promise((r) => setTimeout(r, 200));
    const signalledAt = Date.now();
    node.proc.kill('SIGTERM');
    const exit = await Promise.race([
      node.exited,
      new Promise((r) => setTimeout(() => r('still running'), SHUTDOWN_LIMIT_MS + 5_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_LIMIT_MS);
    for (const worker of workers) {
      expect(await s.look(worker)).toMatchObject({ id: worker, state: 'free' });
    }
  }, 60_000);
});
