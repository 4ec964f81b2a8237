/**
 * A flaky link in user space (this kernel has no `netem`): a TCP relay that, while
 * flaky, delays every chunk (each direction in order, as TCP keeps it), stalls a
 * direction for seconds now and then (a burst of lost packets TCP keeps retransmitting),
 * splits chunks (replies arriving in pieces), resets connections mid-stream, and
 * black-holes some new connections (accepted, never carried: a peer that went silent).
 *
 * Duplicated and reordered packets are what TCP hides from both ends: through a
 * socket they can only show as delay or a stall, which is what this relay makes. A
 * relay that duplicated or reordered bytes of the stream would not be emulating a
 * network but corrupting the protocol.
 *
 * Decisions come from a seeded generator, so a run can be repeated (the seed is in the
 * report).
 */
import { createServer, Socket, type Server } from 'node:net';

export interface FlakyStats {
  connections: number;
  resets: number;
  stalls: number;
  splits: number;
  blackholed: number;
  delayedChunks: number;
}

export interface FlakyOptions {
  /** Longest delay of one chunk, ms. @default 120 */
  readonly maxDelayMs?: number;
  /** Chance per chunk that its direction stalls for 0.5–3 s. @default 0.01 */
  readonly stallChance?: number;
  /** Chance per chunk that the connection is reset. @default 0.003 */
  readonly resetChance?: number;
  /** Chance that a new connection is black-holed. @default 0.15 */
  readonly blackholeChance?: number;
  /** Chance per chunk that it is split in two writes. @default 0.1 */
  readonly splitChance?: number;
}

/** mulberry32: a small seeded generator, good enough to pick faults. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FlakyProxy {
  readonly stats: FlakyStats = {
    connections: 0,
    resets: 0,
    stalls: 0,
    splits: 0,
    blackholed: 0,
    delayedChunks: 0,
  };
  private flaky = false;
  private stalledUntil = 0;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new WeakSet<Socket>();
  private readonly random: () => number;
  private readonly opts: Required<FlakyOptions>;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    readonly seed: number,
    opts: FlakyOptions,
  ) {
    this.random = seeded(seed);
    this.opts = {
      maxDelayMs: 120,
      stallChance: 0.01,
      resetChance: 0.003,
      blackholeChance: 0.15,
      splitChance: 0.1,
      ...opts,
    };
  }

  /** Listens on `host` (a free port) and relays to `target`. */
  static start(
    host: string,
    target: { host: string; port: number },
    seed: number,
    opts: FlakyOptions = {},
  ): Promise<FlakyProxy> {
    return new Promise((resolve, reject) => {
      let proxy: FlakyProxy | undefined;
      const server = createServer((client) => proxy?.accept(client, target));
      server.once('error', reject);
      server.listen(0, host, () => {
        const addr = server.address();
        if (typeof addr !== 'object' || addr === null) return reject(new Error('no address'));
        proxy = new FlakyProxy(server, host, addr.port, seed, opts);
        resolve(proxy);
      });
    });
  }

  /** Turns the faults on or off (off: a clean relay; black-holed connections are cut). */
  setFlaky(on: boolean): void {
    this.flaky = on;
  }

  /** Resets every connection it carries now (the clients see ECONNRESET). */
  resetAll(): void {
    for (const s of this.sockets) {
      this.stats.resets += 1;
      if (s.remoteAddress !== undefined && this.clients.has(s)) s.resetAndDestroy();
      else s.destroy();
    }
  }

  /** Holds every chunk in both directions for `ms` from now (a burst of lost packets). */
  stallAll(ms: number): void {
    this.stats.stalls += 1;
    this.stalledUntil = Date.now() + ms;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy()); // a reset or a closed peer: the other side follows
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    this.stats.connections += 1;
    this.track(client);
    this.clients.add(client);
    if (this.flaky && this.random() < this.opts.blackholeChance) {
      // Accepted, never carried; dropped for good once the link is clean again.
      this.stats.blackholed += 1;
      client.on('data', () => {});
      const check = setInterval(() => {
        if (!this.flaky || client.destroyed) {
          clearInterval(check);
          client.destroy();
        }
      }, 200);
      return;
    }
    const upstream = new Socket();
    this.track(upstream);
    upstream.connect(target.port, target.host);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    this.pipe(client, upstream, client, upstream);
    this.pipe(upstream, client, client, upstream);
  }

  /** Relays `from` → `to` in order, each chunk through the faults of the moment. */
  private pipe(from: Socket, to: Socket, client: Socket, upstream: Socket): void {
    let chain = Promise.resolve();
    let stalledUntil = 0;
    from.on('data', (chunk: Buffer) => {
      if (!this.flaky) {
        chain = chain.then(() => void (to.destroyed || to.write(chunk)));
        return;
      }
      const r = this.random;
      if (r() < this.opts.resetChance) {
        this.stats.resets += 1;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (r() < this.opts.stallChance) {
        this.stats.stalls += 1;
        stalledUntil = Date.now() + 500 + r() * 2500;
      }
      const held = Math.max(stalledUntil, this.stalledUntil) - Date.now();
      const delay = Math.max(r() * this.opts.maxDelayMs, held);
      const split = chunk.length > 1 && r() < this.opts.splitChance;
      this.stats.delayedChunks += 1;
      if (split) this.stats.splits += 1;
      const cut = split ? 1 + Math.floor(r() * (chunk.length - 1)) : chunk.length;
      chain = chain.then(async () => {
        await sleep(delay);
        if (to.destroyed) return;
        to.write(chunk.subarray(0, cut));
        if (cut < chunk.length) {
          await sleep(r() * 20);
          if (!to.destroyed) to.write(chunk.subarray(cut));
        }
      });
    });
  }
}
