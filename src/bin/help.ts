/**
 * `idalloc --help` and `--version`. The list of settings is the schema's own
 * (`CONFIG_VARIABLES`), their defaults are what the schema gives an empty environment,
 * and a test keeps {@link MEANINGS} covering every variable, so the help cannot drift
 * from what the service parses.
 */
import { CONFIG_VARIABLES, loadConfig } from '../config/schema.js';
import { PACKAGE_VERSION } from '../core/version.js';

/** One line per setting; the README's Configuration section has the long form. */
export const MEANINGS: Readonly<Record<string, string>> = Object.freeze({
  PORT: 'listen port (0: a free port, logged)',
  HOST: 'listen address',
  REDIS_URL: 'redis:// or rediss:// URL; with no Redis setting, the embedded store',
  REDIS_SENTINELS: 'host:port,… of the Sentinels (with REDIS_SENTINEL_MASTER)',
  REDIS_SENTINEL_MASTER: 'the master name the Sentinels monitor',
  REDIS_CLUSTER_NODES: 'host:port,… seed nodes of a Redis Cluster',
  KEY_PREFIX: 'prefix of every Redis key',
  DATA_DIR: 'directory of the embedded store (idalloc.db)',
  LOG_LEVEL: 'fatal, error, warn, info, debug, trace or silent',
  API_TOKENS: 'comma-separated bearer tokens; unset: no auth',
  KEY_TOKENS: 'bearer tokens trusted with permute keys (ranges and decodes of permute tags)',
  REGION: "this node's region i/N: segment IDs c·N+i, shaped; tags of another N are refused",
  METRICS_PUBLIC: 'true: /metrics without the token even when API_TOKENS is set',
  MAX_BATCH: 'largest ?count= of /v1/ids',
  MAX_RANGE: 'largest ?size= of /v1/ranges',
  IDEMPOTENCY_TTL_SECONDS: 'how long the store keeps an Idempotency-Key and the IDs it got',
  PREFETCH_AT: 'fraction of a segment used before the next is fetched',
  SEGMENT_TARGET_SECONDS: 'how long a segment should last (dynamic step)',
  MAX_STEP: 'largest segment a node fetches',
  FETCH_TIMEOUT_MS: 'longest a request waits for a segment',
  REDIS_MIN_REPLICAS: 'replicas that must confirm a grant before it is served',
  REDIS_WAIT_TIMEOUT_MS: 'how long WAIT may take for that confirmation',
  REQUIRE_DURABLE_STORE: 'refuse to start on a store that can lose writes',
  SNOWFLAKE_EPOCH: 'time zero of snowflake IDs (ISO-8601)',
  SNOWFLAKE_WORKER_BITS: 'bits of the worker ID',
  SNOWFLAKE_SEQUENCE_BITS: 'bits of the per-millisecond sequence',
  SNOWFLAKE_WORKER_ID: 'pinned worker ID, no lease (one node only)',
  SNOWFLAKE_LAYOUT: 'default, or js-safe (IDs below 2^53)',
  SNOWFLAKE_LEASE_MS: 'worker-ID lease length',
  MAX_BACKWARD_MS: 'clock steps back up to this are waited out',
  NODE_ID: 'this node in the grant log (default hostname:pid; NODE_ID/w<k> per worker)',
  GRANT_LOG: 'append grant lines to this file instead of the log (no symlink; SIGHUP reopens)',
  WORKERS:
    'processes sharing the port (auto: one per core, within the cgroup CPU quota); 1: no cluster',
  METRICS_MAX_TAGS: 'tags that get their own metric label; the rest pool under _other',
  SHUTDOWN_DELAY_MS:
    'on SIGTERM: keep serving this long after /readyz turned 503 (behind a balancer: > probe period × failures)',
});

/** `idalloc --version`: the bin and the package version (`idalloc-admin --version` too). */
export function serviceVersion(bin = 'idalloc'): string {
  return `${bin} ${PACKAGE_VERSION}`;
}

export function serviceHelp(): string {
  const defaults = loadConfig({}) as Readonly<Record<string, unknown>>;
  const rows = CONFIG_VARIABLES.map((name) => [
    name,
    shownDefault(name, defaults[name]),
    MEANINGS[name] ?? '',
  ]);
  const w0 = Math.max(...rows.map((r) => r[0]!.length));
  const w1 = Math.max(...rows.map((r) => r[1]!.length));
  const table = rows
    .map(([n, d, m]) => `  ${n!.padEnd(w0)}  ${d!.padEnd(w1)}  ${m}`.trimEnd())
    .join('\n');
  return `Usage: idalloc [--help | --version]

Starts the idalloc service: unique 64-bit IDs per tag over HTTP. Every setting comes
from the environment; with no Redis setting it serves from the embedded store in
DATA_DIR. Tags are created with idalloc-admin (idalloc-admin --help).

Configuration (environment variable, default, meaning):
${table}

Example: PORT=8080 REDIS_URL=redis://127.0.0.1:6379 idalloc
`;
}

function shownDefault(name: string, value: unknown): string {
  if (value === undefined) return 'unset';
  if (name === 'SNOWFLAKE_EPOCH' && typeof value === 'number') {
    return new Date(value).toISOString();
  }
  return String(value);
}
