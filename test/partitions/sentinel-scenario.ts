/**
 * The Jepsen scenario against Sentinel, shared by scenarios a and b: a master, two
 * replicas, three Sentinels and two service nodes, each in a namespace of its own. The
 * master, one Sentinel and service node A (with its clients' traffic) are cut off from the
 * rest; the two Sentinels on the majority side promote a replica, and node B must serve
 * from it within a few seconds of the promotion. Healed a few seconds later; then both
 * nodes keep drawing. Every ID from both sides goes into one ledger: none may repeat.
 */
import { expect } from 'vitest';
import { httpTarget, Load } from '../support/load.js';
import { Network, type NetnsRun } from '../support/netns.js';
import {
  REDIS_PORT,
  roleOf,
  SENTINEL_PORT,
  startNsSentinelSet,
  startNsService,
  type NsServer,
} from '../support/netns-sentinel.js';
import {
  allIds,
  formatFigures,
  mark,
  sideFigures,
  auditNodes,
} from '../support/partition-report.js';
import { testPrefix } from '../support/prefix.js';
import { Scene } from '../support/scene.js';
import { segmentTag } from '../support/store.js';
import { storeOn } from '../support/topology-store.js';
import { info, waitUntil } from '../support/wait.js';

/** Far above what node A can draw from the cut-off master in the scenario (~10 k/s). */
const GAP = 100_000_000n;
const TAGS = ['order', 'invoice'];
/** The bound on node B's return after the promotion (measured: a few seconds). */
const FOLLOW_BOUND_MS = 10_000;

export interface SentinelScenario {
  readonly label: string;
  readonly title: string;
  /** `REDIS_MIN_REPLICAS` of both nodes. */
  readonly minReplicas: number;
}

