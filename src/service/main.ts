/**
 * The service process: configuration → logger → the node (node.ts) → serving, and a
 * graceful shutdown on SIGTERM/SIGINT (readiness 503 at once, serving on for
 * `SHUTDOWN_DELAY_MS`, then in-flight requests finish, the allocator and the store close;
 * exit 0, forced 10 s after the delay). SIGHUP reopens `GRANT_LOG`
 * and nothing else. With `WORKERS=N` this process is the cluster primary
 * (cluster/primary.ts) and each worker process runs the node.
 */
import cluster from 'node:cluster';
import { nodeOptions, type NodeOptions } from '../config/options.js';
import { loadConfig } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import { nodeIdentity } from '../http/node-identity.js';
import { stdoutDestination } from '../observe/log-destination.js';
import { createLogger, type Logger } from '../observe/logger.js';
import type { ClusterMessage } from './cluster/messages.js';
import { runPrimary } from './cluster/primary.js';
import { clusterWorkerMetrics } from './cluster/worker-metrics.js';
import type { GrantLog } from '../grants/log.js';
import { clusterWorkerStatus } from './cluster/worker-status.js';
import { ListenError, startNode, stopNode, type RunningNode } from './node.js';

/** Longest a shutdown may take after `SHUTDOWN_DELAY_MS` before the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 10_000;

/** What SIGHUP does: reopen `GRANT_LOG` once there is one (see main). */
let hangup: () => void = () => {};

async function main(): Promise<void> {
  // SIGHUP (logrotate's postrotate) must never stop the node (its default action): the
  // handler is in place from the first moment, and reopens GRANT_LOG once it is open.
  process.on('SIGHUP', () => hangup());
  let options: NodeOptions;
  try {
    options = nodeOptions(loadConfig(process.env));
  } catch (err) {
    return fail(err);
  }
  // Kept: without GRANT_LOG, grant lines go through it and fail closed (grants/stdout.ts).
  const stdout = stdoutDestination();
  const logger = createLogger(options.logLevel, stdout);
  exitOnFatal(logger);
  if (options.workers > 1 && cluster.isPrimary) {
    // WORKERS=N: this process only runs the workers (cluster/primary.ts); they run what follows.
    // The node's identity is the primary's: every worker answers the same (cluster/primary-status.ts).
    const identity = nodeIdentity(options.grantLog.nodeId);
    runPrimary({ workers: options.workers, host: options.listen.host, identity }, logger, {
      // The workers' whole budget: each serves on for the delay before its limit starts.
      shutdownLimitMs: options.shutdownDelayMs + SHUTDOWN_LIMIT_MS,
    });
    return;
  }
  let node: RunningNode;
  try {
    node = await startNode(options, {
      logger,
      output: stdout,
      // SIGHUP reopens GRANT_LOG from the moment it is open, not only once the node listens.
      onGrantLog: (grants) => (hangup = () => reopenGrantLog(grants, options, logger)),
      ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}),
      // A cluster worker answers /metrics with the node's aggregate (cluster/worker-metrics.ts).
      ...(cluster.isWorker ? { wrapMetrics: clusterWorkerMetrics } : {}),
      // … and /v1/status with every worker's, gathered by the primary (cluster/worker-status.ts).
      ...(cluster.isWorker ? { statusCluster: clusterWorkerStatus() } : {}),
    });
  } catch (err) {
    if (err instanceof ListenError) {
      logger.fatal({ err: err.cause }, err.message);
      process.exit(1);
    }
    return fail(err);
  }
  const { host } = options.listen;
  const worker = cluster.isWorker ? { worker: cluster.worker?.id } : {};
  logger.info(
    { host, port: node.port, store: node.store.kind, keyPrefix: options.keyPrefix, ...worker },
    `listening on http://${host}:${node.port}`,
  );
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    const delayMs = options.shutdownDelayMs;
    logger.info(
      { signal, shutdownDelayMs: delayMs },
      delayMs > 0
        ? `shutting down: not ready, serving on for ${delayMs} ms, then draining requests`
        : 'shutting down: draining requests',
    );
    // The limit counts from the end of the delay: the delay is serving, not stopping.
    const budget = delayMs + SHUTDOWN_LIMIT_MS;
    const limit = setTimeout(() => {
      logger.error(`shutdown took longer than ${budget} ms: exiting`);
      process.exit(1);
    }, budget);
    limit.unref();
    void stopNode(node, { delayMs })
      .then(() => {
        logger.info('shut down');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (cluster.isWorker) {
    // Only now: the primary may pass SIGTERM on as soon as it hears this, and a signal
    // that comes before its handler is in place would kill the worker outright.
    const listening: ClusterMessage = { type: 'idalloc:listening', port: node.port };
    process.send?.(listening);
  }
}

/** SIGHUP: reopens `GRANT_LOG` (after logrotate moved it); a failure was logged by the grant log. */
function reopenGrantLog(grants: GrantLog, options: NodeOptions, logger: Logger): void {
  const file = options.grantLog.file;
  if (file === undefined) {
    logger.info({ signal: 'SIGHUP' }, 'SIGHUP: nothing to reopen (GRANT_LOG is not set)');
    return;
  }
  // A failure to reopen was logged by the grant log itself; readiness shows it.
  if (grants.reopen() === undefined) {
    logger.info({ signal: 'SIGHUP', grantLog: file }, 'SIGHUP: reopened GRANT_LOG');
  }
}

/** A configuration problem is one line on stderr and exit 1; anything else a stack. */
function fail(err: unknown): void {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

/** Last resort: log and exit, so an orchestrator restarts a process in a bad state. */
function exitOnFatal(logger: Logger): void {
  const fatal = (err: unknown) => {
    logger.fatal({ err }, 'uncaught error: exiting');
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

void main();
