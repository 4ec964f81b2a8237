/**
 * The service as real processes: start-up failures, two nodes on one Redis handing out
 * 50 000 unique IDs, and a SIGTERM under load that cuts no request off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { getOutcome as get, type Outcome } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import {
  runServiceToExit,
  startServiceProcess,
  type ServiceProcess,
} from '../support/service-process.js';
import { segmentTag, testStore } from '../support/store.js';

const redisUrl = inject('redisUrl');

const running: ServiceProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.dispose()));
});

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const p = await startServiceProcess(env);
  running.push(p);
  return p;
}

describe('service start-up', () => {
  it('stops with one line naming the variable when the configuration is invalid', async () => {
    const r = await runServiceToExit({ REDIS_URL: redisUrl, MAX_BATCH: 'lots' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'invalid configuration: MAX_BATCH="lots": expected an integer from 1 to 1000000\n',
    );
    expect(r.stdout).toBe('');
  });

  it('stops with one line when the store cannot be opened', async () => {
    // No Redis setting, and a DATA_DIR that cannot be a directory (it is under a file).
    const r = await runServiceToExit({ DATA_DIR: '/dev/null/idalloc' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/REDIS_URL|DATA_DIR/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it('refuses to start on a store that can lose writes with REQUIRE_DURABLE_STORE=true', async () => {
    // The test Redis runs without AOF: it can lose acknowledged writes.
    const r = await runServiceToExit({ REDIS_URL: redisUrl, REQUIRE_DURABLE_STORE: 'true' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^REQUIRE_DURABLE_STORE=true but the store can lose acknowledged writes: .*(AOF|appendonly)/i,
    );
  });

  it('stops with one fatal line when its port is taken, having released its worker ID', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await runServiceToExit({
        REDIS_URL: redisUrl,
        KEY_PREFIX: testPrefix(),
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      const fatal = lines.filter((l) => l.level === 60);
      expect(fatal.map((l) => l.msg)).toEqual([`cannot listen on 127.0.0.1:${port}`]);
      // The lease it claimed is given back before it exits, not left to expire.
      expect(lines.some((l) => l.msg === 'released snowflake worker ID')).toBe(true);
    } finally {
      taken.close();
    }
  });

  it('starts on such a store with a warning and idalloc_store_durable 0 otherwise', async () => {
    const node = await start({ REDIS_URL: redisUrl, KEY_PREFIX: testPrefix() });
    const warning = node.logs.find((l) => String(l.msg).startsWith('the store can lose'));
    expect(warning?.level).toBe(40);
    const text = await (await fetch(`${node.base}/metrics`)).text();
    expect(text).toMatch(/^idalloc_store_durable 0$/m);
  });

  it('says first that the embedded store serves one host only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idalloc-http-'));
    try {
      const node = await start({ DATA_DIR: dir });
      expect(node.logs[0]).toMatchObject({ level: 40 });
      expect(String(node.logs[0]!.msg)).toMatch(/serves this host only.*set REDIS_URL/);
      const text = await (await fetch(`${node.base}/metrics`)).text();
      expect(text).toMatch(/^idalloc_store_durable 1$/m);
      await node.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('snowflake tags in the service', () => {
  it('serves them with a leased worker ID that metrics and decoding agree on', async () => {
    const keyPrefix = testPrefix();
    const store = testStore(redisUrl, keyPrefix);
    await store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
    await store.close();
    // A fresh worker ID waits out one lease length (its fence) before it issues IDs.
    const node = await start({
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      SNOWFLAKE_LEASE_MS: '3000',
    });
    // Ready as soon as a worker ID is held; snowflake IDs answer 503 until its fence passes.
    expect((await fetch(`${node.base}/readyz`)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let res = await fetch(`${node.base}/v1/ids/flake?count=3`);
    while (res.status === 503) {
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      if (Date.now() > deadline) throw new Error('the fence did not pass within 10 s');
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${node.base}/v1/ids/flake?count=3`);
    }
    const { ids } = (await res.json()) as { ids: string[] };
    expect(BigInt(ids[0]!) < BigInt(ids[1]!) && BigInt(ids[1]!) < BigInt(ids[2]!)).toBe(true);
    const leaf = await (await fetch(`${node.base}/api/snowflake/get/flake`)).text();
    expect(BigInt(leaf) > BigInt(ids[2]!)).toBe(true);
    const decoded = (await (await fetch(`${node.base}/v1/snowflake/${leaf}`)).json()) as {
      workerId: number;
      timestamp: number;
    };
    expect(Math.abs(decoded.timestamp - Date.now())).toBeLessThan(60_000);
    const metrics = await (await fetch(`${node.base}/metrics`)).text();
    expect(metrics).toContain(`\nidalloc_snowflake_worker_id ${decoded.workerId}\n`);
    expect(metrics).toMatch(/idalloc_ids_issued_total\{tag="flake",mode="snowflake"\} 4/);
  });
});

describe('two service processes on one Redis', () => {
  it('hand out 50 000 IDs, singles and batches mixed, all unique', async () => {
    const keyPrefix = testPrefix();
    const store = testStore(redisUrl, keyPrefix);
    await store.createTag(segmentTag('order', { step: 100 }));
    await store.close();
    const env = { REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix };
    const nodes = await Promise.all([start(env), start(env)]);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const seen = new Set<string>();
    let total = 0;
    let request = 0;
    const worker = async () => {
      while (total < 50_000) {
        const n = request++;
        const node = nodes[n % 2]!;
        const count = n % 3 === 0 ? 1 + (n % 200) : undefined;
        const a = await get(agent, node.port, `/v1/ids/order${count ? `?count=${count}` : ''}`);
        if (a.kind !== 'answer' || a.status !== 200) throw new Error(JSON.stringify(a));
        const body = JSON.parse(a.body) as { id?: string; ids?: string[] };
        const ids = body.ids ?? [body.id!];
        expect(ids).toHaveLength(count ?? 1);
        for (const id of ids) seen.add(id);
        total += ids.length;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    agent.destroy();
    expect(total).toBeGreaterThanOrEqual(50_000);
    expect(seen.size).toBe(total);
  }, 120_000);
});

describe('SIGTERM under load', () => {
  it('finishes every request in flight, refuses new ones cleanly, and exits 0', async () => {
    const redis = await RedisServer.start({ args: ['--enable-debug-command', 'yes'] });
    try {
      const keyPrefix = testPrefix();
      const store = testStore(redis.url, keyPrefix);
      await store.createTag(segmentTag('order', { step: 50 }));
      await store.close();
      const node = await start({ REDIS_URL: redis.url, KEY_PREFIX: keyPrefix });
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const outcomes: { outcome: Outcome; afterSignal: boolean }[] = [];
      let signalled = false;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const outcome = await get(agent, node.port, '/v1/ids/order');
          outcomes.push({ outcome, afterSignal: signalled });
          if (outcome.kind === 'error' && outcome.code === 'ECONNREFUSED') stop = true;
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, worker));
      while (outcomes.length < 500) await new Promise((r) => setTimeout(r, 10));

      // Block Redis for a second, then ask for a range: that request is in flight at the
      // server, waiting on Redis, when the signal arrives.
      const blocker = new Redis(redis.url);
      await blocker.ping();
      const sleeping = blocker.call('DEBUG', 'SLEEP', '1.5');
      await new Promise((r) => setTimeout(r, 50));
      const slow = get(agent, node.port, '/v1/ranges/order?size=10').then((outcome) => ({
        outcome,
        at: Date.now(),
      }));
      await new Promise((r) => setTimeout(r, 200));
      const signalledAt = Date.now();
      signalled = true;
      node.proc.kill('SIGTERM');

      const { outcome: slowAnswer, at: slowAt } = await slow;
      const exit = await node.exited;
      stop = true;
      await load;
      await sleeping;
      blocker.disconnect();
      agent.destroy();

      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(slowAnswer).toMatchObject({ kind: 'answer', status: 200 });
      expect(slowAt).toBeGreaterThan(signalledAt);
      expect((slowAnswer as { headers: Record<string, unknown> }).headers.connection).toBe('close');

      const answers = outcomes.filter((o) => o.outcome.kind === 'answer');
      for (const { outcome } of answers) expect(outcome).toMatchObject({ status: 200 });
      expect(answers.some((o) => o.afterSignal)).toBe(true);
      // Failures only at the connection, only after the signal, never mid-response.
      for (const { outcome, afterSignal } of outcomes.filter((o) => o.outcome.kind === 'error')) {
        expect(afterSignal).toBe(true);
        expect(outcome).toMatchObject({ afterResponse: false });
        expect(['ECONNREFUSED', 'ECONNRESET']).toContain((outcome as { code: string }).code);
      }
      expect(
        outcomes.some((o) => o.outcome.kind === 'error' && o.outcome.code === 'ECONNREFUSED'),
      ).toBe(true);
      const messages = node.logs.map((l) => l.msg);
      expect(messages).toContain('shutting down: draining requests');
      expect(messages).toContain('shut down');
    } finally {
      await redis.dispose();
    }
  }, 60_000);
});
