/**
 * An HTTP proxy that loses answers: it forwards each request to its node, reads the
 * node's whole answer, and for a share of them (seeded, so a run repeats) closes the
 * client's connection instead of passing the answer on — the node granted the IDs, the
 * caller never saw them: the retry case Idempotency-Key is for. Every answer is recorded
 * with the request's Idempotency-Key, dropped or passed, so a test can compare a retry's
 * answer with the one that was lost.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer of the node, as the proxy saw it. */
export interface ProxiedAnswer {
  readonly path: string;
  /** The request's Idempotency-Key, as sent. */
  readonly key: string | undefined;
  readonly status: number;
  readonly body: string;
  /** True when the caller never got it. */
  readonly dropped: boolean;
}

/** mulberry32, as flaky-proxy.ts: enough to pick which answers are lost. */
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

export class DroppingProxy {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** Every answer of the node, in the order they ended. */
    readonly answers: readonly ProxiedAnswer[],
  ) {}

  /**
   * A proxy on 127.0.0.1:0 in front of `target` (`http://host:port`) that loses
   * `dropShare` of the node's answers to requests whose path starts with one of `paths`.
   */
  static async start(
    target: string,
    opts: { dropShare: number; seed: number; paths: readonly string[] },
  ): Promise<DroppingProxy> {
    const random = seeded(opts.seed);
    const upstream = new URL(target);
    const answers: ProxiedAnswer[] = [];
    const server = createServer((req, res) => {
      const path = req.url ?? '/';
      const key = req.headers['idempotency-key'] as string | undefined;
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path,
          headers: { ...req.headers, host: upstream.host, connection: 'close' },
        },
        (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            const status = up.statusCode ?? 0;
            const lossy = opts.paths.some((p) => path.startsWith(p));
            const dropped = lossy && random() < opts.dropShare;
            answers.push({ path, key, status, body, dropped });
            // Lost after the node answered: the caller's connection just closes.
            if (dropped) {
              req.socket.destroy();
              return;
            }
            const headers = { ...up.headers };
            delete headers.connection;
            delete headers['keep-alive'];
            res.writeHead(status, headers).end(body);
          });
        },
      );
      out.on('error', () => req.socket.destroy());
      req.pipe(out);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    return new DroppingProxy(server, `http://127.0.0.1:${port}`, answers);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
