/**
 * Sentinel: three Sentinels, a master and two replicas; two service processes (the real
 * entry, configured by REDIS_SENTINELS with REDIS_MIN_REPLICAS=1) under load. The master
 * is SIGKILLed; the Sentinels promote a replica; the services resume on it by
 * themselves, above the safety gap, and no ID is served twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { httpTarget, Load } from '../support/load.js';
import { testPrefix } from '../support/prefix.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { startSentinelSet, type SentinelSet } from '../support/sentinel.js';
import { segmentTag } from '../support/store.js';
import { storeOn } from '../support/topology-store.js';
import { waitUntil } from '../support/wait.js';

const GAP = 1_000_000n;
const TAGS = ['order', 'invoice'];
const prefix = testPrefix();
let set: SentinelSet;
let admin: RedisStore;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  set = await startSentinelSet({ replicas: 2 });
  const topology = {
    kind: 'sentinel' as const,
    sentinels: set.sentinelEndpoints,
    master: set.masterName,
  };
  admin = storeOn(topology, {}, prefix);
  for (const t of TAGS) await admin.createTag(segmentTag(t, { step: 200, gap: GAP }));
  for (let i = 0; i < 2; i++) {
    services.push(
      await startServiceProcess({
        REDIS_SENTINELS: set.sentinelsEnv,
        REDIS_SENTINEL_MASTER: set.masterName,
        KEY_PREFIX: prefix,
        REDIS_MIN_REPLICAS: '1',
        REDIS_WAIT_TIMEOUT_MS: '200',
        MAX_STEP: '1000',
        FETCH_TIMEOUT_MS: '1000',
        NODE_ID: `sentinel-node-${i}`,
      }),
    );
  }
});
afterAll(async () => {
  await Promise.allSettled(services.map((s) => s.dispose()));
  await admin?.close();
  await set?.dispose();
});

describe('Sentinel failover under load from two service nodes', () => {
  it('resumes on the promoted replica by itself, above the gap, with no ID twice', async () => {
    const load = new Load({
      targets: services.map((s, i) => httpTarget(`node${i}`, s.base)),
      tags: TAGS,
      concurrency: 8,
    }).start();
    try {
      await waitUntil(() => TAGS.every((t) => load.ledger.count(t) > 1000n), 'load on every tag');
      const master = await set.currentMaster();
      const highest = new Map(TAGS.map((t) => [t, load.ledger.max(t)!]));
      const killedAt = Date.now();
      await master.kill('SIGKILL');
      const promoted = await set.waitForFailover(master);
      const promotedAt = Date.now();
      // Served by the new incarnation: at least a gap above what was served before.
      await waitUntil(
        () => TAGS.every((t) => load.ledger.max(t)! >= highest.get(t)! + GAP / 2n),
        'IDs from the promoted master on every tag',
        30_000,
      );
      const resumedAt = Date.now();
      const servedAtResume = load.served;
      await waitUntil(() => load.served > servedAtResume + 500, 'steady serving again');
      console.log(
        `sentinel failover: master ${master.port} → ${promoted.port} promoted ${promotedAt - killedAt} ms after SIGKILL; service back on it within ${resumedAt - killedAt} ms; longest outage of a tag ${load.longestOutage(killedAt)} ms; served ${load.served}; errors ${JSON.stringify(load.errorCounts())}`,
      );
    } finally {
      await load.stop();
    }
    expect(load.ledger.overlaps()).toEqual([]);
    for (const code of Object.keys(load.errorCounts())) expect(code).toBe('UNAVAILABLE');
    // The services' own logs, audited: grants from both nodes, none twice.
    const trail = new GrantLogs();
    for (const s of services) trail.addParsed(s.logs);
    const report = trail.expectNoOverlaps(TAGS.length * 2);
    expect(report.nodes).toEqual(['sentinel-node-0', 'sentinel-node-1']);
    for (const t of report.tags) expect(t.incarnations.length).toBeGreaterThanOrEqual(2);
  });
});
