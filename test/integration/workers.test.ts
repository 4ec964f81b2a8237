/**
 * WORKERS=2 as real processes: a node:cluster primary and two workers sharing one port.
 * Both workers draw concurrently and no ID repeats, on Redis and on the embedded store; /metrics is the node's (the sum of
 * both workers); /v1/status lists both workers under one node identity, whichever answers;
 * a killed worker is replaced; SIGTERM drains both and cuts nothing off.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodeSnowflake, createLayout } from '../../src/allocator/snowflake/layout.js';
import { find, getOutcome as get, parseExposition, type Outcome } from '../support/http.js';
import { OpenApiChecker } from '../support/openapi.js';
import { testPrefix } from '../support/prefix.js';
import {
  runServiceToExit,
  startServiceProcess,
  type ServiceProcess,
} from '../support/service-process.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { segmentTag, testStore } from '../support/store.js';
import { waitUntil } from '../support/wait.js';

const redisUrl = inject('redisUrl');

async function ok(agent: Agent, port: number, path: string): Promise<string> {
  const a = await get(agent, port, path);
  if (a.kind !== 'answer' || a.status !== 200) throw new Error(`${path}: ${JSON.stringify(a)}`);
  return a.body;
}

/** GETs until the answer is not a 503: a fresh snowflake worker ID waits out its fence. */
async function served(agent: Agent, port: number, path: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const a = await get(agent, port, path);
    if (a.kind === 'answer' && a.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (a.kind !== 'answer' || a.status !== 200) throw new Error(`${path}: ${JSON.stringify(a)}`);
    return a.body;
  }
}

const running: ServiceProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.dispose()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Pids of the workers that logged they listen, in order (replacements included). */
const workerPids = (node: ServiceProcess) =>
  node.logs
    .filter((l) => typeof l.worker === 'number' && String(l.msg).startsWith('listening'))
    .map((l) => l.pid as number);

/** Starts a WORKERS=2 node on a fresh store with a segment and a snowflake tag. */
async function startNode(kind: 'redis' | 'embedded' = 'redis'): Promise<ServiceProcess> {
  let env: Record<string, string>;
  let store: RedisStore | EmbeddedStore;
  if (kind === 'redis') {
    const keyPrefix = testPrefix();
    env = { REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix };
    store = testStore(redisUrl, keyPrefix);
  } else {
    // Both workers open the one file; SQLite's lock keeps their segments apart.
    const dataDir = await mkdtemp(join(tmpdir(), 'idalloc-workers-'));
    dirs.push(dataDir);
    env = { DATA_DIR: dataDir };
    store = new EmbeddedStore({ dataDir });
  }
  await store.createTag(segmentTag('order', { step: 100 }));
  await store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
  await store.close();
  const node = await startServiceProcess(
    // A fresh worker ID is fenced for one lease: keep it short here.
    { ...env, WORKERS: '2', SNOWFLAKE_LEASE_MS: '3000' },
    60_000,
  );
  running.push(node);
  const up = `listening on http://127.0.0.1:${node.port} with 2 workers`;
  await waitUntil(() => node.logs.some((l) => l.msg === up), 'both workers listening', 60_000);
  // Each process writes to the shared pipe on its own: a worker's own 'listening' line
  // can arrive after the primary's, which it caused.
  await waitUntil(() => workerPids(node).length >= 2, "both workers' own lines", 30_000);
  return node;
}

