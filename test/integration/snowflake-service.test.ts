/**
 * Snowflake tags end to end: two real service processes on one Redis, each leasing its
 * own worker ID, 20 000 IDs each drawn concurrently through the HTTP API; and the first
 * ID of a fresh embedded store, served at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import { testPrefix } from '../support/prefix.js';
import {
  runServiceToExit,
  startServiceProcess,
  type ServiceProcess,
} from '../support/service-process.js';
import { testStore } from '../support/store.js';
import { storeSettings } from '../../src/config/options.js';

const redisUrl = inject('redisUrl');
const running: ServiceProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.dispose()));
});

/** GETs until the answer is not a 503 (a fresh worker ID waits out its fence). */
async function firstServed(base: string, path: string, deadlineMs: number): Promise<Response> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await fetch(base + path);
    if (res.status !== 503 || Date.now() > deadline) return res;
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('snowflake tags through the service', () => {
  it('serves 20 000 IDs from each of two nodes concurrently: all unique, each node increasing', async () => {
    const keyPrefix = testPrefix();
    const store = testStore(redisUrl, keyPrefix);
    try {
      await store.createTag({
        name: 'events',
        mode: 'snowflake',
        step: 1,
        start: 0n,
        max: 2n ** 63n - 1n,
        gap: 0n,
        description: '',
      });
    } finally {
      await store.close();
    }
    const env = {
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      // A fresh worker ID is fenced for one lease: keep it short here.
      SNOWFLAKE_LEASE_MS: '3000',
    };
    const nodes = await Promise.all([startServiceProcess(env), startServiceProcess(env)]);
    running.push(...nodes);

    // Ready once a worker ID is held; snowflake IDs flow once its fence has passed.
    for (const n of nodes) {
      expect((await fetch(`${n.base}/readyz`)).status).toBe(200);
      const first = await firstServed(n.base, '/v1/ids/events', 15_000);
      expect(first.status).toBe(200);
      await first.body?.cancel();
    }

    const perNode = 20_000;
    const batch = 250;
    const drawn = await Promise.all(
      nodes.map(async (n) => {
        const ids: bigint[] = [];
        while (ids.length < perNode) {
          const res = await fetch(`${n.base}/v1/ids/events?count=${batch}`);
          expect(res.status).toBe(200);
          const body = (await res.json()) as { tag: string; ids: string[] };
          expect(body.tag).toBe('events');
          ids.push(...body.ids.map(BigInt));
        }
        return ids;
      }),
    );

    const all = new Set<bigint>();
    const workers = new Set<number>();
    for (const ids of drawn) {
      expect(ids).toHaveLength(perNode);
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
      for (const id of ids) all.add(id);
      workers.add(Number((ids[0]! >> 12n) & 1023n));
    }
    expect(all.size).toBe(2 * perNode);
    expect(workers.size).toBe(2); // each node leased its own worker ID

    // The decode route takes a served ID apart with the node's worker ID.
    const sample = drawn[0]![0]!;
    const decoded = (await (await fetch(`${nodes[1]!.base}/v1/snowflake/${sample}`)).json()) as {
      workerId: number;
    };
    expect(decoded.workerId).toBe(Number((sample >> 12n) & 1023n));
  });
});

describe('one snowflake layout per store', () => {
  it('refuses to start a node whose epoch differs from the one the store records', async () => {
    const keyPrefix = testPrefix();
    const env = { REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, SNOWFLAKE_LEASE_MS: '3000' };
    running.push(await startServiceProcess(env)); // records the default layout
    const moved = await runServiceToExit({ ...env, SNOWFLAKE_EPOCH: '2025-01-01T00:00:00Z' });
    expect(moved.code).toBe(1);
    expect(moved.stderr.trim().split('\n')).toHaveLength(1);
    expect(moved.stderr).toMatch(
      /snowflake layout epoch=2025-01-01T00:00:00.000Z bits=41\/10\/12 differs from epoch=2024-01-01T00:00:00.000Z bits=41\/10\/12/,
    );
  });
});

describe('the first snowflake ID on a fresh embedded store', () => {
  it('is served right after the node is ready, with no wait for a fence', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-first-flake-'));
    try {
      const store = openStore(storeSettings(loadConfig({ DATA_DIR: dataDir })));
      await store.createTag({
        name: 'events',
        mode: 'snowflake',
        step: 1,
        start: 0n,
        max: 2n ** 63n - 1n,
        gap: 0n,
        description: '',
      });
      await store.close();
      // The default lease (30 s): on Redis a fresh worker ID would answer 503 that long.
      const node = await startServiceProcess({ DATA_DIR: dataDir });
      running.push(node);
      const before = Date.now();
      expect((await fetch(`${node.base}/readyz`)).status).toBe(200);
      const res = await fetch(`${node.base}/v1/ids/events`);
      const body = (await res.json()) as { id?: string; error?: unknown };
      expect({ status: res.status, error: body.error }).toEqual({ status: 200, error: undefined });
      // Its timestamp is now, not a lease ahead (default layout: 2024 epoch, 22 low bits).
      const ts = Number(BigInt(body.id!) >> 22n) + Date.UTC(2024, 0, 1);
      expect(ts).toBeGreaterThanOrEqual(before - 60_000);
      expect(ts).toBeLessThanOrEqual(Date.now());
      const leaf = await fetch(`${node.base}/api/snowflake/get/events`);
      expect(leaf.status).toBe(200);
      expect(BigInt(await leaf.text()) > BigInt(body.id!)).toBe(true);
      // The status the page shows: this store, this worker ID, fenced from now.
      const status = (await (await fetch(`${node.base}/v1/status`)).json()) as {
        store: unknown;
        snowflake: { workerId: number | null; floor: string; ready: boolean };
        tags: { name: string; mode: string; issued: number }[];
      };
      expect(status.store).toEqual({ kind: 'embedded', up: true, durable: true });
      expect(status.snowflake.workerId).toBe(Number((BigInt(body.id!) >> 12n) & 1023n));
      expect(status.snowflake.ready).toBe(true);
      expect(Date.parse(status.snowflake.floor)).toBeLessThanOrEqual(ts);
      expect(status.tags).toEqual([
        expect.objectContaining({ name: 'events', mode: 'snowflake', issued: 2 }),
      ]);
    } finally {
      await Promise.all(running.splice(0).map((s) => s.dispose()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
