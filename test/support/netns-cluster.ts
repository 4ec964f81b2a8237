/**
 * A Redis Cluster on a test network: each node a `redis-server --cluster-enabled yes` in a
 * namespace of its own on port 6379 (bus 16379), created with
 * `redis-cli --cluster create … --cluster-replicas 1` from the root side of the bridge.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Network } from './netns.js';
import { REDIS_PORT, startNsRedis, type NsServer } from './netns-sentinel.js';
import { info, parseInfo, waitUntil, withClient } from './wait.js';

const run = promisify(execFile);

/** One line of `CLUSTER NODES` with the node's address. */
export interface NsClusterNode {
  readonly id: string;
  readonly ip: string;
  readonly role: 'master' | 'replica';
  readonly masterId: string | undefined;
  readonly failing: boolean;
  readonly slots: readonly string[];
}

export interface NsCluster {
  readonly nodes: readonly NsServer[];
  /** `REDIS_CLUSTER_NODES` for the service nodes. */
  readonly seedsEnv: string;
  /** The cluster as `from` sees it now. */
  view(from: NsServer): Promise<NsClusterNode[]>;
  /** The server `from` names as the live master of `slot`, if any. */
  masterOf(slot: number, from: NsServer): Promise<NsServer | undefined>;
  /** The server `from` names as the replica of `master`. */
  replicaOf(master: NsServer, from: NsServer): Promise<NsServer | undefined>;
}

export async function startNsCluster(net: Network, nodeTimeoutMs: number): Promise<NsCluster> {
  const nodes: NsServer[] = [];
  for (let i = 1; i <= 6; i++) {
    const host = await net.host(`redis${i}`);
    const server = await startNsRedis(host, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
    ]);
    nodes.push({ host, server });
  }
  const addrs = nodes.map((n) => `${n.host.ip}:${REDIS_PORT}`);
  await run(
    'redis-cli',
    ['--cluster', 'create', ...addrs, '--cluster-replicas', '1', '--cluster-yes'],
    {
      timeout: 60_000,
    },
  );
  const byIp = (ip: string) => nodes.find((n) => n.host.ip === ip);
  const view = async (from: NsServer) =>
    parseNodes(await withClient(REDIS_PORT, (c) => c.cluster('NODES'), from.host.ip));
  await waitUntil(
    async () => {
      for (const n of nodes) {
        const state = parseInfo(
          String(await withClient(REDIS_PORT, (c) => c.cluster('INFO'), n.host.ip)),
        );
        if (state.cluster_state !== 'ok') return false;
        const r = await info(REDIS_PORT, 'replication', n.host.ip);
        if (r.role === 'slave' && r.master_link_status !== 'up') return false;
        const v = await view(n);
        if (v.filter((x) => x.role === 'master' && x.slots.length > 0).length !== 3) return false;
      }
      return true;
    },
    'cluster_state:ok and every replica linked, on every node',
    40_000,
    200,
  );
  return {
    nodes,
    seedsEnv: addrs.join(','),
    view,
    async masterOf(slot, from) {
      const owner = (await view(from)).find(
        (n) => n.role === 'master' && !n.failing && n.slots.some((r) => inRange(r, slot)),
      );
      return owner && byIp(owner.ip);
    },
    async replicaOf(master, from) {
      const v = await view(from);
      const m = v.find((n) => n.ip === master.host.ip);
      const r = v.find((n) => n.role === 'replica' && n.masterId === m?.id);
      return r && byIp(r.ip);
    },
  };
}

function inRange(range: string, slot: number): boolean {
  const [from, to] = range.split('-').map(Number);
  return from !== undefined && slot >= from && slot <= (to ?? from);
}

function parseNodes(text: unknown): NsClusterNode[] {
  const out: NsClusterNode[] = [];
  for (const line of String(text).split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const [id, addr, flags, master] = f as [string, string, string, string];
    const flagList = flags.split(',');
    out.push({
      id,
      ip: addr.split(':')[0] ?? '',
      role: flagList.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      failing: flagList.includes('fail') || flagList.includes('fail?'),
      slots: f.slice(8).filter((s) => !s.startsWith('[')),
    });
  }
  return out;
}