/** Draws `total` segment IDs over `concurrency` keep-alive connections; every ID. */
async function draw(agent: Agent, port: number, total: number, concurrency = 8): Promise<string[]> {
  const ids: string[] = [];
  let asked = 0;
  const loop = async () => {
    while (asked < total) {
      asked++;
      const body = JSON.parse(await ok(agent, port, '/v1/ids/order')) as { id: string };
      ids.push(body.id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return ids;
}

describe('WORKERS=2', () => {
  it.each(['redis', 'embedded'] as const)(
    'two workers draw concurrently, no ID repeats, and /metrics sums both (%s store)',
    async (kind) => {
      const node = await startNode(kind);
      expect(new Set(workerPids(node)).size).toBe(2);
      // One connection per request: the primary hands connections to the workers in turn.
      const agent = new Agent({ keepAlive: false, maxSockets: 16 });
      const ids = await draw(agent, node.port, 3000, 16);
      expect(ids).toHaveLength(3000);
      expect(new Set(ids).size).toBe(3000);

      // Snowflake IDs name the worker ID that issued them: both workers served, each with
      // a lease of its own.
      const flakes = await Promise.all(
        Array.from({ length: 200 }, async () =>
          served(agent, node.port, '/api/snowflake/get/flake'),
        ),
      );
      expect(new Set(flakes).size).toBe(200);
      const layout = createLayout();
      const workerIds = new Set(
        flakes.map((id) => decodeSnowflake(layout, id, Date.now() + 60_000).workerId),
      );
      expect(workerIds.size).toBe(2);

      // Whichever worker answers the scrape, it is the node's: the sum of both workers.
      for (let i = 0; i < 4; i++) {
        const e = parseExposition(await ok(agent, node.port, '/metrics'));
        const issued = (tag: string) => find(e, 'idalloc_ids_issued_total', { tag })[0]?.value;
        expect(issued('order')).toBe(3000);
        expect(issued('flake')).toBe(200);
        const served = find(e, 'http_request_duration_seconds_count', {
          route: '/v1/ids/:tag',
          status_code: '200',
        });
        expect(served.map((s) => s.value)).toEqual([3000]);
      }
      agent.destroy();
    },
    120_000,
  );

  it('/v1/status lists both workers, each labelled, under one node identity, on every poll', async () => {
    const node = await startNode();
    const pids = workerPids(node);
    const agent = new Agent({ keepAlive: false, maxSockets: 4 });
    await draw(agent, node.port, 200);
    const doc = JSON.parse(await ok(agent, node.port, '/openapi.json')) as Record<string, unknown>;
    const api = new OpenApiChecker(doc);
    type Status = {
      pid: number;
      node: { id: string; host: string; version: string; startedAt: string; workers: number };
      workers: { worker: number; pid: number; tags: { name: string; issued: number }[] }[];
    };
    // One connection per poll: the primary hands them to the workers in turn, so the polls
    // reach both workers; every answer is the same node with the same two workers.
    const answers: Status[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await get(agent, node.port, '/v1/status');
      if (a.kind !== 'answer') throw new Error(`/v1/status: ${JSON.stringify(a)}`);
      const headers = Object.entries(a.headers).map(([k, v]) => [k, String(v)] as [string, string]);
      const res = new Response(a.body, { status: a.status, headers });
      answers.push((await api.check(res, '/v1/status')).json as Status);
    }
    const first = answers[0]!;
    expect(first.node).toMatchObject({
      id: `${hostname()}:${node.proc.pid}`, // NODE_ID unset: the primary's hostname:pid
      host: hostname(),
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      workers: 2,
    });
    expect(first.workers.map((w) => w.worker)).toEqual([1, 2]);
    expect(first.workers.map((w) => w.pid).sort()).toEqual([...pids].sort());
    // Each worker's own numbers: the IDs drawn add up over the two.
    const issued = (a: Status) =>
      a.workers.map((w) => w.tags.find((t) => t.name === 'order')?.issued ?? 0);
    expect(issued(first).reduce((x, y) => x + y, 0)).toBe(200);
    for (const a of answers) {
      expect(a.node).toEqual(first.node);
      expect(a.workers.map((w) => [w.worker, w.pid])).toEqual(
        first.workers.map((w) => [w.worker, w.pid]),
      );
      // The top level is the answering worker's own.
      expect(pids).toContain(a.pid);
    }
    // The top level came from both workers in turn, yet the node and its workers never changed.
    expect(new Set(answers.map((a) => a.pid)).size).toBe(2);
    agent.destroy();
  }, 120_000);

  it('stops the node with exit 1 when a worker fails to start, as one process would', async () => {
    // The test Redis runs without AOF: every worker refuses it under REQUIRE_DURABLE_STORE.
    const r = await runServiceToExit(
      {
        REDIS_URL: redisUrl,
        KEY_PREFIX: testPrefix(),
        WORKERS: '2',
        REQUIRE_DURABLE_STORE: 'true',
      },
      60_000,
    );
    expect(r.code).toBe(1);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        role: 'primary',
        msg: 'a worker failed to start: stopping the node',
      }),
    );
    expect(lines.some((l) => l.msg === 'worker died: replacing it')).toBe(false);
  }, 90_000);

  it('a SIGTERM while the workers still start lets them start, then drains them: exit 0', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/service/main.ts'], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: redisUrl,
        KEY_PREFIX: testPrefix(),
        WORKERS: '2',
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let pending = '';
    proc.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        if (!part) continue;
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        // Told to stop the moment it forked its workers: neither listens yet.
        if (line.msg === 'starting 2 workers') proc.kill('SIGTERM');
      }
    });
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).toBe(0);
    const stopped = lines.filter((l) => l.msg === 'worker stopped');
    expect(stopped.map((l) => [l.code, l.signal])).toEqual([
      [0, null],
      [0, null],
    ]);
    expect(lines.filter((l) => l.msg === 'shut down' && l.role === 'primary')).toHaveLength(1);
  }, 90_000);

  it('replaces a killed worker and keeps every ID unique', async () => {
    const node = await startNode();
    const agent = new Agent({ keepAlive: false, maxSockets: 8 });
    const before = await draw(agent, node.port, 500);
    const [victim, survivor] = workerPids(node);
    process.kill(victim!, 'SIGKILL');
    await waitUntil(() => workerPids(node).length === 3, 'a replacement worker', 60_000);
    const replacement = workerPids(node)[2]!;
    expect([victim, survivor]).not.toContain(replacement);
    expect(node.logs.find((l) => l.msg === 'worker died: replacing it')).toMatchObject({
      pid: expect.any(Number),
      signal: 'SIGKILL',
    });
    const after = await draw(agent, node.port, 500);
    expect(new Set([...before, ...after]).size).toBe(1000);
    agent.destroy();
  }, 120_000);

  it('SIGTERM drains both workers: every request in flight answered, exit 0', async () => {
    const node = await startNode();
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const outcomes: { outcome: Outcome; afterSignal: boolean }[] = [];
    let signalled = false;
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const outcome = await get(agent, node.port, '/v1/ids/order');
        outcomes.push({ outcome, afterSignal: signalled });
        if (outcome.kind === 'error') stop = true;
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, loop));
    while (outcomes.length < 500) await new Promise((r) => setTimeout(r, 10));
    const signalledAt = Date.now();
    signalled = true;
    node.proc.kill('SIGTERM');
    const exit = await node.exited;
    stop = true;
    await load;
    agent.destroy();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(12_000);
    const answers = outcomes.filter((o) => o.outcome.kind === 'answer');
    for (const { outcome } of answers) expect(outcome).toMatchObject({ status: 200 });
    const ids = answers.map(
      (o) => (JSON.parse((o.outcome as { body: string }).body) as { id: string }).id,
    );
    expect(new Set(ids).size).toBe(ids.length);
    // Failures only at the connection, only after the signal, never mid-response.
    for (const { outcome, afterSignal } of outcomes.filter((o) => o.outcome.kind === 'error')) {
      expect(afterSignal).toBe(true);
      expect(outcome).toMatchObject({ afterResponse: false });
      expect(['ECONNREFUSED', 'ECONNRESET']).toContain((outcome as { code: string }).code);
    }
    const messages = node.logs.map((l) => l.msg);
    expect(messages.filter((m) => m === 'shutting down: draining requests')).toHaveLength(2);
    expect(messages.filter((m) => m === 'worker stopped')).toHaveLength(2);
    expect(messages.filter((m) => m === 'shut down')).toHaveLength(3); // 2 workers, primary
    // The primary ends after both workers stopped. Compared by the lines' times: the
    // primary's lines can reach the shared pipe in another order than they were made.
    const at = (l: Record<string, unknown>) => Date.parse(String(l.time));
    const primaryDone = node.logs.find((l) => l.role === 'primary' && l.msg === 'shut down');
    for (const stopped of node.logs.filter((l) => l.msg === 'worker stopped')) {
      expect(at(primaryDone!)).toBeGreaterThanOrEqual(at(stopped));
    }
  }, 120_000);

  it('its workers exit within moments of the primary being killed (SIGKILL), serving nothing', async () => {
    const node = await startNode();
    const pids = workerPids(node);
    expect(pids).toHaveLength(2);
    node.proc.kill('SIGKILL');
    await node.exited;
    const killedAt = Date.now();
    // Each worker exits once it sees its IPC channel to the primary close. What may stay
    // is a zombie (state Z) until init reaps it: it runs no code.
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false; // reaped
      }
    };
    await waitUntil(() => !pids.some(running), 'both workers to exit', 30_000, 20);
    // About 0.1-0.3 s measured (the README's figure); the bound is wide for a loaded host.
    expect(Date.now() - killedAt).toBeLessThan(5000);
    const agent = new Agent({ keepAlive: false });
    expect(await get(agent, node.port, '/v1/ids/order')).toMatchObject({
      kind: 'error',
      code: 'ECONNREFUSED',
    });
    agent.destroy();
  }, 120_000);
});
