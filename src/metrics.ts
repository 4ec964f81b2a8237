/** Moved to src/observe/metrics/ (issue 16): this shim keeps today's imports working. */
export * from './observe/metrics/index.js';
