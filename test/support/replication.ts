/**
 * A master with replicas (`--replicaof`), each a throwaway {@link RedisServer}: wait
 * until a replica is in sync, cut a replica off, promote one (`REPLICAOF NO ONE`).
 */
import { RedisServer } from './redis-server.js';
import { info, waitUntil, withClient } from './wait.js';

export interface ReplicatedSetOptions {
  /** How many replicas; default 1. */
  readonly replicas?: number;
  /** Extra `redis-server` arguments for every node (master and replicas). */
  readonly args?: readonly string[];
}

export interface ReplicatedSet {
  readonly master: RedisServer;
  readonly replicas: readonly RedisServer[];
  /** Master first, then the replicas. */
  readonly servers: readonly RedisServer[];
  /** Resolves once `replica` (default: every replica) holds all the master has written. */
  waitInSync(replica?: RedisServer): Promise<void>;
  /** Makes `replica` a master of its own (`REPLICAOF NO ONE`): it stops following. */
  promote(replica: RedisServer): Promise<void>;
  /** Points `server` at `master` (`REPLICAOF host port`) and waits until it is in sync. */
  follow(server: RedisServer, master: RedisServer): Promise<void>;
  /** Kills every process and removes their directories. */
  dispose(): Promise<void>;
}

/** Starts a master and `replicas` replicas of it, and waits until all are in sync. */
export async function startReplicated(opts: ReplicatedSetOptions = {}): Promise<ReplicatedSet> {
  // A replica's first sync must not wait for more replicas to batch (default 5 s).
  const args = ['--repl-diskless-sync-delay', '0', ...(opts.args ?? [])];
  const started: RedisServer[] = [];
  try {
    const master = await RedisServer.start({ args });
    started.push(master);
    const replicas: RedisServer[] = [];
    for (let i = 0; i < (opts.replicas ?? 1); i++) {
      const r = await RedisServer.start({
        args: [...args, '--replicaof', '127.0.0.1', String(master.port)],
      });
      started.push(r);
      replicas.push(r);
    }
    const set: ReplicatedSet = {
      master,
      replicas,
      servers: [master, ...replicas],
      async waitInSync(replica) {
        for (const r of replica ? [replica] : replicas) await waitInSync(master, r);
      },
      promote: (replica) => promote(replica),
      async follow(server, to) {
        await withClient(server.port, (c) => c.replicaof('127.0.0.1', to.port));
        await waitInSync(to, server);
      },
      dispose: () => disposeAll(started),
    };
    await set.waitInSync();
    // A replica that has just synced may answer its first GETACK only with its next
    // periodic ACK (up to 1 s later, seen on 7.0): take that first slow WAIT here, so
    // a test's own first WAIT measures the replication it means to.
    await withClient(master.port, async (c) => {
      await c.set('idalloc-test:warm-up', '1');
      await c.wait(replicas.length, 5000);
    });
    return set;
  } catch (err) {
    await disposeAll(started);
    throw err;
  }
}

/**
 * Resolves once `replica`'s link to `master` is up, its initial sync is done, and it has
 * acknowledged at least the master's replication offset as read when the wait began.
 */
export async function waitInSync(
  master: RedisServer,
  replica: RedisServer,
  timeoutMs = 20_000,
): Promise<void> {
  const target = Number((await info(master.port, 'replication')).master_repl_offset ?? 0);
  await waitUntil(
    async () => {
      const r = await info(replica.port, 'replication');
      if (r.master_link_status !== 'up' || r.master_sync_in_progress !== '0') return false;
      if (Number(r.master_port) !== master.port) return false;
      // The master's own view: this replica online and acknowledged up to the target.
      const m = await info(master.port, 'replication');
      return Object.entries(m).some(([k, v]) => {
        if (!/^slave\d+$/.test(k)) return false;
        const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
        return (
          Number(f.port) === replica.port && f.state === 'online' && Number(f.offset) >= target
        );
      });
    },
    `replica ${replica.port} in sync with master ${master.port} at offset ${target}`,
    timeoutMs,
  );
}

/** `REPLICAOF NO ONE`, then waits until the server reports role:master. */
export async function promote(replica: RedisServer): Promise<void> {
  await withClient(replica.port, (c) => c.replicaof('NO', 'ONE'));
  await waitUntil(
    async () => (await info(replica.port, 'replication')).role === 'master',
    `server ${replica.port} to report role:master`,
  );
}

/** Kills and removes every server, ignoring the ones already gone. */
export async function disposeAll(servers: readonly RedisServer[]): Promise<void> {
  await Promise.allSettled(servers.map((s) => s.dispose()));
}
