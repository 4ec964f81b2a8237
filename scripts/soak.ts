/**
 * Soak test (not a timed test): N service nodes × M concurrent clients × T seconds against
 * a Redis topology this script starts itself, optionally SIGKILLing a Redis master on a
 * schedule, checking every ID served for uniqueness. Its options: {@link USAGE}
 * (`npm run soak -- --help`).
 *
 * Exit code 1 when any ID was served twice; 2 for a bad option.
 */
import { parseArgs } from 'node:util';
import { createAllocator } from '../src/allocator/index.js';
import { loadConfig } from '../src/config/schema.js';
import type { RedisStore } from '../src/store/redis/store.js';
import { httpTarget, Load, type LoadTarget } from '../test/support/load.js';
import { testPrefix } from '../test/support/prefix.js';
import { startServiceProcess, type ServiceProcess } from '../test/support/service-process.js';
import { segmentTag } from '../test/support/store.js';
import { redisStoreFrom, storeOn } from '../test/support/topology-store.js';
import { startTopology, type FaultReport, type TopologyKind } from './soak-topology.js';

const USAGE = `Usage: npm run soak -- [options]

Runs service nodes against a Redis topology this script starts itself, with concurrent
clients drawing IDs, and checks every ID served for uniqueness (exit 1 on a repeat).

  npm run soak -- --topology sentinel --nodes 2 --clients 8 --seconds 60 --kill-every 15

Options:
  --topology standalone|sentinel|cluster   the Redis topology (default standalone)
  --nodes N          service nodes (default 2)
  --clients M        concurrent request loops across the nodes (default 8)
  --seconds T        how long the load runs (default 30)
  --tags a,b,c       tags to create and ask for (default order,invoice,user,payment)
  --kill-every S     SIGKILL a master every S seconds, 0 for never (default 0)
  --down-ms MS       standalone: how long Redis stays down per kill (default 1000)
  --min-replicas N   REDIS_MIN_REPLICAS for the nodes (default 0 standalone, else 1)
  --step N           the tags' configured step (default 1000)
  --max-step N       MAX_STEP for the nodes (default 10000)
  --in-process       in-process allocators instead of service processes (src/service/main.ts)
  --json             the summary as JSON
  -h, --help         this text
`;

