/**
 * Which master of a Redis Cluster owns a slot, from `CLUSTER SLOTS` read by idalloc
 * itself. The ioredis Cluster client keeps a slot map too, but with `stringNumbers` (which
 * a caller's client may well have, for 64-bit values) ioredis 6 compares the slot bounds
 * as strings and leaves whole ranges unmapped; the allocation path must not depend on it.
 */
import type { Cluster, Redis } from 'ioredis';

interface SlotRange {
  readonly from: number;
  readonly to: number;
  /** `host:port` of the master, as the Cluster client names its node connections. */
  readonly node: string;
}

interface Route {
  ranges: readonly SlotRange[];
  loading: Promise<void> | undefined;
}

const routes = new WeakMap<Cluster, Route>();

/** The `host:port` of the master that owns `slot`, loading the map on first use. */
export async function slotOwner(cluster: Cluster, slot: number): Promise<string | undefined> {
  let route = routes.get(cluster);
  if (!route) {
    await reloadRoutes(cluster);
    route = routes.get(cluster);
  }
  return route?.ranges.find((r) => slot >= r.from && slot <= r.to)?.node;
}

/** The Cluster client's connection to the master `node` (`host:port`), if it has one. */
export function masterConnection(cluster: Cluster, node: string | undefined): Redis | undefined {
  if (node === undefined) return undefined;
  return cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === node);
}

/** Reads `CLUSTER SLOTS` again from the first master that answers (one load at a time). */
export function reloadRoutes(cluster: Cluster): Promise<void> {
  const route = routes.get(cluster) ?? { ranges: [], loading: undefined };
  routes.set(cluster, route);
  route.loading ??= (async () => {
    try {
      let last: unknown = new Error('the Cluster client knows no master');
      for (const node of cluster.nodes('master')) {
        try {
          route.ranges = parseClusterSlots(await node.cluster('SLOTS'), cluster);
          return;
        } catch (err) {
          last = err; // that master may be the one that failed: ask the next
        }
      }
      throw last;
    } finally {
      route.loading = undefined;
    }
  })();
  return route.loading;
}

/** `CLUSTER SLOTS` → ranges with their master, bounds read as numbers. */
export function parseClusterSlots(reply: unknown, cluster?: Cluster): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error('CLUSTER SLOTS did not answer an array');
  const out: SlotRange[] = [];
  for (const item of reply as unknown[]) {
    if (!Array.isArray(item) || item.length < 3 || !Array.isArray(item[2])) continue;
    const from = Number(item[0]);
    const to = Number(item[1]);
    const [host, port] = item[2] as unknown[];
    if (!Number.isInteger(from) || !Number.isInteger(to) || typeof host !== 'string') continue;
    out.push({ from, to, node: natMapped(cluster, host, Number(port)) });
  }
  return out;
}

/** Applies the client's `natMap`, as ioredis does to the addresses it connects to. */
function natMapped(cluster: Cluster | undefined, host: string, port: number): string {
  const key = `${host}:${port}`;
  const map = cluster?.options.natMap;
  const to = typeof map === 'function' ? map(key) : map?.[key];
  return to?.host !== undefined && to.port !== undefined ? `${to.host}:${to.port}` : key;
}
