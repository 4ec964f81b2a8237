import { defineConfig } from 'vitest/config';

/**
 * Partition tests (`npm run test:partitions`): Redis servers, Sentinels and service nodes,
 * each in a network namespace of its own on a private bridge, cut apart and healed by
 * the tests. One file at a time, generous timeouts; the global setup checks at the end
 * that nothing of the run (namespace, link, process) is left behind.
 */
export default defineConfig({
  test: {
    include: ['test/partitions/**/*.test.ts'],
    globalSetup: ['test/support/netns-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
