/**
 * A local Redis Cluster: masters with one replica each (`--cluster-enabled yes`, then
 * `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`), ready once every
 * node reports `cluster_state:ok`. Nodes can be killed, restarted and failed over.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisServer } from './redis-server.js';
import { disposeAll } from './replication.js';
import { info, parseInfo, waitUntil, withClient } from './wait.js';

const run = promisify(execFile);

export interface ClusterOptions {
  /** Masters; default 3 (the least Redis Cluster accepts). */
  readonly masters?: number;
  /** Replicas per master; default 1. */
  readonly replicasPerMaster?: number;
  /** `cluster-node-timeout`: how soon a silent node counts as failing; default 1000 ms. */
  readonly nodeTimeoutMs?: number;
  /** Extra `redis-server` arguments for every node. */
  readonly args?: readonly string[];
}

/** One line of `CLUSTER NODES`, as seen by a node. */
export interface ClusterNodeInfo {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** The master's node id, for a replica. */
  readonly masterId: string | undefined;
  /** `fail` or `fail?` is among the flags. */
  readonly failing: boolean;
  /** Slot ranges, e.g. ['0-5460']. */
  readonly slots: readonly string[];
}

export interface LocalCluster {
  readonly nodes: readonly RedisServer[];
  /** Every node as `REDIS_CLUSTER_NODES` seeds. */
  readonly seeds: readonly { host: string; port: number }[];
  /** `REDIS_CLUSTER_NODES` as a string. */
  readonly seedsEnv: string;
  /** The cluster as a live node sees it now. */
  topology(): Promise<ClusterNodeInfo[]>;
  /** The server that is master of `slot` now. */
  masterOf(slot: number): Promise<RedisServer>;
  /** The live replicas of `master` now. */
  replicasOf(master: RedisServer): Promise<RedisServer[]>;
  /**
   * Promotes `replica` at once without its master's agreement
   * (`CLUSTER FAILOVER TAKEOVER`), and waits until it reports role:master.
   */
  takeover(replica: RedisServer): Promise<void>;
  /** Resolves once every live node reports `cluster_state:ok` and agrees on `masters` masters. */
  waitForOk(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  const masters = opts.masters ?? 3;
  const total = masters * (1 + (opts.replicasPerMaster ?? 1));
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < total; i++) {
      // The config file lives in the node's own directory, so a restart rejoins.
      const node: RedisServer = await RedisServer.start({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(opts.nodeTimeoutMs ?? 1000),
          '--repl-diskless-sync-delay',
          '0',
          ...(opts.args ?? []),
        ],
      });
      nodes.push(node);
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(opts.replicasPerMaster ?? 1),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
  } catch (err) {
    await disposeAll(nodes);
    throw err;
  }
  const byPort = (port: number) => {
    const n = nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no local node on port ${port}`);
    return n;
  };
  const topology = async (): Promise<ClusterNodeInfo[]> => {
    let last: unknown;
    for (const n of nodes.filter((x) => x.running)) {
      try {
        return parseClusterNodes(await withClient(n.port, (c) => c.cluster('NODES')));
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no live cluster node answers CLUSTER NODES: ${String(last)}`);
  };
  const cluster: LocalCluster = {
    nodes,
    seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    seedsEnv: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    topology,
    async masterOf(slot) {
      const owner = (await topology()).find(
        (n) => n.role === 'master' && !n.failing && n.slots.some((r) => inRange(r, slot)),
      );
      if (!owner) throw new Error(`no live master owns slot ${slot}`);
      return byPort(owner.port);
    },
    async replicasOf(master) {
      const all = await topology();
      const m = all.find((n) => n.port === master.port);
      return all
        .filter((n) => n.role === 'replica' && n.masterId === m?.id && !n.failing)
        .map((n) => byPort(n.port))
        .filter((s) => s.running);
    },
    async takeover(replica) {
      await withClient(replica.port, (c) => c.cluster('FAILOVER', 'TAKEOVER'));
      await waitUntil(
        async () => (await info(replica.port, 'replication')).role === 'master',
        `node ${replica.port} to become master`,
      );
    },
    async waitForOk(timeoutMs = 30_000) {
      await waitUntil(
        async () => {
          for (const n of nodes.filter((x) => x.running)) {
            const state = parseInfo(String(await withClient(n.port, (c) => c.cluster('INFO'))));
            if (state.cluster_state !== 'ok') return false;
            const view = parseClusterNodes(await withClient(n.port, (c) => c.cluster('NODES')));
            const live = view.filter((v) => v.role === 'master' && !v.failing && v.slots.length);
            if (live.length !== masters) return false;
          }
          return true;
        },
        'cluster_state:ok on every live node',
        timeoutMs,
        100,
      );
    },
    dispose: () => disposeAll(nodes),
  };
  try {
    await cluster.waitForOk();
    // Every replica attached and synced, so a failover has somewhere to go.
    await waitUntil(async () => {
      for (const n of nodes) {
        const r = await info(n.port, 'replication');
        if (r.role === 'slave' && r.master_link_status !== 'up') return false;
      }
      // …and known as such in the view the helpers read (gossip can lag the link).
      const view = await topology();
      const known = view.filter((v) => v.role === 'replica' && !v.failing && v.masterId);
      return known.length === nodes.length - masters;
    }, 'every cluster replica linked to its master and known as its replica');
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

function inRange(range: string, slot: number): boolean {
  const [from, to] = range.split('-').map(Number);
  return from !== undefined && slot >= from && slot <= (to ?? from);
}

/** `CLUSTER NODES` text as records (slot-migration entries like `[1-<-id]` are skipped). */
export function parseClusterNodes(text: unknown): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const line of String(text).split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const [id, addr, flags, master] = f as [string, string, string, string];
    const flagList = flags.split(',');
    out.push({
      id,
      port: Number(/:(\d+)@/.exec(addr)?.[1] ?? NaN),
      role: flagList.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      failing: flagList.includes('fail') || flagList.includes('fail?'),
      slots: f.slice(8).filter((s) => !s.startsWith('[')),
    });
  }
  return out;
}
