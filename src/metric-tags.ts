/** Moved to src/observe/metrics/labels.ts (issue 16): this shim keeps today's imports working. */
export * from './observe/metrics/labels.js';
