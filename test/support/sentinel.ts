/**
 * A Sentinel-managed set: a master, replicas, and three Sentinels
 * (`redis-server <conf> --sentinel`) with quorum 2, `down-after-milliseconds 1000` and
 * `failover-timeout 5000`, so a SIGKILLed master is replaced in a few seconds.
 */
import { RedisServer } from './redis-server.js';
import { disposeAll, startReplicated, type ReplicatedSet } from './replication.js';
import { waitUntil, withClient } from './wait.js';

export interface SentinelSetOptions {
  /** Replicas of the master; default 2. */
  readonly replicas?: number;
  /** Sentinels; default 3 (quorum 2). */
  readonly sentinels?: number;
  /** The monitored master's name; default 'idalloc'. */
  readonly masterName?: string;
  /** Extra `redis-server` arguments for the data nodes. */
  readonly args?: readonly string[];
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface SentinelSet {
  readonly masterName: string;
  /** The data nodes: the initial master first, then the replicas. */
  readonly servers: readonly RedisServer[];
  readonly sentinels: readonly RedisServer[];
  /** `host:port` of every Sentinel, as `REDIS_SENTINELS` lists them. */
  readonly sentinelEndpoints: readonly Endpoint[];
  /** `REDIS_SENTINELS` as a string. */
  readonly sentinelsEnv: string;
  /** The master a majority of the live Sentinels name now. */
  currentMaster(): Promise<RedisServer>;
  /** Resolves with the new master once the Sentinels have replaced `old`. */
  waitForFailover(old: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /** Kills every process (data nodes and Sentinels). */
  dispose(): Promise<void>;
}

export async function startSentinelSet(opts: SentinelSetOptions = {}): Promise<SentinelSet> {
  const masterName = opts.masterName ?? 'idalloc';
  const replicas = opts.replicas ?? 2;
  const data: ReplicatedSet = await startReplicated({
    replicas,
    ...(opts.args ? { args: opts.args } : {}),
  });
  const sentinels: RedisServer[] = [];
  const dispose = () => disposeAll([...sentinels, ...data.servers]);
  try {
    const conf = [
      `sentinel monitor ${masterName} 127.0.0.1 ${data.master.port} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
    ].join('\n');
    for (let i = 0; i < (opts.sentinels ?? 3); i++) {
      sentinels.push(await RedisServer.start({ sentinelConfig: conf }));
    }
    // Ready once every Sentinel has found the replicas and the other Sentinels (they
    // discover each other through the master's hello channel, every 2 s).
    await waitUntil(
      async () => {
        for (const s of sentinels) {
          const m = await sentinelMaster(s.port, masterName);
          if (Number(m['num-slaves']) < replicas) return false;
          if (Number(m['num-other-sentinels']) < sentinels.length - 1) return false;
        }
        return true;
      },
      'every Sentinel to know the replicas and the other Sentinels',
      30_000,
      200,
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  const byPort = (port: number) => data.servers.find((s) => s.port === port);
  const currentMaster = async (): Promise<RedisServer> => {
    const votes = new Map<number, number>();
    for (const s of sentinels.filter((x) => x.running)) {
      try {
        const port = await masterPort(s.port, masterName);
        votes.set(port, (votes.get(port) ?? 0) + 1);
      } catch {
        // a Sentinel that does not answer has no vote
      }
    }
    const [port] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
    const server = port === undefined ? undefined : byPort(port);
    if (!server) throw new Error(`no Sentinel names a known master (votes: ${[...votes]})`);
    return server;
  };
  return {
    masterName,
    servers: data.servers,
    sentinels,
    sentinelEndpoints: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    sentinelsEnv: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    currentMaster,
    async waitForFailover(old, timeoutMs = 30_000) {
      let found: RedisServer | undefined;
      await waitUntil(
        async () => {
          const m = await currentMaster();
          if (m === old || !m.running) return false;
          const role = await withClient(m.port, (c) => c.role());
          if (role[0] !== 'master') return false;
          found = m;
          return true;
        },
        `the Sentinels to replace master ${old.port}`,
        timeoutMs,
        100,
      );
      return found!;
    },
    dispose,
  };
}

async function sentinelMaster(port: number, name: string): Promise<Record<string, string>> {
  const flat = await withClient(port, (c) => c.call('SENTINEL', 'MASTER', name));
  const out: Record<string, string> = {};
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  }
  return out;
}

async function masterPort(port: number, name: string): Promise<number> {
  const addr = await withClient(port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name));
  if (!Array.isArray(addr) || addr.length !== 2) throw new Error(`no master named ${name}`);
  return Number(addr[1]);
}
