/**
 * A Sentinel-managed set on a test network: a master, replicas and Sentinels, each a
 * `redis-server` in a namespace of its own on the standard ports (6379, 26379), and
 * service nodes (the real entry) in namespaces of their own, each writing its whole log
 * to a file of the run.
 */
import { join } from 'node:path';
import type { Network, NetHost } from './netns.js';
import { RedisServer } from './redis-server.js';
import { startServiceProcess, type ServiceProcess } from './service-process.js';
import { info, waitUntil, withClient } from './wait.js';

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;

/** A Redis process on a host of the network. */
export interface NsServer {
  readonly host: NetHost;
  readonly server: RedisServer;
}

/** Starts `redis-server` in `host`'s namespace on {@link REDIS_PORT}. */
export function startNsRedis(host: NetHost, args: readonly string[] = []): Promise<RedisServer> {
  return RedisServer.start({
    host: host.ip,
    port: REDIS_PORT,
    launcher: host.launcher,
    args: ['--repl-diskless-sync-delay', '0', ...args],
  });
}

/** Resolves once `replica` is linked to `master` and has acknowledged its offset. */
export async function waitReplicaSynced(master: NsServer, replica: NsServer): Promise<void> {
  const target = Number((await info(REDIS_PORT, 'replication', master.host.ip)).master_repl_offset);
  await waitUntil(
    async () => {
      const r = await info(REDIS_PORT, 'replication', replica.host.ip);
      if (r.master_link_status !== 'up' || r.master_host !== master.host.ip) return false;
      return Number(r.slave_repl_offset) >= target;
    },
    `replica ${replica.host.name} in sync with ${master.host.name}`,
    20_000,
    100,
  );
}

export interface NsSentinelSet {
  readonly masterName: string;
  /** The initial master first, then the replicas. */
  readonly data: readonly NsServer[];
  readonly sentinels: readonly NsServer[];
  /** `REDIS_SENTINELS` for the service nodes. */
  readonly sentinelsEnv: string;
  /** The data node that the Sentinels in `among` (default all) name as master. */
  masterNamedBy(among?: readonly NsServer[]): Promise<NsServer | undefined>;
}

export interface NsSentinelOptions {
  readonly replicas?: number;
  readonly sentinels?: number;
  readonly downAfterMs?: number;
  /** Extra `redis-server` arguments of the data nodes. */
  readonly args?: readonly string[];
}

/**
 * Starts the master, its replicas and the Sentinels (quorum 2) in namespaces of `net`,
 * and waits until every Sentinel knows every replica and every other Sentinel.
 */
export async function startNsSentinelSet(
  net: Network,
  opts: NsSentinelOptions = {},
): Promise<NsSentinelSet> {
  const masterName = 'idalloc';
  const replicas = opts.replicas ?? 2;
  const masterHost = await net.host('master');
  const master: NsServer = { host: masterHost, server: await startNsRedis(masterHost, opts.args) };
  const data: NsServer[] = [master];
  for (let i = 1; i <= replicas; i++) {
    const host = await net.host(`replica${i}`);
    const args = [...(opts.args ?? []), '--replicaof', master.host.ip, String(REDIS_PORT)];
    data.push({ host, server: await startNsRedis(host, args) });
  }
  for (const r of data.slice(1)) await waitReplicaSynced(master, r);
  const conf = [
    `sentinel monitor ${masterName} ${master.host.ip} ${REDIS_PORT} 2`,
    `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1500}`,
    `sentinel failover-timeout ${masterName} 5000`,
    `sentinel parallel-syncs ${masterName} 1`,
    'protected-mode no',
  ].join('\n');
  const sentinels: NsServer[] = [];
  for (let i = 1; i <= (opts.sentinels ?? 3); i++) {
    const host = await net.host(`sentinel${i}`);
    sentinels.push({
      host,
      server: await RedisServer.start({
        host: host.ip,
        port: SENTINEL_PORT,
        launcher: host.launcher,
        sentinelConfig: conf,
      }),
    });
  }
  await waitUntil(
    async () => {
      for (const s of sentinels) {
        const m = await sentinelMaster(s, masterName);
        if (Number(m['num-slaves']) < replicas) return false;
        if (Number(m['num-other-sentinels']) < sentinels.length - 1) return false;
      }
      return true;
    },
    'every Sentinel to know the replicas and the other Sentinels',
    30_000,
    200,
  );
  return {
    masterName,
    data,
    sentinels,
    sentinelsEnv: sentinels.map((s) => `${s.host.ip}:${SENTINEL_PORT}`).join(','),
    async masterNamedBy(among = sentinels) {
      const votes = new Map<string, number>();
      for (const s of among) {
        try {
          const addr = await withClient(
            SENTINEL_PORT,
            (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName),
            s.host.ip,
          );
          if (Array.isArray(addr)) {
            const ipOf = String(addr[0]);
            votes.set(ipOf, (votes.get(ipOf) ?? 0) + 1);
          }
        } catch {
          // a Sentinel that does not answer has no vote
        }
      }
      const [best] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
      return data.find((d) => d.host.ip === best);
    },
  };
}

async function sentinelMaster(s: NsServer, name: string): Promise<Record<string, string>> {
  const flat = await withClient(
    SENTINEL_PORT,
    (c) => c.call('SENTINEL', 'MASTER', name),
    s.host.ip,
  );
  const out: Record<string, string> = {};
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  }
  return out;
}

/** The `role` a data node reports now (`master`, `slave`), or `unreachable`. */
export async function roleOf(s: NsServer): Promise<string> {
  try {
    return (await info(REDIS_PORT, 'replication', s.host.ip)).role ?? 'unknown';
  } catch {
    return 'unreachable';
  }
}

/**
 * A service node in `host`'s namespace, listening on port 8080 of its address, its whole
 * output appended to `<logDir>/<file>.log`.
 */
export function startNsService(
  host: NetHost,
  env: Record<string, string>,
  logDir: string,
  file: string,
): Promise<ServiceProcess> {
  return startServiceProcess({ PORT: '8080', ...env }, 30_000, {
    launcher: host.launcher,
    host: host.ip,
    logFile: join(logDir, `${file}.log`),
  });
}
