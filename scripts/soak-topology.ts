/**
 * The Redis topologies the soak script starts for itself (with the helpers the fault
 * tests use), each with the environment a service node needs to reach it and a `fault()`
 * that SIGKILLs the Redis process a node's tags depend on and brings it back.
 */
import type { RedisTopology } from '../src/core/settings.js';
import { startCluster } from '../test/support/cluster.js';
import { RedisServer } from '../test/support/redis-server.js';
import { startSentinelSet } from '../test/support/sentinel.js';
import { info, waitUntil } from '../test/support/wait.js';

export type TopologyKind = 'standalone' | 'sentinel' | 'cluster';

/** What one fault did, in ms since it began. */
export interface FaultReport {
  readonly at: number;
  readonly what: string;
  /** Until a master served the data again (restart, or promotion of a replica). */
  readonly masterBackMs: number;
  /** Until the killed process ran again (restarted; for failovers, as a replica). */
  readonly restartedMs: number;
}

export interface SoakTopology {
  readonly kind: TopologyKind;
  /** Service environment for this topology (REDIS_URL, REDIS_SENTINELS, …). */
  readonly env: Record<string, string>;
  readonly topology: RedisTopology;
  /** SIGKILLs a master, waits until the data is served again, restarts the process. */
  fault(): Promise<FaultReport>;
  dispose(): Promise<void>;
}

/** Every data node keeps an AOF fsynced on every write (the settings to deploy with). */
const DURABLE = ['--appendonly', 'yes', '--appendfsync', 'always'];

export async function startTopology(kind: TopologyKind, downMs: number): Promise<SoakTopology> {
  switch (kind) {
    case 'standalone': {
      const server = await RedisServer.start({ args: DURABLE });
      return {
        kind,
        env: { REDIS_URL: server.url },
        topology: { kind: 'redis', url: server.url },
        async fault() {
          const at = Date.now();
          await server.kill('SIGKILL');
          await new Promise((r) => setTimeout(r, downMs));
          await server.start(); // same port and directory: the AOF is replayed
          const back = Date.now() - at;
          return {
            at,
            what: `SIGKILL redis ${server.port}`,
            masterBackMs: back,
            restartedMs: back,
          };
        },
        dispose: () => server.dispose(),
      };
    }
    case 'sentinel': {
      const set = await startSentinelSet({ replicas: 2, args: DURABLE });
      return {
        kind,
        env: { REDIS_SENTINELS: set.sentinelsEnv, REDIS_SENTINEL_MASTER: set.masterName },
        topology: { kind: 'sentinel', sentinels: set.sentinelEndpoints, master: set.masterName },
        async fault() {
          const master = await set.currentMaster();
          const at = Date.now();
          await master.kill('SIGKILL');
          await set.waitForFailover(master);
          const masterBackMs = Date.now() - at;
          await master.start();
          // The Sentinels turn the old master into a replica of the new one.
          await waitUntil(
            async () => (await info(master.port, 'replication')).master_link_status === 'up',
            `old master ${master.port} to follow the new one`,
            60_000,
            200,
          );
          return {
            at,
            what: `SIGKILL sentinel master ${master.port}`,
            masterBackMs,
            restartedMs: Date.now() - at,
          };
        },
        dispose: () => set.dispose(),
      };
    }
    case 'cluster': {
      const cluster = await startCluster({ args: DURABLE });
      let turn = 0;
      return {
        kind,
        env: { REDIS_CLUSTER_NODES: cluster.seedsEnv },
        topology: { kind: 'cluster', nodes: cluster.seeds },
        async fault() {
          const masters = (await cluster.topology()).filter((n) => n.role === 'master');
          const victim = cluster.nodes.find(
            (n) => n.port === masters[turn++ % masters.length]!.port,
          )!;
          const slot = Number(masters.find((m) => m.port === victim.port)!.slots[0]!.split('-')[0]);
          const at = Date.now();
          await victim.kill('SIGKILL');
          await waitUntil(
            async () => (await cluster.masterOf(slot)) !== victim,
            `a replica to take over the slots of ${victim.port}`,
            60_000,
            100,
          );
          const masterBackMs = Date.now() - at;
          await victim.start(); // rejoins from nodes.conf, as a replica
          await cluster.waitForOk(60_000);
          await waitUntil(
            async () => (await info(victim.port, 'replication')).master_link_status === 'up',
            `node ${victim.port} to follow its new master`,
            60_000,
            200,
          );
          return {
            at,
            what: `SIGKILL cluster master ${victim.port}`,
            masterBackMs,
            restartedMs: Date.now() - at,
          };
        },
        dispose: () => cluster.dispose(),
      };
    }
  }
}
