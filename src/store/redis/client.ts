/**
 * Builds the ioredis clients for the configured topology (docs/design.md §10, §11): standalone
 * (`REDIS_URL`), Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`) or Cluster
 * (`REDIS_CLUSTER_NODES`).
 *
 * Two clients: a general one for admin work and readiness, and the allocation client,
 * which never queues commands while offline and never resends them after a reconnect
 * (docs/design.md §8), so that a reply always belongs to the connection the guards checked.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { jitteredBackoff } from '../../core/backoff.js';
import type { RedisTopology } from '../../core/settings.js';
import { defineScripts } from './scripts.js';
import { masterConnection, reloadRoutes, slotOwner } from './cluster-route.js';
import { keySlot } from './slot.js';

export type RedisLike = Redis | Cluster;

/** Backoff between reconnects: 50 ms doubling to 2 s, with jitter. */
function retryStrategy(times: number): number {
  return Math.round(jitteredBackoff(times, 50, 2000, Math.random()));
}

/**
 * A master demoted to replica (a healed partition, a Sentinel failover seen late) keeps
 * the connection open and answers every write READONLY: reconnect, so that Sentinel names
 * the current master — and never resend the refused command (1, not 2).
 */
function reconnectOnError(err: Error): boolean | 1 {
  return /^READONLY\b/.test(err.message) ? 1 : false;
}

const common: RedisOptions = {
  // IDs go up to 2^63: never let a reply pass through a double.
  stringNumbers: true,
  retryStrategy,
  reconnectOnError,
  connectTimeout: 2000,
};

/**
 * Options of the allocation connection: fail fast, never replay (docs/design.md §8). A server that
 * stops answering (partitioned away, frozen) leaves a TCP connection that stays open for
 * minutes, and ioredis asks the Sentinels again only when a connection closes: so a
 * connection that gets no byte back within the command timeout is dropped
 * (`socketTimeout`), and the reconnect asks the Sentinels (or, in a Cluster, the next
 * allocation reads the slot map again) — see {@link timeouts}.
 */
export const allocationOptions: RedisOptions = Object.freeze({
  ...common,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  ...timeouts(2000),
  maxRetriesPerRequest: 0,
});

/** Options of the general connection (admin script, readiness, leases). */
export const generalOptions: RedisOptions = Object.freeze({
  ...common,
  maxRetriesPerRequest: 2,
  ...timeouts(5000),
});

/**
 * A command timeout, and the same limit on silence while a reply is awaited: a command
 * that times out fails, and its connection is dropped with it instead of being kept for
 * the next command (a half-dead socket would time that one out too).
 */
function timeouts(ms: number): Pick<RedisOptions, 'commandTimeout' | 'socketTimeout'> {
  return { commandTimeout: ms, socketTimeout: ms };
}

/** Per-client settings beyond the role's defaults. */
export interface ClientSettings {
  /**
   * Longest a command may take, in ms. The allocation connection's `WAIT` blocks up to
   * `REDIS_WAIT_TIMEOUT_MS`, so its timeout must be longer than that.
   * @default 2000 (allocation), 5000 (general)
   */
  readonly commandTimeoutMs?: number;
}

function build(t: RedisTopology, opts: RedisOptions, name: string): RedisLike {
  const connectionName = `idalloc-${name}`;
  switch (t.kind) {
    case 'redis':
      return new Redis(t.url, { ...opts, connectionName });
    case 'sentinel':
      return new Redis({
        ...opts,
        connectionName,
        sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: t.master,
        sentinelRetryStrategy: retryStrategy,
        // Not ioredis's `failoverDetector`: a +switch-master that arrives while the
        // client is reconnecting ends the client for good ("Connection is closed.",
        // status 'end'), seen in the partition tests. The socket timeout suffices.
      });
    case 'cluster': {
      // Node connections of a Cluster client never reconnect (ioredis replaces them after
      // a slot refresh), and ioredis forces their offline queue on: it only holds the
      // commands sent before a new node's first connect, never a replay.
      const clusterOpts: ClusterOptions = {
        // Not `stringNumbers` here: ioredis 6 reads the CLUSTER SLOTS reply through the
        // same options, and with string slot bounds it skips every range that does not
        // start at 0 or 10923 ("5461" <= "10922" is false), leaving those slots unmapped
        // (the bug of ioredis#1395, back); commands to them then go by MOVED. Allocation
        // routes by its own map (cluster-route.ts) either way. IDs never travel as
        // integer replies: the scripts return them as decimal strings.
        redisOptions: { ...opts, stringNumbers: false, connectionName },
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: opts.enableOfflineQueue ?? true,
        maxRedirections: 16,
        retryDelayOnFailover: 200,
      };
      return new Cluster(
        t.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOpts,
      );
    }
  }
}

