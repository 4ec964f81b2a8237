/**
 * The HTTP service in tests: a real node (service/node.ts, as the process starts it) on
 * port 0 over the test Redis on a fresh prefix, logs captured as parsed lines; raw requests for what
 * fetch would normalise away; a small Prometheus text parser.
 */
import { once } from 'node:events';
import { request, type Agent } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { IdAllocator } from '../../src/allocator/types.js';
import { nodeOptions } from '../../src/config/options.js';
import { loadConfig } from '../../src/config/schema.js';
import type { SegmentSettings } from '../../src/core/settings.js';
import type { ReadyState } from '../../src/http/ready.js';
import { loggerOptions } from '../../src/observe/logger.js';
import type { Metrics } from '../../src/observe/metrics/index.js';
import { startNode, stopNode } from '../../src/service/node.js';
import { RedisStore } from '../../src/store/open.js';
import { testPrefix } from './prefix.js';

/** A log line as pino wrote it. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface TestService {
  readonly base: string;
  readonly port: number;
  readonly store: RedisStore;
  readonly allocator: IdAllocator;
  readonly metrics: Metrics;
  readonly ready: ReadyState;
  readonly logs: LogLine[];
  close(): Promise<void>;
}

export interface TestServiceOptions {
  /**
   * Environment as the service would read it (MAX_BATCH, API_TOKENS, SNOWFLAKE_WORKER_ID,
   * …). Without SNOWFLAKE_WORKER_ID the node leases a worker ID in the test Redis.
   */
  readonly env?: Record<string, string>;
  /** Segment tuning beyond the environment's (fast retries for fault tests). */
  readonly segment?: Partial<SegmentSettings>;
  /** @default a fresh prefix of its own */
  readonly keyPrefix?: string;
  /** Add prom-client's default process metrics. @default false */
  readonly defaultMetrics?: boolean;
}

/** A stream pino writes to, and the lines it wrote, parsed. */
export function captureLogs(): { readonly logs: LogLine[]; readonly sink: Writable } {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line) logs.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logs, sink };
}

/**
 * Starts a node on 127.0.0.1:0 against `redisUrl` through {@link startNode}, the one way
 * the service starts one: the same store checks, grant log, snowflake generator,
 * allocator, readiness and app. Logs are captured as parsed lines.
 */
export async function startService(
  redisUrl: string,
  opts: TestServiceOptions = {},
): Promise<TestService> {
  const config = loadConfig({
    REDIS_URL: redisUrl,
    KEY_PREFIX: opts.keyPrefix ?? testPrefix(),
    HOST: '127.0.0.1',
    PORT: '0',
    ...opts.env,
  });
  const base = nodeOptions(config);
  const options = opts.segment ? { ...base, segment: { ...base.segment, ...opts.segment } } : base;
  const { logs, sink } = captureLogs();
  const logger = pino(loggerOptions('debug'), sink);
  const node = await startNode(options, { logger, defaultMetrics: opts.defaultMetrics ?? false });
  if (!(node.store instanceof RedisStore)) throw new Error('startService: not a Redis store');
  const store = node.store;
  return {
    base: `http://127.0.0.1:${node.port}`,
    port: node.port,
    store,
    allocator: node.allocator,
    metrics: node.metrics,
    ready: node.ready,
    logs,
    async close() {
      node.server.closeAllConnections();
      await stopNode(node, { idleGraceMs: 0 });
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Sends `GET <target>` byte for byte (no normalisation of `..`, raw UTF-8 allowed) on a
 * fresh connection and reads the whole answer.
 */
export async function rawGet(
  port: number,
  target: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const head = Object.entries({ Host: `127.0.0.1:${port}`, Connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    Buffer.concat([
      Buffer.from('GET '),
      Buffer.isBuffer(target) ? target : Buffer.from(target, 'utf8'),
      Buffer.from(` HTTP/1.1\r\n${head}\r\n`),
    ]),
  );
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'end');
  socket.destroy();
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const out: Record<string, string> = {};
  for (const l of lines) {
    const at = l.indexOf(':');
    out[l.slice(0, at).toLowerCase()] = l.slice(at + 1).trim();
  }
  return {
    status: Number(statusLine?.split(' ')[1]),
    headers: out,
    body: text.slice(split + 4),
  };
}

/** What one GET of {@link getOutcome} came to: an answer, or a connection failure. */
export type Outcome =
  | { kind: 'answer'; status: number; body: string; headers: Record<string, unknown> }
  | { kind: 'error'; code: string; afterResponse: boolean };

/**
 * One GET to 127.0.0.1:`port` over `agent`; connection failures are outcomes, not
 * exceptions (`afterResponse`: the failure came after the status line).
 */
export function getOutcome(agent: Agent, port: number, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let afterResponse = false;
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      afterResponse = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ kind: 'answer', status: res.statusCode ?? 0, body, headers: res.headers }),
      );
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ kind: 'error', code: err.code ?? err.message, afterResponse }),
      );
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ kind: 'error', code: err.code ?? err.message, afterResponse }),
    );
    req.end();
  });
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"/g;

/**
 * Parses the text format (version 0.0.4) strictly: every line is a `# HELP`, a `# TYPE`
 * or a sample of a declared metric, or the parse throws naming the line.
 */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = [...types.keys()].find(
      (f) =>
        name === f || (name.startsWith(f) && /^_(bucket|sum|count)$/.test(name.slice(f.length))),
    );
    if (family === undefined) throw new Error(`sample of an undeclared metric: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    // Prometheus parses floats as Go does: NaN in any case (prom-client writes `Nan`).
    if (Number.isNaN(value) && !/^nan$/i.test(m[3]!)) throw new Error(`bad sample value: ${line}`);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The samples of one series name whose labels include `labels`. */
export function find(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
