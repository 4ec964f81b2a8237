import { defineConfig } from 'vitest/config';

/**
 * The container suite (test/containers): the image built and the compose stack run by
 * podman. One file, its steps in order; building the stand-in base images on a cold
 * machine takes minutes, hence the long hook timeout (set in the file).
 */
export default defineConfig({
  test: {
    include: ['test/containers/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
