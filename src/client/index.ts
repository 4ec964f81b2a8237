/**
 * The `idalloc/client` entry: {@link IdClient} alone, for applications that draw IDs
 * from idalloc services over HTTP. It loads none of the server's dependencies (express,
 * ioredis, pino, prom-client, node:sqlite) — the package test checks that.
 */
export { IdClient, MAX_CLIENT_BATCH } from './id-client.js';
export type { ClientClock, IdClientOptions } from './id-client.js';
export { ErrorCode, IdAllocError, isIdAllocError } from '../core/errors.js';
export type { IdRange } from '../core/ids.js';
