/**
 * Every setting of the service and the admin script (docs/design.md §10): one schema, each entry
 * with its default and meaning, parsed once at start into a frozen object; options.ts
 * turns it into the typed settings each part takes. Nothing else reads `process.env`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { autoWorkers } from './cpu-quota.js';
import { DEFAULT_SNOWFLAKE_EPOCH, LAYOUT_PRESETS } from '../core/settings.js';
import { KEY_PREFIX_PATTERN, KEY_PREFIX_RULE } from '../core/tags.js';
import { MAX_REGIONS, parseRegion } from '../core/shape.js';

const REGION_RULE = `i/N: the region index i from 0 to N-1 of N regions (N from 1 to ${MAX_REGIONS}), e.g. 1/3`;

/** `host:port,host:port` → list of endpoints. */
const endpoints = z.string().transform((s, ctx) => {
  const out: { host: string; port: number }[] = [];
  for (const part of s.split(',').map((p) => p.trim())) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({
        code: 'custom',
        message: `'${part}' is not host:port (a comma-separated list of host:port)`,
      });
      return z.NEVER;
    }
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
});

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, { message: `an integer from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, `an integer from ${min} to ${max}`)
        .max(max, `an integer from ${min} to ${max}`),
    );

/** Most worker processes `WORKERS` may ask for. */
export const MAX_WORKERS = 256;

/** `WORKERS`: a count, or `auto` for one per available core, capped by the cgroup's CPU quota. */
const workers = z
  .string()
  .regex(/^(auto|\d+)$/, { message: `an integer from 1 to ${MAX_WORKERS}, or auto` })
  .transform((s) => (s === 'auto' ? autoWorkers(availableParallelism()) : Number(s)))
  .pipe(
    z
      .number()
      .int()
      .min(1, `an integer from 1 to ${MAX_WORKERS}, or auto`)
      .max(MAX_WORKERS, `an integer from 1 to ${MAX_WORKERS}, or auto`),
  );

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const fraction = z
  .string()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, { message: 'a number between 0 and 1 (e.g. 0.1)' })
  .transform(Number)
  .pipe(z.number().gt(0, 'a number above 0 and at most 1').max(1));

const isoTime = z.string().transform((s, ctx) => {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(t) || t < 0 || t > Date.now()) {
    ctx.addIssue({
      code: 'custom',
      message: 'an ISO-8601 UTC time in the past, e.g. 2024-01-01T00:00:00Z',
    });
    return z.NEVER;
  }
  return t;
});

/** The schema: environment variable → parsed value, with the docs/design.md §10 defaults. */
const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  /**
   * Processes serving the port (node:cluster), each with its own buffers and snowflake
   * worker lease; `auto` = `os.availableParallelism()`, capped by the CPU quota of the
   * process's cgroup (cpu-quota.ts). 1: one process, no cluster.
   */
  WORKERS: workers.default(1),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { message: 'a redis:// or rediss:// URL' })
    .optional(),
  REDIS_SENTINELS: endpoints.optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: endpoints.optional(),
  // No { or }: see KEY_PREFIX_PATTERN.
  KEY_PREFIX: z
    .string()
    .regex(KEY_PREFIX_PATTERN, { message: KEY_PREFIX_RULE })
    .default('idalloc:'),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // A value with no token in it (",", " ") must not quietly switch auth off.
  API_TOKENS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    )
    .pipe(z.array(z.string()).min(1, 'a comma-separated list of at least one token'))
    .optional(),
  /**
   * Bearer tokens trusted with permute keys: a range of a permute tag (its key in the
   * shape descriptor) and the decode of its IDs (docs/design.md §13). Never logged.
   */
  KEY_TOKENS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    )
    .pipe(z.array(z.string()).min(1, 'a comma-separated list of at least one token'))
    .optional(),
  /** This node's region `i/N` (docs/design.md §13): segment IDs c·N + i, shaped. */
  REGION: z
    .string()
    .transform((s, ctx) => {
      try {
        return parseRegion(s);
      } catch {
        ctx.addIssue({ code: 'custom', message: REGION_RULE });
        return z.NEVER;
      }
    })
    .optional(),
  /**
   * `/metrics` without the bearer token even when API_TOKENS is set. Off by default: the
   * exposition names every served tag and its remaining IDs, as `/v1/status` does.
   */
  METRICS_PUBLIC: bool.default(false),
  MAX_BATCH: int(1, 1_000_000).default(1000),
  MAX_RANGE: int(1, 100_000_000).default(100_000),
  /** How long the store keeps an Idempotency-Key's record (docs/design.md §5). 30 days at most. */
  IDEMPOTENCY_TTL_SECONDS: int(1, 86_400 * 30).default(86_400),
  PREFETCH_AT: fraction.default(0.1),
  SEGMENT_TARGET_SECONDS: int(1, 86_400 * 7).default(900),
  MAX_STEP: int(1, 1_000_000_000).default(1_000_000),
  FETCH_TIMEOUT_MS: int(1, 600_000).default(2000),
  REDIS_MIN_REPLICAS: int(0, 100).default(0),
  REDIS_WAIT_TIMEOUT_MS: int(1, 60_000).default(100),
  REQUIRE_DURABLE_STORE: bool.default(false),
  SNOWFLAKE_EPOCH: isoTime.default(DEFAULT_SNOWFLAKE_EPOCH),
  SNOWFLAKE_WORKER_BITS: int(1, 20).default(LAYOUT_PRESETS.default.workerBits),
  SNOWFLAKE_SEQUENCE_BITS: int(0, 20).default(LAYOUT_PRESETS.default.sequenceBits),
  SNOWFLAKE_WORKER_ID: int(0, 1_048_575).optional(),
  /**
   * `default`: 41 bits of ms | SNOWFLAKE_WORKER_BITS | SNOWFLAKE_SEQUENCE_BITS, below 2^63.
   * `js-safe`: IDs below 2^53 (exact as JavaScript numbers): 41 | 4 | 8 unless the two
   * widths are set, which must then add up to at most 12.
   */
  SNOWFLAKE_LAYOUT: z
    .enum(['default', 'js-safe'], { message: 'default or js-safe' })
    .default('default'),
  SNOWFLAKE_LEASE_MS: int(3000, 3_600_000).default(30_000),
  MAX_BACKWARD_MS: int(0, 10_000).default(5),
  /** Served tags that get a `tag` label of their own in /metrics; the rest are pooled. */
  METRICS_MAX_TAGS: int(0, 10_000).default(100),
  // The grant log: which node a line comes from (default hostname:pid), and a file to
  // append the lines to instead of the log on stdout.
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:@/-]{1,128}$/, { message: '1 to 128 of A-Z a-z 0-9 _ . : @ / -' })
    .optional(),
  GRANT_LOG: z.string().min(1).optional(),
  /**
   * On SIGTERM/SIGINT, how long the node keeps accepting and serving after `/readyz`
   * turned 503, so a balancer sees it and stops routing first (docs/fleet-readiness.md).
   */
  SHUTDOWN_DELAY_MS: int(0, 600_000).default(0),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** Every variable the schema reads, in the schema's order (for `idalloc --help`). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

/**
 * Parses the environment into a frozen {@link Config}. Empty strings count as unset.
 * @throws ConfigError naming the first bad variable, its value and what is allowed.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    throw new ConfigError(
      `invalid configuration: ${key}=${JSON.stringify(shownValue(key, input[key] ?? ''))}: expected ${issue.message}`,
    );
  }
  const c = parsed.data;
  if (c.SNOWFLAKE_LAYOUT === 'js-safe') {
    // The preset's widths apply unless set explicitly (then crossCheck holds them to 53 bits).
    const preset = LAYOUT_PRESETS['js-safe'];
    if (input.SNOWFLAKE_WORKER_BITS === undefined) c.SNOWFLAKE_WORKER_BITS = preset.workerBits;
    if (input.SNOWFLAKE_SEQUENCE_BITS === undefined)
      c.SNOWFLAKE_SEQUENCE_BITS = preset.sequenceBits;
  }
  const problem = crossCheck(c);
  if (problem) throw new ConfigError(`invalid configuration: ${problem}`);
  return Object.freeze(c);
}

/** A value as an error may repeat it: never a token or a password. */
function shownValue(key: string, value: string): string {
  if (key === 'API_TOKENS' || key === 'KEY_TOKENS')
    return value.trim() === '' || /^[\s,]*$/.test(value) ? value : '***';
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

function crossCheck(c: z.infer<typeof schema>): string | undefined {
  const topologies = [c.REDIS_URL, c.REDIS_SENTINELS, c.REDIS_CLUSTER_NODES].filter(
    (v) => v !== undefined,
  ).length;
  if (topologies > 1) {
    return 'REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES: set at most one of them';
  }
  if (c.REDIS_SENTINELS && !c.REDIS_SENTINEL_MASTER) {
    return 'REDIS_SENTINEL_MASTER is unset: expected the master name when REDIS_SENTINELS is set';
  }
  const bits = c.SNOWFLAKE_WORKER_BITS + c.SNOWFLAKE_SEQUENCE_BITS;
  if (bits > 22) {
    return `SNOWFLAKE_WORKER_BITS + SNOWFLAKE_SEQUENCE_BITS = ${bits}: expected at most 22, so that 41 bits of milliseconds fit in 63`;
  }
  if (c.SNOWFLAKE_LAYOUT === 'js-safe' && bits > 12) {
    return `SNOWFLAKE_WORKER_BITS + SNOWFLAKE_SEQUENCE_BITS = ${bits}: expected at most 12 with SNOWFLAKE_LAYOUT=js-safe, so that 41 bits of milliseconds fit in 53 (IDs below 2^53)`;
  }
  if (
    c.SNOWFLAKE_WORKER_ID !== undefined &&
    c.SNOWFLAKE_WORKER_ID >= 2 ** c.SNOWFLAKE_WORKER_BITS
  ) {
    return `SNOWFLAKE_WORKER_ID=${c.SNOWFLAKE_WORKER_ID}: expected 0 to ${2 ** c.SNOWFLAKE_WORKER_BITS - 1} for SNOWFLAKE_WORKER_BITS=${c.SNOWFLAKE_WORKER_BITS}`;
  }
  if (c.SNOWFLAKE_WORKER_ID !== undefined && c.WORKERS > 1) {
    // Every worker process would mint with the same pinned worker ID: the same IDs.
    return `SNOWFLAKE_WORKER_ID=${c.SNOWFLAKE_WORKER_ID} with WORKERS=${c.WORKERS}: a pinned worker ID serves one process only; leave SNOWFLAKE_WORKER_ID unset (each worker leases its own) or set WORKERS=1`;
  }
  return undefined;
}
