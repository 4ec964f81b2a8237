/**
 * Words of the Redis client that an answer of idalloc must never carry (issue 17): its
 * error texts and option names, collected from the `new Error(` texts of
 * node_modules/ioredis/built and Node's socket errors. A caller cannot act on them; the
 * log line keeps them (`storeError`).
 */
export const CLIENT_WORDS: readonly string[] = [
  'maxRetriesPerRequest',
  'Reached the max retries',
  'ioredis',
  'ECONNREFUSED',
  "Stream isn't writeable",
  'enableOfflineQueue',
  'Connection is closed',
  'Command timed out',
  'Command aborted',
  'Socket timeout',
  'Cluster is',
  "Cluster isn't ready",
  'Node is disconnected',
  'None of startup nodes',
  'user_script',
];
