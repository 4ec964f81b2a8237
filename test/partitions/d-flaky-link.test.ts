/**
 * Scenario d: a flaky link. A master and a replica, two service nodes, each in a
 * namespace of its own; every link to Redis — node A's, node B's and the replica's
 * replication link — goes through a relay (test/support/flaky-proxy.ts) that for a while
 * delays, stalls, splits, resets and black-holes traffic, while iptables rules in the
 * namespaces drop and duplicate packets on those links (real loss below TCP). Node A runs with
 * `REDIS_MIN_REPLICAS=1` (its grants need the flaky replication link too), node B
 * without. Replies lost mid-flight, connections reset between a grant and its `WAIT`,
 * half-dead sockets: none may make a node serve an ID twice, and both serve again once
 * the link is clean.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FlakyProxy } from '../support/flaky-proxy.js';
import { httpTarget, Load } from '../support/load.js';
import { Network, type NetHost } from '../support/netns.js';
import { REDIS_PORT, startNsRedis, startNsService } from '../support/netns-sentinel.js';
import {
  allIds,
  formatFigures,
  mark,
  sideFigures,
  auditNodes,
} from '../support/partition-report.js';
import { testPrefix } from '../support/prefix.js';
import { Scene } from '../support/scene.js';
import { segmentTag, testStore } from '../support/store.js';
import { info, pause, waitUntil } from '../support/wait.js';

const execFileP = promisify(execFile);

const TAGS = ['order', 'invoice'];
const FLAKY_MS = 12_000;
const FAULTS = { stallChance: 0.03, resetChance: 0.02, blackholeChance: 0.2 };
/** Chance per packet, on every link to Redis while the link is flaky. */
const PACKET_LOSS = 0.06;
const PACKET_DUPLICATE = 0.1;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The TCP counters of a host's namespace (nstat, absolute, history untouched). */
async function tcpCounters(host: NetHost) {
  const { stdout } = await execFileP('ip', [
    'netns',
    'exec',
    host.ns,
    'nstat',
    '-asz',
    'TcpRetransSegs',
    'TcpExtTCPDSACKOldSent',
    'TcpExtTCPOFOQueue',
  ]);
  const c = { TcpRetransSegs: 0, TcpExtTCPDSACKOldSent: 0, TcpExtTCPOFOQueue: 0 };
  for (const line of stdout.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && k in c) c[k as keyof typeof c] = Number(v);
  }
  return c;
}
const run = inject('netnsRun');
const scene = new Scene();
afterAll(() => scene.dispose());

