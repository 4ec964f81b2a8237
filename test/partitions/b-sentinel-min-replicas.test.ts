/**
 * Scenario b: the Jepsen scenario against Sentinel with `REDIS_MIN_REPLICAS=1`: the
 * cut-off master still accepts node A's grants, but no replica confirms them, so node A
 * serves none of them (fails closed once its buffers are spent), while node B follows
 * the promoted replica. See sentinel-scenario.ts.
 */
import { afterAll, describe, inject, it } from 'vitest';
import { Scene } from '../support/scene.js';
import { sentinelPartition } from './sentinel-scenario.js';

const run = inject('netnsRun');
const scene = new Scene();
afterAll(() => scene.dispose());

describe.skipIf(run.unusable !== undefined)('b. Sentinel with REDIS_MIN_REPLICAS=1', () => {
  it('node A fails closed, node B follows the promoted replica, no ID repeats', async () => {
    await sentinelPartition(run, scene, {
      label: 'b',
      title: 'Sentinel with REDIS_MIN_REPLICAS=1, master cut off with node A',
      minReplicas: 1,
    });
  });
});
