import { defineConfig } from 'vitest/config';

/**
 * Fault tests (`npm run test:faults`): real redis-server processes started, stopped,
 * killed and promoted by the tests themselves. One file at a time — they start many
 * processes and measure recovery in real time — with generous timeouts.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