/** A client with the idalloc scripts defined on it. */
export function createRedisClient(
  t: RedisTopology,
  role: 'general' | 'allocation',
  settings: ClientSettings = {},
): RedisLike {
  const base = role === 'allocation' ? allocationOptions : generalOptions;
  const opts =
    settings.commandTimeoutMs === undefined
      ? base
      : { ...base, ...timeouts(settings.commandTimeoutMs) };
  const client = build(t, opts, role);
  defineScripts(client);
  if (client instanceof Redis) trackConnectionEpoch(client);
  return client;
}

const epochs = new WeakMap<Redis, { value: number }>();

/**
 * Counts the connections a client has made from now on: the epoch rises on every
 * `ready`, so a reply and a later command on the same epoch went over the same
 * connection (docs/design.md §8.3). Idempotent.
 */
export function trackConnectionEpoch(conn: Redis): void {
  if (epochs.has(conn)) return;
  const epoch = { value: 0 };
  epochs.set(conn, epoch);
  conn.on('ready', () => {
    epoch.value += 1;
  });
}

/** The connection epoch of a tracked client (see {@link trackConnectionEpoch}). */
export function connectionEpoch(conn: Redis): number {
  const epoch = epochs.get(conn);
  if (!epoch) throw new Error('connectionEpoch of a client that is not tracked');
  return epoch.value;
}

/** Resolves once `c` is ready; rejects after `timeoutMs` or when it closed for good. */
export function whenReady(c: RedisLike, timeoutMs: number): Promise<void> {
  if (c.status === 'ready') return Promise.resolve();
  if (c.status === 'end') return Promise.reject(new Error('the connection is closed for good'));
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      c.off('ready', onReady);
      reject(new Error(`not connected within ${timeoutMs} ms (status '${c.status}')`));
    }, timeoutMs);
    c.once('ready', onReady);
  });
}

const scriptedNodes = new WeakSet<Redis>();

/**
 * The connection an allocation of `key` must go through, so that its `WAIT` can follow
 * on the same connection to the same node: the client itself for standalone and
 * Sentinel; for a Cluster, the connection to the master that owns the key's slot (the
 * Cluster client would route a bare `WAIT` to a random node, and resend a command whose
 * connection closed).
 * @throws Error when the client is not connected within `readyTimeoutMs`, or no master
 *   of the slot is known (a slot refresh is started).
 */
export async function allocationConnection(
  client: RedisLike,
  key: string,
  readyTimeoutMs: number,
): Promise<Redis> {
  await whenReady(client, readyTimeoutMs);
  if (client instanceof Redis) return client;
  const slot = keySlot(key);
  let node = masterConnection(client, await slotOwner(client, slot));
  if (!node) {
    // A failover or a reshard moved the slot, or a master died: read the maps again.
    await refreshSlots(client);
    node = masterConnection(client, await slotOwner(client, slot));
  }
  if (!node) throw new Error(`no connected master owns slot ${slot} (of '${key}') now`);
  if (!scriptedNodes.has(node)) {
    defineScripts(node);
    scriptedNodes.add(node);
  }
  trackConnectionEpoch(node);
  return node;
}

/**
 * True when a Cluster node refused a command without running it because the slot lives
 * elsewhere or the cluster is reconfiguring: safe to retry after a slot refresh.
 */
export function isRedirection(err: unknown): boolean {
  return err instanceof Error && /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN) /.test(err.message);
}

/**
 * Refreshes both slot maps of a Cluster client, ioredis's (which picks the node
 * connections) and idalloc's (see cluster-route.ts); resolves after both, or after
 * `timeoutMs`.
 */
export function refreshSlots(cluster: Cluster, timeoutMs = 1000): Promise<void> {
  const ours = reloadRoutes(cluster).catch(() => undefined); // the next lookup reports it
  const theirs = new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void Promise.all([ours, theirs]).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A connection of `role` derived from a client the caller built (the library's
 * `redis` option): the caller's connection settings, with the role's command rules on
 * top — for the allocation role no offline queue, no resend, no retries (docs/design.md §8).
 */
export function duplicateClient(
  client: RedisLike,
  role: 'general' | 'allocation',
  settings: ClientSettings = {},
): RedisLike {
  const opts: RedisOptions = {
    ...(role === 'allocation' ? allocationOptions : {}),
    // Both timeouts, as createRedisClient sets them: a socket timeout shorter than a
    // raised command timeout would cut a long WAIT and reconnect.
    ...(settings.commandTimeoutMs === undefined ? {} : timeouts(settings.commandTimeoutMs)),
    connectionName: `idalloc-${role}`,
  };
  const copy =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          ...client.options,
          ...(role === 'allocation' ? { enableOfflineQueue: false } : {}),
          redisOptions: { ...client.options.redisOptions, ...opts },
        })
      : client.duplicate(opts);
  defineScripts(copy);
  if (copy instanceof Redis) trackConnectionEpoch(copy);
  return copy;
}