export async function sentinelPartition(run: NetnsRun, scene: Scene, s: SentinelScenario) {
  const net = (scene.net = await Network.create(run, s.label));
  const set = await startNsSentinelSet(net, { downAfterMs: 1500 });
  for (const d of [...set.data, ...set.sentinels]) scene.servers.push(d.server);
  const [master, replica1, replica2] = set.data as [NsServer, NsServer, NsServer];
  const [sentinel1, ...majoritySentinels] = set.sentinels as [NsServer, NsServer, NsServer];
  const prefix = testPrefix();
  const topology = {
    kind: 'sentinel' as const,
    sentinels: set.sentinels.map((x) => ({ host: x.host.ip, port: SENTINEL_PORT })),
    master: set.masterName,
  };
  const admin = storeOn(topology, {}, prefix);
  scene.stores.push(admin);
  for (const t of TAGS) await admin.createTag(segmentTag(t, { step: 200, gap: GAP }));

  const env = {
    REDIS_SENTINELS: set.sentinelsEnv,
    REDIS_SENTINEL_MASTER: set.masterName,
    KEY_PREFIX: prefix,
    REDIS_MIN_REPLICAS: String(s.minReplicas),
    REDIS_WAIT_TIMEOUT_MS: '200',
    MAX_STEP: '1000',
    FETCH_TIMEOUT_MS: '1000',
  };
  const hostA = await net.host('nodeA');
  const hostB = await net.host('nodeB');
  const nodeA = await startNsService(hostA, env, run.dir, `${s.label}-nodeA`);
  scene.services.push(nodeA);
  const nodeB = await startNsService(hostB, env, run.dir, `${s.label}-nodeB`);
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

  // The old master's counters as the partition starts: any ID node A serves at or above
  // them (and below the gap) was granted by the old master during the partition.
  const nextAtCut = new Map<string, bigint>();
  for (const t of TAGS) nextAtCut.set(t, (await admin.getTag(t))!.next!);
  const oldRunId = (await info(REDIS_PORT, 'server', master.host.ip)).run_id;
  const cutAt = Date.now();
  const [aAtCut, bAtCut] = [mark(loadA), mark(loadB)];
  await net.cut(
    [master.host, sentinel1.host, hostA],
    [replica1.host, replica2.host, ...majoritySentinels.map((x) => x.host), hostB],
  );
  // Every rule is in place from here on: no replica can confirm a grant of the old master.
  const cutDoneAt = Date.now();
  let promoted: NsServer | undefined;
  await waitUntil(
    async () => {
      const named = await set.masterNamedBy(majoritySentinels);
      if (named === undefined || named === master) return false;
      promoted = named;
      return true;
    },
    'the majority Sentinels to promote a replica',
    30_000,
    100,
  );
  const promotedAt = Date.now();
  // Node B back: an ID of the new incarnation (above the gap) on every tag.
  let bBackAt: number | undefined;
  try {
    await waitUntil(
      () => TAGS.every((t) => (loadB.ledger.max(t) ?? 0n) >= nextAtCut.get(t)! + GAP / 2n),
      'node B serving from the promoted master',
      20_000,
      50,
    );
    bBackAt = Date.now();
  } catch {
    // reported and asserted below, after the heal
  }
  // Hold the partition a few seconds past the promotion, so node A's side lives on.
  const holdUntil = promotedAt + 4000;
  if (Date.now() < holdUntil) await new Promise((r) => setTimeout(r, holdUntil - Date.now()));
  const countOldMasterIds = () =>
    TAGS.map((t) =>
      loadA.ledger.countIn(t, nextAtCut.get(t)!, nextAtCut.get(t)! + GAP / 2n - 1n),
    ).reduce((a, b) => a + b, 0n);
  const splitBrainDuringCut = countOldMasterIds();
  const aDuringCut = sideFigures('A (minority, with the old master)', loadA, aAtCut);
  const bDuringCut = sideFigures('B (majority)', loadB, bAtCut);
  const healedAt = Date.now();
  const [aAtHeal, bAtHeal] = [mark(loadA), mark(loadB)];
  await net.heal();
  await waitUntil(
    async () => (await roleOf(master)) === 'slave',
    'the Sentinels to demote the old master',
    40_000,
    100,
  );
  const demotedAt = Date.now();
  const servedA = loadA.served;
  const servedB = loadB.served;
  await waitUntil(
    () => loadA.served > servedA + 200 && loadB.served > servedB + 200,
    'both nodes serving after the heal',
    30_000,
  );
  await Promise.all([loadA.stop(), loadB.stop()]);

  const ids = allIds([loadA, loadB]);
  const splitBrain = countOldMasterIds();
  const name = `${s.label}. ${s.title}`;
  console.log(
    [
      `${name}: promoted ${promoted?.host.name} ${promotedAt - cutAt} ms after the cut; node B served from it ${bBackAt === undefined ? 'not within 20 s' : `${bBackAt - promotedAt} ms after the promotion`}; healed ${healedAt - cutAt} ms after the cut; old master demoted ${demotedAt - healedAt} ms after the heal`,
      formatFigures(`${name} (during the cut)`, [aDuringCut, bDuringCut]),
      formatFigures(`${name} (after the heal)`, [
        sideFigures('A', loadA, aAtHeal),
        sideFigures('B', loadB, bAtHeal),
      ]),
      `${name}: node A served ${splitBrain} IDs granted by the cut-off master (${splitBrainDuringCut} before the heal); ${ids.count()} IDs in all, ${ids.overlaps().length} repeated ranges`,
    ].join('\n'),
  );
  expect(ids.overlaps()).toEqual([]);
  auditNodes(`${s.label}. ${s.title}`, scene.services);
  expect(bBackAt, 'node B serving from the promoted master').toBeDefined();
  expect(bBackAt! - promotedAt).toBeLessThanOrEqual(FOLLOW_BOUND_MS);
  if (s.minReplicas > 0) {
    // With REDIS_MIN_REPLICAS no replica confirms the cut-off master's grants while the
    // cut lasts: node A fails closed (serves only what it had buffered before the cut).
    // Its grant log says so exactly: no grant of the old master's incarnation was taken
    // into service between the cut being complete and the heal (a grant confirmed while
    // the rules were still going in may legitimately be served, which is why the ID
    // count above is reported rather than asserted). After the heal, until the Sentinels
    // demote the old master, a replica may be sent back to it for a moment (seen once: a
    // grant confirmed 2 s after the heal) — IDs below the gap, so still no repeat.
    expect(oldRunId, 'the old master run_id').toBeDefined();
    const servedDuringCut = nodeA.logs.filter((l) => {
      const g = l.grant as { kind?: string; at?: string; incarnation?: string } | undefined;
      if (l.msg !== 'grant' || g?.kind !== 'segment' || g.incarnation !== oldRunId) return false;
      const at = Date.parse(g.at ?? '');
      return at > cutDoneAt && at < healedAt;
    });
    expect(servedDuringCut, 'grants of the cut-off master taken into service').toEqual([]);
  }
  for (const t of TAGS) expect(ids.count(t)).toBeGreaterThan(400n);
}