/** The options, or exit: the usage on --help (0), one line for a bad option (2). */
function parseOptions() {
  try {
    return parseArgs({
      options: {
        topology: { type: 'string', default: 'standalone' },
        nodes: { type: 'string', default: '2' },
        clients: { type: 'string', default: '8' },
        seconds: { type: 'string', default: '30' },
        tags: { type: 'string', default: 'order,invoice,user,payment' },
        'kill-every': { type: 'string', default: '0' },
        'down-ms': { type: 'string', default: '1000' },
        'min-replicas': { type: 'string' },
        step: { type: 'string', default: '1000' },
        'max-step': { type: 'string', default: '10000' },
        'in-process': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    // parseArgs explains the problem in one sentence (unknown option, missing value…).
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`soak: ${why} (see npm run soak -- --help)\n`);
    process.exit(2);
  }
}

const { values } = parseOptions();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function int(flag: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${flag} ${value}: expected an integer of at least ${min}`);
    process.exit(2);
  }
  return n;
}

const kind = values.topology as TopologyKind;
if (!['standalone', 'sentinel', 'cluster'].includes(kind)) {
  console.error(`--topology ${values.topology}: expected standalone, sentinel or cluster`);
  process.exit(2);
}
const nodeCount = int('nodes', values.nodes, 1);
const clients = int('clients', values.clients, 1);
const seconds = int('seconds', values.seconds, 1);
const killEvery = int('kill-every', values['kill-every'], 0);
const downMs = int('down-ms', values['down-ms'], 0);
const minReplicas = int(
  'min-replicas',
  values['min-replicas'] ?? (kind === 'standalone' ? '0' : '1'),
  0,
);
const step = int('step', values.step, 1);
const maxStep = int('max-step', values['max-step'], 1);
const tags = values.tags
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean);
const GAP = 1000n * BigInt(maxStep);

const log = (msg: string) => {
  if (!values.json) console.log(`[${new Date().toISOString().slice(11, 23)}] ${msg}`);
};

log(`starting ${kind} Redis`);
const topo = await startTopology(kind, downMs);
const prefix = testPrefix();
const env: Record<string, string> = {
  ...topo.env,
  KEY_PREFIX: prefix,
  REDIS_MIN_REPLICAS: String(minReplicas),
  REDIS_WAIT_TIMEOUT_MS: '200',
  MAX_STEP: String(maxStep),
  LOG_LEVEL: 'info',
};
const admin = storeOn(topo.topology, {}, prefix);
const services: ServiceProcess[] = [];
const stores: RedisStore[] = [];
const targets: LoadTarget[] = [];
const allocators: { close(): Promise<void> }[] = [];
const faults: FaultReport[] = [];
let load: Load | undefined;
let duplicates = 0;
try {
  for (const t of tags) await admin.createTag(segmentTag(t, { step, gap: GAP }));
  for (let i = 0; i < nodeCount; i++) {
    if (values['in-process']) {
      const store = redisStoreFrom(loadConfig(env));
      stores.push(store);
      const ids = createAllocator({ store, segment: { maxStep } });
      allocators.push(ids);
      targets.push({ name: `node${i}`, next: (t) => ids.next(t) });
    } else {
      const s = await startServiceProcess(env);
      services.push(s);
      targets.push(httpTarget(`node${i}`, s.base));
    }
  }
  log(
    `${nodeCount} ${values['in-process'] ? 'in-process' : 'service'} nodes × ${clients} clients × ${seconds} s, tags ${tags.join(',')}`,
  );
  load = new Load({ targets, tags, concurrency: clients }).start();
  const began = Date.now();
  const end = began + seconds * 1000;
  let nextKill = killEvery > 0 ? Date.now() + killEvery * 1000 : Infinity;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1000, end - Date.now()))));
    if (Date.now() >= nextKill && Date.now() < end) {
      const f = await topo.fault();
      faults.push(f);
      log(
        `${f.what} at +${((f.at - began) / 1000).toFixed(1)} s: master back after ${f.masterBackMs} ms, process back after ${f.restartedMs} ms`,
      );
      nextKill = Date.now() + killEvery * 1000;
    }
  }
  await load.stop();
  duplicates = load.ledger.overlaps().length;
} finally {
  await load?.stop();
  await Promise.allSettled(services.map((s) => s.dispose()));
  await Promise.allSettled(allocators.map((a) => a.close()));
  await Promise.allSettled(stores.map((s) => s.close()));
  await admin.close();
  await topo.dispose();
}

const outageAfter = (f: FaultReport, i: number) => {
  const until = faults[i + 1]?.at ?? Infinity;
  return Math.max(
    0,
    ...load!.outages.filter((o) => o.from >= f.at && o.from < until).map((o) => o.ms),
  );
};
const summary = {
  topology: kind,
  nodes: nodeCount,
  clients,
  seconds,
  minReplicas,
  idsServed: load!.served,
  idsPerSecond: Math.round(load!.served / seconds),
  errors: load!.errorCounts(),
  duplicates,
  faults: faults.map((f, i) => ({
    what: f.what,
    masterBackMs: f.masterBackMs,
    restartedMs: f.restartedMs,
    longestClientOutageMs: outageAfter(f, i),
  })),
};
if (values.json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  console.log(`IDs served     ${summary.idsServed} (${summary.idsPerSecond}/s)`);
  console.log(`errors         ${JSON.stringify(summary.errors)}`);
  console.log(
    `duplicates     ${duplicates}${duplicates === 0 ? '' : '  <-- AN ID WAS SERVED TWICE'}`,
  );
  for (const f of summary.faults) {
    console.log(
      `fault          ${f.what}: master back ${f.masterBackMs} ms, longest client outage ${f.longestClientOutageMs} ms`,
    );
  }
}
process.exit(duplicates === 0 ? 0 : 1);
