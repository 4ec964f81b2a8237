/**
 * `npm run bench`: idalloc side by side with its baselines, in one run, on this machine.
 *
 * It starts what it needs (a redis-server on a free port, each server under test as a
 * process of its own pinned with `taskset` to one core while wrk and Redis run on the
 * other), then measures every contender with the same connections, warm-up and duration,
 * alternating them within each round, for several rounds (C, C128 and the shaped
 * contenders each beside a run of its base, which its target compares it with); it
 * reports medians and the spread, every target with its ratio and PASS/MISS, and writes
 * JSON and Markdown to bench-results/ (git-ignored).
 *
 *   npm run bench                  full run (3 rounds × 5 s per contender, ~8 minutes)
 *   npm run bench -- --quick       a one-minute look (3 rounds × 1 s, warm-up once)
 *   npm run bench -- --rounds 5 --seconds 5 --out DIR
 *   npm run bench -- --no-build    dist/ as it is
 *   npm run bench -- --only A,C,A128,C128 --rounds 9
 *                                  those contenders alone (more rounds for the same time),
 *                                  their targets only, no in-process runs
 *
 * Needs wrk, taskset and redis-server (it says how to install what is missing).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../test/support/redis-server.js';
import { testPrefix } from '../test/support/prefix.js';
import { segmentTag, testStore } from '../test/support/store.js';
import { counterLimit, newPermuteKey, type TagShape } from '../src/core/shape.js';
import { report, type ContenderResult, type Measured } from './bench-report.js';
import {
  redisCommands,
  requireTools,
  SERVICE_NODE_FLAGS,
  startPinned,
  stopAll,
  waitForOk,
  wrk,
  type WrkRun,
} from './bench-tools.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    out: { type: 'string', default: 'bench-results' },
    // dist/ as it is (built by hand): `npm run build` may reinstall node_modules first.
    'no-build': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const only = values.only?.split(',').map((s) => s.trim());
const quick = values.quick;
const rounds = Number(values.rounds ?? 3);
const seconds = Number(values.seconds ?? (quick ? 1 : 5));
const warmSeconds = quick ? 1 : 2;
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seconds) || seconds < 1) {
  console.error('--rounds and --seconds: expected integers of at least 1');
  process.exit(2);
}
requireTools();
// The servers under test run as `npm start` runs them: built JavaScript, no loader.
if (!values['no-build']) {
  console.log('bench: building dist/ (npm run build) …');
  if (spawnSync('npm', ['run', 'build'], { stdio: 'inherit' }).status !== 0) process.exit(1);
}

const cores = availableParallelism();
// One core for the server under test, the other for wrk, Redis and the proxy.
const SERVER = cores >= 2 ? '1' : '0';
const LOAD = '0';
const ALL = cores >= 2 ? '0,1' : '0';
/** wrk's connections for every contender but A128 and C128. */
const CONNECTIONS = 32;
/** The second load of A and C: many clients at once cost more per request than a few. */
const MANY_CONNECTIONS = 128;
const node = process.execPath;
const tsx = ['--import', 'tsx'];

process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly url: string;
  /** IDs per request. */
  readonly count: number;
  /** Where wrk runs, with how many threads and connections. */
  readonly load: string;
  readonly threads: number;
  readonly connections: number;
  /** Counted in Redis commands per million IDs. */
  readonly redis: boolean;
  /** The server's one process, whose CPU time per request is measured (not W1/W2). */
  readonly pid: number | undefined;
}

/**
 * Shaped tags beside plain on the single-ID route (issue 19: each within 5 % of C). One
 * entry per shape: the tag (created in every idalloc server's prefix, next to `bench`),
 * served by C's server at C's load as contender `C-<id>`, with the target
 * `C-<id> ≥ 0.95 × C` (bench-report.ts).
 */
const shapedTag = (name: string, shape: TagShape) => ({
  ...segmentTag(name, { step: 1_000_000, max: counterLimit(shape, 1) }),
  shape,
  regions: 1,
});
const SHAPED: readonly ShapedContender[] = [
  { id: 'bitreverse', label: 'bitreverse', tag: shapedTag('rev', { kind: 'bitreverse' }) },
  {
    id: 'permute',
    label: 'permute (width 63)',
    tag: shapedTag('perm', { kind: 'permute', width: 63, key: newPermuteKey() }),
  },
  {
    id: 'prefix',
    label: 'plain, string form',
    tag: shapedTag('pre', { kind: 'plain', prefix: 'ord' }),
  },
  {
    id: 'permute-prefix',
    label: 'permute, string form',
    tag: shapedTag('permpre', { kind: 'permute', width: 63, key: newPermuteKey(), prefix: 'usr' }),
  },
];

