/**
 * The service as a real process (`node --import tsx src/service/main.ts`), as `npm start` runs
 * it: configured by environment, listening on the port it logs, stopped by a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  readonly port: number;
  readonly base: string;
  readonly proc: ChildProcess;
  /** Parsed JSON log lines so far (stdout). */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr. */
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process (SIGKILL) if it still runs. */
  dispose(): Promise<void>;
}

/** Only what the service needs, so the developer's own environment cannot leak in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** Runs the entry to its end (for start-up failures): exit code, stdout, stderr. */
export async function runServiceToExit(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/service/main.ts'], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** How the service is started: from the sources by default, or an installed bin. */
export interface ServiceEntry {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

const SOURCE_ENTRY: ServiceEntry = {
  command: process.execPath,
  args: ['--import', 'tsx', 'src/service/main.ts'],
  cwd: ROOT,
};

/** Where and how a service process runs, beyond its environment. */
export interface ServiceProcessOptions {
  /**
   * A command the service is started under, e.g. `['ip', 'netns', 'exec', ns]` to run
   * it in a network namespace (it must exec the node process, so the process killed is
   * the service itself).
   */
  readonly launcher?: readonly string[];
  /** The address it listens on and is reached at; default 127.0.0.1. */
  readonly host?: string;
  /** A file that receives everything the process writes (stdout, then stderr lines). */
  readonly logFile?: string;
  /** The program started: the sources by default, or an installed bin. */
  readonly entry?: ServiceEntry;
}

/**
 * Starts the service with `env` (PORT=0 and HOST=127.0.0.1 unless given) and resolves
 * once it logged the port it listens on.
 */
export async function startServiceProcess(
  env: Record<string, string>,
  timeoutMs = 20_000,
  opts: ServiceProcessOptions = {},
): Promise<ServiceProcess> {
  const host = opts.host ?? '127.0.0.1';
  const entry = opts.entry ?? SOURCE_ENTRY;
  const [command, ...prefix] = [...(opts.launcher ?? []), entry.command];
  const proc = spawn(command!, [...prefix, ...entry.args], {
    cwd: entry.cwd,
    env: { ...baseEnv(), PORT: '0', HOST: host, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (opts.logFile !== undefined) {
    const file = createWriteStream(opts.logFile, { flags: 'a' });
    proc.stdout.pipe(file, { end: false });
    proc.stderr.pipe(file, { end: false });
    proc.once('close', () => file.end());
  }
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind a failed test.
      proc.kill('SIGKILL');
      reject(new Error(`service did not log its port within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening')) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    port,
    base: `http://${host}:${port}`,
    proc,
    logs,
    stderr: () => stderr,
    exited,
    async dispose() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}