describe.skipIf(run.unusable !== undefined)('d. a flaky link between the nodes and Redis', () => {
  it('delays, stalls, resets and silences connections; no ID repeats; both recover', async () => {
    const net = (scene.net = await Network.create(run, 'd'));
    const masterHost = await net.host('master');
    const master = { host: masterHost, server: await startNsRedis(masterHost) };
    scene.servers.push(master.server);
    const target = { host: masterHost.ip, port: REDIS_PORT };
    const seed = Date.now() % 1_000_000;
    const proxies = {
      A: await FlakyProxy.start(net.gateway, target, seed, FAULTS),
      B: await FlakyProxy.start(net.gateway, target, seed + 1, FAULTS),
      replication: await FlakyProxy.start(net.gateway, target, seed + 2, FAULTS),
    };
    scene.others.push(...Object.values(proxies).map((p) => () => p.close()));
    const replicaHost = await net.host('replica');
    const replica = {
      host: replicaHost,
      server: await startNsRedis(replicaHost, [
        '--replicaof',
        net.gateway,
        String(proxies.replication.port),
      ]),
    };
    scene.servers.push(replica.server);
    await waitUntil(
      async () =>
        (await info(REDIS_PORT, 'replication', replicaHost.ip)).master_link_status === 'up',
      'the replica to sync through its relay',
    );
    const prefix = testPrefix();
    const admin = testStore(master.server.url, prefix);
    scene.stores.push(admin);
    for (const t of TAGS) await admin.createTag(segmentTag(t, { step: 50 }));

    const env = (proxy: FlakyProxy, minReplicas: number) => ({
      REDIS_URL: `redis://${proxy.host}:${proxy.port}`,
      KEY_PREFIX: prefix,
      REDIS_MIN_REPLICAS: String(minReplicas),
      REDIS_WAIT_TIMEOUT_MS: '200',
      // Small segments: many fetches, so many chances for the link to fail one.
      MAX_STEP: '100',
      FETCH_TIMEOUT_MS: '1000',
    });
    const hostA = await net.host('nodeA');
    const hostB = await net.host('nodeB');
    const nodeA = await startNsService(hostA, env(proxies.A, 1), run.dir, 'd-nodeA');
    scene.services.push(nodeA);
    const nodeB = await startNsService(hostB, env(proxies.B, 0), run.dir, 'd-nodeB');
    scene.services.push(nodeB);
    const loadA = new Load({ targets: [httpTarget('A', nodeA.base)], tags: TAGS, concurrency: 3 });
    const loadB = new Load({ targets: [httpTarget('B', nodeB.base)], tags: TAGS, concurrency: 3 });
    scene.others.push(
      () => loadA.stop(),
      () => loadB.stop(),
    );
    loadA.start();
    loadB.start();
    await waitUntil(
      () => TAGS.every((t) => loadA.ledger.count(t) > 200n && loadB.ledger.count(t) > 200n),
      'both nodes serving every tag',
      30_000,
    );

    const [aAtStart, bAtStart] = [mark(loadA), mark(loadB)];
    const all = Object.values(proxies);
    // Below TCP, on every link to Redis: real packet loss and duplicates (iptables in the
    // namespaces), which the kernel's TCP answers with retransmissions and D-SACKs.
    const tcpHosts = [hostA, hostB, replicaHost, masterHost];
    const tcpBefore = await Promise.all(tcpHosts.map(tcpCounters));
    const impaired = [
      [hostA, proxies.A.port, 'client'],
      [hostB, proxies.B.port, 'client'],
      [replicaHost, proxies.replication.port, 'client'],
      [masterHost, REDIS_PORT, 'server'],
    ] as const;
    for (const [host, port, role] of impaired) {
      await net.impair(host, { port, role, loss: PACKET_LOSS, duplicate: PACKET_DUPLICATE });
    }
    for (const p of all) p.setFlaky(true);
    // Besides the random faults, one of each for sure: a 3 s stall, then a reset of
    // every connection.
    await pause(FLAKY_MS / 4);
    for (const p of all) p.stallAll(3000);
    await pause(FLAKY_MS / 2);
    // The packet faults end before the reset: a connection that lost its retransmissions
    // too waits out a backed-off timer (seconds) once the loss is gone; the reset replaces
    // every connection, and the relay's own faults go on over fresh ones.
    const packets = await net.unimpair();
    for (const p of all) p.resetAll();
    await pause(FLAKY_MS / 4);
    for (const p of all) p.setFlaky(false);
    const tcpAfter = await Promise.all(tcpHosts.map(tcpCounters));
    const tcp = {
      retransmitted: sum(tcpAfter.map((c, i) => c.TcpRetransSegs - tcpBefore[i]!.TcpRetransSegs)),
      dsacks: sum(
        tcpAfter.map((c, i) => c.TcpExtTCPDSACKOldSent - tcpBefore[i]!.TcpExtTCPDSACKOldSent),
      ),
      outOfOrder: sum(
        tcpAfter.map((c, i) => c.TcpExtTCPOFOQueue - tcpBefore[i]!.TcpExtTCPOFOQueue),
      ),
    };
    const aFlaky = sideFigures('A (REDIS_MIN_REPLICAS=1)', loadA, aAtStart);
    const bFlaky = sideFigures('B', loadB, bAtStart);
    const [aAtClean, bAtClean] = [mark(loadA), mark(loadB)];
    const [servedA, servedB] = [loadA.served, loadB.served];
    await waitUntil(
      () => loadA.served > servedA + 500 && loadB.served > servedB + 500,
      'both nodes serving on the clean link',
      30_000,
    );
    const cleanAt = Date.now();
    await Promise.all([loadA.stop(), loadB.stop()]);

    const ids = allIds([loadA, loadB]);
    const name = 'd. flaky link';
    const faults = Object.entries(proxies)
      .map(([k, p]) => `${k} ${JSON.stringify(p.stats)}`)
      .join('; ');
    console.log(
      [
        `${name}: seed ${seed}, ${FLAKY_MS} ms flaky; faults injected: ${faults}`,
        `${name}: below TCP: ${packets.dropped} packets dropped, ${packets.duplicated} duplicated; the hosts' TCP retransmitted ${tcp.retransmitted} segments, queued ${tcp.outOfOrder} out of order, sent ${tcp.dsacks} D-SACKs for duplicates`,
        formatFigures(`${name} (while flaky)`, [aFlaky, bFlaky]),
        formatFigures(`${name} (clean again)`, [
          sideFigures('A', loadA, aAtClean),
          sideFigures('B', loadB, bAtClean),
        ]),
        `${name}: both nodes serving ${cleanAt - aAtClean.at} ms after the link was clean; ${ids.count()} IDs in all, ${ids.overlaps().length} repeated ranges`,
      ].join('\n'),
    );
    expect(ids.overlaps()).toEqual([]);
    auditNodes('d. flaky link', scene.services);
    // The faults happened (else this proved nothing). The nodes' relays carry steady
    // traffic, so each saw many delayed chunks, a stall and a reset. The replication
    // relay carries only the master's write stream, and while it is black-holed or
    // stalled it carries nothing: a handful of delayed chunks is all a run can promise
    // there (one CI run saw 7), and a reset only if a connection was open at resetAll.
    for (const p of [proxies.A, proxies.B]) {
      expect(p.stats.delayedChunks).toBeGreaterThan(10);
      expect(p.stats.stalls).toBeGreaterThan(0);
      expect(p.stats.resets).toBeGreaterThan(0);
    }
    expect(proxies.replication.stats.delayedChunks).toBeGreaterThan(0);
    expect(proxies.replication.stats.stalls).toBeGreaterThan(0);
    // And below TCP: packets were lost and duplicated, and TCP had to recover from it.
    expect(packets.dropped).toBeGreaterThan(0);
    expect(packets.duplicated).toBeGreaterThan(0);
    expect(tcp.retransmitted + tcp.outOfOrder + tcp.dsacks).toBeGreaterThan(0);
  });
});
