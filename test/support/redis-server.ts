/**
 * Throwaway `redis-server` processes for tests: started on a free port in a temporary
 * directory, and stopped, killed, restarted or turned into replicas, Sentinels or
 * Cluster nodes by the fault tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. ['--appendonly', 'yes']. */
  readonly args?: readonly string[];
  /** Use this port (e.g. to restart on the same one); default a free one. */
  readonly port?: number;
  /** Keep data here (to restart with it); default a new temporary directory. */
  readonly dir?: string;
  /** Start as a Sentinel with this config text (a `port` line is added). */
  readonly sentinelConfig?: string;
  /** The address to bind and to reach the server on; default 127.0.0.1. */
  readonly host?: string;
  /**
   * A command the server is started under, e.g. `['ip', 'netns', 'exec', ns]` to run it
   * in a network namespace (that command must exec `redis-server`, so the process
   * killed is the server itself).
   */
  readonly launcher?: readonly string[];
}

export class RedisServer {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly ownsDir: boolean;
  readonly dir: string;

  private constructor(
    readonly port: number,
    dir: string | undefined,
    private readonly opts: RedisServerOptions,
  ) {
    this.ownsDir = dir === undefined;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'idalloc-redis-'));
  }

  /** Starts a server and waits until it answers PING. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(opts.port ?? (await freePort()), opts.dir, opts);
    await server.start();
    return server;
  }

  /** The address the server binds and is reached on. */
  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** (Re)starts the process on the same port and directory. */
  async start(): Promise<void> {
    if (this.running) return;
    const base = ['--port', String(this.port), '--bind', this.host, '--dir', this.dir];
    let args: string[];
    if (this.opts.sentinelConfig !== undefined) {
      const { writeFileSync } = await import('node:fs');
      const conf = join(this.dir, `sentinel-${this.port}.conf`);
      writeFileSync(
        conf,
        `port ${this.port}\nbind ${this.host}\ndir ${this.dir}\n${this.opts.sentinelConfig}\n`,
      );
      args = [conf, '--sentinel'];
    } else {
      args = [
        ...base,
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        ...(this.opts.args ?? []),
      ];
    }
    const [command, ...prefix] = [...(this.opts.launcher ?? []), 'redis-server'];
    const proc = spawn(command!, [...prefix, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const spawnError = new Promise<never>((_, reject) =>
      proc.once('error', (err) =>
        reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`)),
      ),
    );
    this.proc = proc;
    await Promise.race([this.waitForPing(() => stderr), spawnError]);
  }

  private async waitForPing(stderr: () => string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`redis-server on ${this.port} exited: ${stderr()}`);
      const c = new Redis(this.port, this.host, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 500,
      });
      c.on('error', () => {}); // refused until the server listens: expected here
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        c.disconnect();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${this.port} did not answer within 10 s: ${stderr()}`);
  }

  /** Sends a signal and waits for the process to end (SIGKILL: no goodbye, no save). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.proc?.kill(signal);
    await this.exited;
  }

  /** Stops the process gracefully. */
  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** A plain client to this server (the caller disconnects it). */
  client(): Redis {
    return new Redis(this.port, this.host, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  }

  /** Stops the process and removes its directory (if it made one). */
  async dispose(): Promise<void> {
    await this.kill('SIGKILL');
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
