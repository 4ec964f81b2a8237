/**
 * Scenario a: the Jepsen scenario against Sentinel, with Redis and the service as
 * deployed by default (`REDIS_MIN_REPLICAS=0`): node A keeps drawing from the cut-off
 * master, node B from the promoted replica; the gap keeps them apart. See
 * sentinel-scenario.ts.
 */
import { afterAll, describe, inject, it } from 'vitest';
import { Scene } from '../support/scene.js';
import { sentinelPartition } from './sentinel-scenario.js';

const run = inject('netnsRun');
const scene = new Scene();
afterAll(() => scene.dispose());

describe.skipIf(run.unusable !== undefined)('a. Sentinel: master cut off with one node', () => {
  it('promotes a replica, node B follows it within seconds, no ID repeats', async () => {
    await sentinelPartition(run, scene, {
      label: 'a',
      title: 'Sentinel, master cut off with node A',
      minReplicas: 0,
    });
  });
});
