/**
 * The durability check at start (docs/design.md §8.5): can this Redis lose a write it has
 * acknowledged? It looks, on every master, at persistence (AOF on, `appendfsync always`),
 * eviction (`maxmemory-policy noeviction`), a sample of tag keys (none may expire), the
 * role and the replicas. Where `CONFIG` is renamed or denied (managed Redis), `INFO`
 * answers what it can and the report says what could not be checked; a store counts as
 * durable only when every point was confirmed.
 */
import { Cluster, type Redis } from 'ioredis';
import { whenReady, type RedisLike } from './client.js';

/** What one master showed; `undefined` where it could not be read. */
export interface NodeDurability {
  /** `host:port`, or the Sentinel master name. */
  readonly node: string;
  /** `master` or `slave`, as `INFO replication` says. */
  readonly role: string | undefined;
  readonly connectedReplicas: number | undefined;
  readonly aof: boolean | undefined;
  readonly appendfsync: string | undefined;
  readonly maxmemoryPolicy: string | undefined;
  /** `min-replicas-to-write`: writes refused with fewer replicas than this. */
  readonly minReplicasToWrite: number | undefined;
  /** How many tag keys were sampled for a TTL. */
  readonly sampledTagKeys: number;
  /** Sampled tag keys that carry a TTL (each would vanish, and its counter with it). */
  readonly tagKeysWithTtl: readonly string[];
}

export interface DurabilityReport {
  /** True only when no problem was found and nothing was left unchecked. */
  readonly durable: boolean;
  readonly nodes: readonly NodeDurability[];
  /** Settings that can lose an acknowledged write, one sentence each. */
  readonly problems: readonly string[];
  /** What could not be checked, and why. */
  readonly unchecked: readonly string[];
  /** Worth knowing, not a durability problem (replication, WAIT). */
  readonly notes: readonly string[];
}

export interface DurabilityCheckOptions {
  /** SCAN pattern of the tag keys (`keys.tagPattern`). */
  readonly tagPattern: string;
  /**
   * Which keys the pattern matches are tags (`keys.tagName`): a nested `KEY_PREFIX`'s
   * keys match it too, and its worker leases expire by design. @default every key
   */
  readonly isTagKey?: (key: string) => boolean;
  /** `REDIS_MIN_REPLICAS`, to compare with the replicas actually connected. @default 0 */
  readonly minReplicas?: number;
  /** Tag keys sampled per master for a TTL. @default 100 */
  readonly sampleSize?: number;
  /** How long to wait for the client to connect. @default 5000 */
  readonly readyTimeoutMs?: number;
}

/** Checks every master behind `client` (the general connection). */
export async function checkDurability(
  client: RedisLike,
  opts: DurabilityCheckOptions,
): Promise<DurabilityReport> {
  await whenReady(client, opts.readyTimeoutMs ?? 5000);
  const masters: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const problems: string[] = [];
  const unchecked: string[] = [];
  const notes: string[] = [];
  const nodes: NodeDurability[] = [];
  if (masters.length === 0) unchecked.push('could not check anything: no master is known');
  for (const c of masters) {
    const n = await checkNode(c, opts, unchecked);
    nodes.push(n);
    judge(n, opts.minReplicas ?? 0, problems, notes);
  }
  return Object.freeze({
    durable: problems.length === 0 && unchecked.length === 0,
    nodes: Object.freeze(nodes),
    problems: Object.freeze(problems),
    unchecked: Object.freeze(unchecked),
    notes: Object.freeze(notes),
  });
}

