/**
 * What `npm run bench` runs its contenders with: processes pinned to cores (`taskset`),
 * waiting for a port to answer, wrk runs and their parsed output (and the server's CPU
 * time over each), Redis command counts, and the statistics of the rounds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/**
 * The V8 flags the service runs with (the `idalloc` bin's shebang, `npm start`, the
 * image's CMD; test/unit/node-flags.test.ts holds them equal). The bench starts every
 * server with them, its baselines too, so that a ratio measures the path, not a
 * runtime setting: `--no-memory-reducer` keeps V8's idle-time memory-reducing GCs
 * from running, after which a Node HTTP server spent 13–25 % more CPU per request
 * for as long as it was watched (docs/benchmarks.md, check of 2026-12-06 15:00).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** The tools the bench needs, and how to get each on Debian/Ubuntu. */
const TOOLS: readonly [string, string][] = [
  ['wrk', 'sudo apt-get install wrk'],
  ['taskset', 'sudo apt-get install util-linux'],
  ['redis-server', 'sudo apt-get install redis-server'],
];

/** Exits with a clear line for each missing tool. */
export function requireTools(): void {
  const missing = TOOLS.filter(
    ([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
  if (missing.length === 0) return;
  for (const [tool, install] of missing) {
    console.error(
      `bench: '${tool}' is not installed (not on PATH): install it with \`${install}\``,
    );
  }
  process.exit(2);
}

/** The processes the bench started, stopped at the end (or on Ctrl-C). */
const started: ChildProcess[] = [];

/** Starts `cmd args` pinned to `cpus` (a taskset list such as "1" or "0,1"). */
export function startPinned(
  cpus: string,
  cmd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildProcess {
  const proc = spawn('taskset', ['-c', cpus, cmd, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  proc.stdout?.resume();
  proc.once('exit', (code, signal) => {
    if (!stopping && code !== 0) {
      console.error(`bench: ${cmd} ${args.join(' ')} exited (${code ?? signal}): ${stderr}`);
    }
  });
  started.push(proc);
  return proc;
}

let stopping = false;

/** Stops every process the bench started (SIGTERM, then SIGKILL after 3 s). */
export async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    started.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = once(p, 'exit');
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Resolves once GET `url` answers 200 (a fresh snowflake worker ID waits out its fence). */
export async function waitForOk(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}

/** What one wrk run measured. */
export interface WrkRun {
  readonly rps: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failures: number;
  /**
   * The server's CPU time (user + system) over the run, per request wrk counted, in µs;
   * when its process was given. A server pinned to a core it shares with neighbours
   * answers fewer requests per second as they take the core, but spends about the same
   * CPU on each: this is the steadier measure of its own cost.
   */
  readonly cpuUsPerRequest?: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times (`getconf CLK_TCK`; 100 on Linux). */
let ticksPerSecond: number | undefined;

/** A process's CPU time so far (user + system), µs; undefined when /proc cannot say. */
export function cpuMicros(pid: number): number | undefined {
  ticksPerSecond ??=
    Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  try {
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15
    return Number.isFinite(ticks) ? (ticks * 1e6) / ticksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

const toMs = (value: string, unit: string): number =>
  Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);

/** Parses wrk's `--latency` report. */
export function parseWrk(out: string): WrkRun {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${out}`);
  return { rps, requests, p50Ms: pct('50'), p99Ms: pct('99'), failures: non2xx + socketErrors };
}

/** One wrk run: `threads` threads, `connections` keep-alive connections, `seconds`. */
export async function wrk(
  cpus: string,
  url: string,
  opts: { threads: number; connections: number; seconds: number },
  /** The server's process: its CPU time over the run is measured (cpuUsPerRequest). */
  serverPid?: number,
): Promise<WrkRun> {
  const args = ['-c', cpus, 'wrk', `-t${opts.threads}`, `-c${opts.connections}`];
  args.push(`-d${opts.seconds}s`, '--latency', url);
  const cpuBefore = serverPid === undefined ? undefined : cpuMicros(serverPid);
  const proc = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  const cpuAfter = serverPid === undefined ? undefined : cpuMicros(serverPid);
  if (code !== 0) throw new Error(`wrk exited ${code}: ${out}`);
  const run = parseWrk(out);
  if (cpuBefore === undefined || cpuAfter === undefined || !(run.requests > 0)) return run;
  return { ...run, cpuUsPerRequest: (cpuAfter - cpuBefore) / run.requests };
}

/** Commands Redis executed since the last reset (the bench's own INFO/CONFIG left out). */
export async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info' && m[1] !== 'config') calls += Number(m[2]);
  }
  return calls;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** (max − min) / median, as a fraction: how much the rounds disagreed. */
export function spread(xs: readonly number[]): number {
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}