interface ShapedContender {
  /** `C-<id>` in the tables, e.g. `bitreverse`. */
  readonly id: string;
  readonly label: string;
  /** What `createTag` takes; its name must differ from `bench` and `flake`. */
  readonly tag: Parameters<ReturnType<typeof testStore>['createTag']>[0];
}

async function main(): Promise<void> {
  const redisPort = await freePort();
  startPinned(LOAD, 'redis-server', [
    '--port',
    String(redisPort),
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  for (let i = 0; ; i++) {
    const probe = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens: expected here
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (i > 100) throw new Error(`redis-server did not start on port ${redisPort}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const admin = new Redis(redisUrl);
  const proxyPort = await freePort();
  startPinned(LOAD, node, ['scripts/bench-proxy.mjs', String(proxyPort), String(redisPort), '1']);
  const proxyUrl = `redis://127.0.0.1:${proxyPort}`;

  /** A tag store on a fresh prefix with the bench tags; returns the prefix. */
  const prefix = async (step: number): Promise<string> => {
    const p = `bench:${testPrefix()}`;
    const store = testStore(redisUrl, p);
    await store.createTag(segmentTag('bench', { step }));
    await store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
    for (const shaped of SHAPED) await store.createTag(shaped.tag);
    await store.close();
    return p;
  };
  const servers: Promise<void>[] = [];
  /** The process serving each base URL, where it is one process (taskset execs it). */
  const pidOf = new Map<string, number>();
  const baseline = async (kind: string, url = redisUrl) => {
    const port = await freePort();
    const proc = startPinned(
      SERVER,
      node,
      [...SERVICE_NODE_FLAGS, 'scripts/bench-server.mjs', kind],
      {
        PORT: String(port),
        REDIS_URL: url,
      },
    );
    servers.push(waitForOk(`http://127.0.0.1:${port}/v1/ids/bench`));
    if (proc.pid !== undefined) pidOf.set(`http://127.0.0.1:${port}`, proc.pid);
    return `http://127.0.0.1:${port}`;
  };
  const idalloc = async (cpus: string, env: Record<string, string>, step = 1_000_000) => {
    const port = await freePort();
    const proc = startPinned(cpus, node, [...SERVICE_NODE_FLAGS, 'dist/bin/idalloc.js'], {
      REDIS_URL: redisUrl,
      KEY_PREFIX: await prefix(step),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SNOWFLAKE_LEASE_MS: '3000',
      ...env,
    });
    const base = `http://127.0.0.1:${port}`;
    servers.push(waitForOk(`${base}/v1/ids/bench`).then(() => waitForOk(`${base}/v1/ids/flake`)));
    // WORKERS=n serves from worker processes: the primary's CPU time is not theirs.
    if (env.WORKERS === undefined && proc.pid !== undefined) pidOf.set(base, proc.pid);
    return base;
  };

  /**
   * The servers under test, started on first use: a run `--only` some contenders starts
   * only their servers, so no idle neighbour (six of the servers share C's core; an
   * idalloc wakes every 10 ms for its event-loop metric) takes cache and CPU from the
   * servers being compared.
   */
  const serverOf = {
    A: () => baseline('bare'),
    B: () => baseline('express'),
    F: () => baseline('incr'),
    G: () => baseline('lock'),
    Fp: () => baseline('incr', proxyUrl),
    C: () => idalloc(SERVER, {}),
    Cs: () => idalloc(SERVER, { MAX_STEP: '100' }, 100),
    Cp: () => idalloc(SERVER, { REDIS_URL: proxyUrl }),
    W1: () => idalloc(ALL, { WORKERS: '1' }),
    W2: () => idalloc(ALL, { WORKERS: '2' }),
  } as const;
  type Server = keyof typeof serverOf;
  interface Spec extends Omit<Contender, 'url' | 'pid'> {
    readonly server: Server;
    readonly path: string;
  }

  const one = (
    id: string,
    label: string,
    server: Server,
    path: string,
    redis: boolean,
    count = 1,
  ): Spec => ({
    id,
    label,
    server,
    path,
    count,
    load: LOAD,
    threads: 1,
    connections: CONNECTIONS,
    redis,
  });
  const many = (c: Spec): Spec => ({ ...c, connections: MANY_CONNECTIONS });
  const every: Spec[] = [
    one('A', 'bare node:http, constant JSON ID', 'A', '/v1/ids/bench', false),
    one('B', 'express 5, constant', 'B', '/v1/ids/bench', false),
    one('C', 'idalloc GET /v1/ids/{tag} (step 10^6)', 'C', '/v1/ids/bench', true),
    many(one('A128', 'A at 128 connections', 'A', '/v1/ids/bench', false)),
    many(one('C128', 'C at 128 connections', 'C', '/v1/ids/bench', true)),
    ...SHAPED.map((s) =>
      one(`C-${s.id}`, `${s.label} (shaped tag, C's server)`, 'C', `/v1/ids/${s.tag.name}`, true),
    ),
    one('E', 'idalloc snowflake tag', 'C', '/v1/ids/flake', true),
    one('F', 'express + one Redis INCR per request', 'F', '/v1/ids/bench', true),
    one('G', 'lock per ID (SET NX + GET + SET + DEL)', 'G', '/v1/ids/bench', true),
    one('D100', 'idalloc ?count=100', 'C', '/v1/ids/bench?count=100', true, 100),
    one('D1000', 'idalloc ?count=1000', 'C', '/v1/ids/bench?count=1000', true, 1000),
    one('C-step100', 'idalloc, tag step and MAX_STEP 100', 'Cs', '/v1/ids/bench', true),
    one('C-proxy', 'idalloc, Redis link +1 ms each way', 'Cp', '/v1/ids/bench', true),
    one('F-proxy', 'INCR per request, Redis link +1 ms each way', 'Fp', '/v1/ids/bench', true),
    // Both unpinned (server and wrk share both cores), wrk with two threads.
    {
      ...one('W1', 'idalloc WORKERS=1 (unpinned)', 'W1', '/v1/ids/bench', true),
      load: ALL,
      threads: 2,
    },
    {
      ...one('W2', 'idalloc WORKERS=2 (unpinned)', 'W2', '/v1/ids/bench', true),
      load: ALL,
      threads: 2,
    },
  ];

  const unknown = only?.filter((id) => !every.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `--only: no contender ${unknown.join(', ')}; the contenders are ${every.map((c) => c.id).join(', ')}`,
    );
  }
  const chosen = only === undefined ? every : every.filter((c) => only.includes(c.id));
  // C's server also serves the in-process IdClient run of a full run.
  const needed = new Set<Server>([...chosen.map((c) => c.server), ...(only ? [] : ['C' as const])]);
  const base = new Map<Server, string>();
  for (const name of Object.keys(serverOf) as Server[]) {
    if (needed.has(name)) base.set(name, await serverOf[name]());
  }
  await Promise.all(servers);
  const contenders: Contender[] = chosen.map(({ server, path, ...c }) => {
    const origin = base.get(server)!;
    return { ...c, url: `${origin}${path}`, pid: pidOf.get(origin) };
  });

  // Idle contenders still talk to Redis (readiness polls, lease renewals): measure that
  // background rate and take it out of each contender's count.
  await admin.config('RESETSTAT');
  const idleFrom = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  const background = (await redisCommands(admin)) / ((performance.now() - idleFrom) / 1000);

  const runs = new Map<string, WrkRun[]>(contenders.map((c) => [c.id, []]));
  // The close targets (C within 0.9 of A at both loads, each shape within 0.95 of C) are a
  // few per cent wide, less than the machine drifts within a round: each such contender
  // is measured next to a run of its base, and its target compares those two.
  const baseOf = new Map<string, Contender>();
  const byId = new Map(contenders.map((c) => [c.id, c]));
  for (const [x, base] of [
    ['C', 'A'],
    ['C128', 'A128'],
    ...SHAPED.map((sh) => [`C-${sh.id}`, 'C']),
  ] as const) {
    const b = byId.get(base);
    if (byId.has(x) && b) baseOf.set(x, b);
  }
  const twinRuns = new Map<string, WrkRun[]>([...baseOf.keys()].map((id) => [id, []]));
  const commands = new Map<string, { calls: number; ids: number }>();
  const warmRounds = quick ? 1 : rounds;
  const total = (contenders.length + baseOf.size) * (rounds * seconds + warmRounds * warmSeconds);
  console.log(
    `bench: ${contenders.length} contenders × ${rounds} rounds × ${seconds} s (${warmSeconds} s warm-up ${quick ? 'in the first round' : 'each time'}), about ${Math.ceil(total / 60)} min of HTTP load${only === undefined ? ', then the in-process runs' : ''}`,
  );
  for (let round = 0; round < rounds; round++) {
    // Alternate, and rotate the order each round so no contender always follows another.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
    /** One measured run of `c`, warmed up as the options say. */
    const measure = async (c: Contender) => {
      const opts = { threads: c.threads, connections: c.connections };
      // --quick warms each contender up in the first round only (a one-minute look).
      const warm =
        round === 0 || !quick
          ? await wrk(c.load, c.url, { ...opts, seconds: warmSeconds })
          : undefined;
      return { warm, run: await wrk(c.load, c.url, { ...opts, seconds }, c.pid) };
    };
    /** The base's run next to `c`'s: before it in even rounds, after it in odd ones. */
    const twin = async (c: Contender) => {
      const base = baseOf.get(c.id);
      if (base === undefined) return;
      const { run } = await measure(base);
      twinRuns.get(c.id)!.push(run);
      process.stdout.write(
        `  round ${round + 1}/${rounds} ${`(${base.id})`.padEnd(10)} ${Math.round(run.rps).toString().padStart(7)} req/s${cpuText(run)}  beside ${c.id}\n`,
      );
    };
    for (const c of order) {
      if (round % 2 === 0) await twin(c);
      await admin.config('RESETSTAT');
      const from = performance.now();
      const { warm, run } = await measure(c);
      const elapsed = (performance.now() - from) / 1000;
      const calls = Math.max(0, (await redisCommands(admin)) - background * elapsed);
      runs.get(c.id)!.push(run);
      if (c.redis) {
        const acc = commands.get(c.id) ?? { calls: 0, ids: 0 };
        acc.calls += calls;
        acc.ids += ((warm?.requests ?? 0) + run.requests) * c.count;
        commands.set(c.id, acc);
      }
      process.stdout.write(
        `  round ${round + 1}/${rounds} ${c.id.padEnd(10)} ${Math.round(run.rps).toString().padStart(7)} req/s${cpuText(run)}  p50 ${run.p50Ms.toFixed(2)} ms  p99 ${run.p99Ms.toFixed(2)} ms${run.failures ? `  ${run.failures} FAILED` : ''}\n`,
      );
      if (round % 2 === 1) await twin(c);
    }
  }

  let samples: Record<string, number[]> = {};
  if (only === undefined) {
    console.log('  in-process: allocator next() vs floor, snowflake direct, IdClient …');
    const inproc = startPinned(SERVER, node, [
      ...tsx,
      'scripts/bench-inprocess.ts',
      redisUrl,
      base.get('C')!,
      String(seconds * 1000),
      String(rounds),
    ]);
    let out = '';
    inproc.stdout!.removeAllListeners('data');
    inproc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => inproc.once('exit', resolve));
    ({ samples } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
      samples: Record<string, number[]>;
    });
  }
  await admin.quit();

  const results: ContenderResult[] = contenders.map((c) => {
    const rs = runs.get(c.id)!;
    const cmd = commands.get(c.id);
    return {
      id: c.id,
      label: c.label,
      count: c.count,
      rps: rs.map((r) => r.rps),
      p50Ms: rs.map((r) => r.p50Ms),
      p99Ms: rs.map((r) => r.p99Ms),
      failures: rs.reduce((a, r) => a + r.failures, 0),
      redisPerMillionIds: cmd ? (cmd.calls * 1e6) / cmd.ids : undefined,
      ...cpuOf(rs),
      ...(baseOf.has(c.id)
        ? {
            pairedWith: {
              base: baseOf.get(c.id)!.id,
              rps: twinRuns.get(c.id)!.map((r) => r.rps),
              ...cpuOf(twinRuns.get(c.id)!),
            },
          }
        : {}),
    };
  });
  const inProcess: Measured[] = Object.entries(samples).map(([id, xs]) => ({ id, samples: xs }));
  const machine = {
    date: new Date().toISOString(),
    nproc: cores,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    redisBackgroundPerSecond: Math.round(background * 10) / 10,
    placement: `servers pinned to CPU ${SERVER}; wrk (-t1 -c${CONNECTIONS}; -c${MANY_CONNECTIONS} for A128 and C128), redis-server and the delaying proxy on CPU ${LOAD}; W1/W2 and their wrk (-t2) unpinned on CPUs ${ALL}`,
    rounds,
    seconds,
    warmSeconds,
    quick,
    ...(only === undefined ? {} : { only }),
  };
  const shaped = SHAPED.map((s) => `C-${s.id}`);
  const { text, markdown, json } = report(machine, results, inProcess, shaped, only !== undefined);
  console.log(`\n${text}`);
  mkdirSync(values.out!, { recursive: true });
  const stamp = machine.date.replace(/[:.]/g, '-');
  writeFileSync(join(values.out!, `bench-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(values.out!, `bench-${stamp}.md`), markdown);
  console.log(`written: ${join(values.out!, `bench-${stamp}.{json,md}`)}`);
}

/** `  25.1 µs CPU` for a run whose server's CPU time was measured. */
function cpuText(run: WrkRun): string {
  return run.cpuUsPerRequest === undefined ? '' : `  ${run.cpuUsPerRequest.toFixed(1)} µs CPU`;
}

/** The CPU time per request of each run, when every run has one. */
function cpuOf(runs: readonly WrkRun[]): { cpuUsPerRequest?: number[] } {
  const us = runs.map((r) => r.cpuUsPerRequest);
  return us.every((u) => u !== undefined) ? { cpuUsPerRequest: us } : {};
}

try {
  await main();
} finally {
  await stopAll();
}