async function checkNode(
  c: Redis,
  opts: DurabilityCheckOptions,
  unchecked: string[],
): Promise<NodeDurability> {
  const server = await infoOf(c, 'server');
  const node = c.options.sentinels?.length
    ? `master '${c.options.name ?? '?'}' (port ${server.tcp_port ?? '?'}, via Sentinel)`
    : `${c.options.host ?? '?'}:${c.options.port ?? '?'}`;
  const persistence = await infoOf(c, 'persistence');
  const memory = await infoOf(c, 'memory');
  const replication = await infoOf(c, 'replication');
  const cannot = (what: string, why: string) =>
    unchecked.push(`${node}: could not check ${what} (${why})`);
  /** A CONFIG setting; `required` ones go to `unchecked` when CONFIG does not answer. */
  const setting = async (name: string, required = true): Promise<string | undefined> => {
    let why: string;
    try {
      const reply = await c.config('GET', name);
      if (Array.isArray(reply) && reply.length >= 2) return String(reply[1]);
      why = 'CONFIG GET returned nothing';
    } catch (err) {
      why = `CONFIG GET refused: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (required) cannot(name, why);
    return undefined;
  };
  // INFO answers where CONFIG is renamed; CONFIG alone knows appendfsync.
  const aofInfo = persistence.aof_enabled;
  const aof =
    aofInfo !== undefined ? aofInfo === '1' : flag(await setting('appendonly'), 'yes', 'no');
  const appendfsync = await setting('appendfsync');
  const maxmemoryPolicy = memory.maxmemory_policy ?? (await setting('maxmemory-policy'));
  const minToWrite = await setting('min-replicas-to-write', false);
  const { sampled, withTtl } = await sampleTtls(c, opts, cannot);
  return Object.freeze({
    node,
    role: replication.role,
    connectedReplicas: intOf(replication.connected_slaves),
    aof,
    appendfsync,
    maxmemoryPolicy,
    minReplicasToWrite: intOf(minToWrite),
    sampledTagKeys: sampled,
    tagKeysWithTtl: Object.freeze(withTtl),
  });
}

/** Adds to `problems` what lets this node lose an acknowledged write, to `notes` the rest. */
function judge(n: NodeDurability, minReplicas: number, problems: string[], notes: string[]) {
  const at = n.node;
  if (n.aof === false) {
    problems.push(
      `${at}: AOF is off (appendonly no): a restart loses every grant since the last snapshot`,
    );
  }
  if (n.aof !== false && n.appendfsync !== undefined && n.appendfsync !== 'always') {
    problems.push(
      `${at}: appendfsync is '${n.appendfsync}': a crash can lose up to a second of acknowledged grants (set appendfsync always)`,
    );
  }
  if (n.maxmemoryPolicy !== undefined && n.maxmemoryPolicy !== 'noeviction') {
    problems.push(
      `${at}: maxmemory-policy is '${n.maxmemoryPolicy}': under memory pressure keys can be evicted (set noeviction)`,
    );
  }
  if (n.tagKeysWithTtl.length > 0) {
    problems.push(
      `${at}: ${n.tagKeysWithTtl.length} tag key(s) carry a TTL and will vanish (e.g. ${n.tagKeysWithTtl[0]}); remove it with PERSIST`,
    );
  }
  if (n.role !== undefined && n.role !== 'master') {
    problems.push(`${at}: the node is a ${n.role}, not a master: allocations will be refused`);
  }
  const replicas = n.connectedReplicas ?? 0;
  if (replicas > 0 && minReplicas === 0) {
    notes.push(
      `${at}: ${replicas} replica(s) follow asynchronously and REDIS_MIN_REPLICAS is 0: after a failover only the tag's gap separates new grants from lost ones`,
    );
  }
  if (minReplicas > replicas) {
    notes.push(
      `${at}: REDIS_MIN_REPLICAS is ${minReplicas} but ${replicas} replica(s) are connected: grants will be discarded until enough replicas follow`,
    );
  }
}

async function sampleTtls(
  c: Redis,
  opts: DurabilityCheckOptions,
  cannot: (what: string, why: string) => void,
): Promise<{ sampled: number; withTtl: string[] }> {
  const limit = opts.sampleSize ?? 100;
  const keys: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, batch] = await c.scan(cursor, 'MATCH', opts.tagPattern, 'COUNT', 200);
      cursor = next;
      const tagKeys = opts.isTagKey ? batch.filter(opts.isTagKey) : batch;
      keys.push(...tagKeys.slice(0, limit - keys.length));
    } while (cursor !== '0' && keys.length < limit);
    const withTtl: string[] = [];
    for (const key of keys) {
      if (Number(await c.pttl(key)) >= 0) withTtl.push(key);
    }
    return { sampled: keys.length, withTtl };
  } catch (err) {
    cannot('TTL of tag keys', err instanceof Error ? err.message : String(err));
    return { sampled: keys.length, withTtl: [] };
  }
}

async function infoOf(c: Redis, section: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await c.info(section);
  } catch {
    return {}; // the fields stay undefined and the CONFIG fallbacks or `unchecked` say so
  }
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function intOf(s: string | undefined): number | undefined {
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

function flag(s: string | undefined, yes: string, no: string): boolean | undefined {
  return s === yes ? true : s === no ? false : undefined;
}

/** A store that can lose acknowledged writes while `REQUIRE_DURABLE_STORE=true`. */
export class StoreNotDurableError extends Error {
  override readonly name = 'StoreNotDurableError';
  constructor(readonly report: DurabilityReport) {
    super(
      `REQUIRE_DURABLE_STORE=true but the store can lose acknowledged writes: ${summary(report)}`,
    );
  }
}

/** One line: every problem and every point that could not be checked. */
export function summary(report: DurabilityReport): string {
  if (report.durable) return 'durable (AOF always, noeviction, no TTL on tag keys)';
  return [...report.problems, ...report.unchecked].join('; ');
}

/**
 * Throws unless the report says durable (for `REQUIRE_DURABLE_STORE=true`).
 * @throws StoreNotDurableError naming every problem and every unchecked point
 */
export function requireDurable(report: DurabilityReport): void {
  if (!report.durable) throw new StoreNotDurableError(report);
}
