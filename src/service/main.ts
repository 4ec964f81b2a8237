/**
 * The service entry: configuration → logger → store (and its durability check) →
 * allocator → app → listen, and a graceful shutdown on SIGTERM/SIGINT (readiness 503,
 * in-flight requests finish, then the allocator and the store close; exit 0, forced
 * after 10 s). SIGHUP reopens `GRANT_LOG` and nothing else.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { TagActivity, teeObservers } from '../observe/activity.js';
import { createAllocator } from '../allocator/index.js';
import { createApp, ReadyState } from '../http/app.js';
import { runPrimary } from './cluster/primary.js';
import type { ClusterMessage } from './cluster/messages.js';
import { clusterWorkerMetrics } from './cluster/worker-metrics.js';
import { ConfigError, loadConfig, type Config } from '../config/schema.js';
import { createHttpServer } from '../http/server.js';
import { stdoutDestination } from '../observe/log-destination.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { isIdAllocError } from '../core/errors.js';
import type { GrantLog } from '../core/grant-log.js';
import { createMetrics } from '../observe/metrics.js';
import { checkStore, grantLogFromConfig, startSnowflake } from './startup.js';
import { openStore, type OpenedStore } from '../store/open.js';

/** Longest a shutdown may take before the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 10_000;
/** After this, sockets idle since shutdown began are closed. */
const IDLE_GRACE_MS = 1_000;
/** After this, every socket is closed, busy or not. */
const HARD_CLOSE_MS = 8_000;
/** How often `idalloc_store_up` is refreshed without a probe. */
const READY_POLL_MS = 5_000;

/** What SIGHUP does: reopen `GRANT_LOG` once there is one (see main). */
let hangup: () => void = () => {};

async function main(): Promise<void> {
  // SIGHUP (logrotate's postrotate) must never stop the node (its default action): the
  // handler is in place from the first moment, and reopens GRANT_LOG once it is open.
  process.on('SIGHUP', () => hangup());
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    return fail(err);
  }
  // Kept: without GRANT_LOG, grant lines go through it and fail closed (grant-stdout.ts).
  const stdout = stdoutDestination();
  const logger = createLogger(config, stdout);
  exitOnFatal(logger);
  if (config.WORKERS > 1 && cluster.isPrimary) {
    // WORKERS=N: this process only runs the workers (cluster.ts); they run what follows.
    runPrimary(config, logger, { shutdownLimitMs: SHUTDOWN_LIMIT_MS });
    return;
  }
  let store: OpenedStore;
  try {
    store = openStore(config, logger);
  } catch (err) {
    return fail(err);
  }
  if (store.warning) logger.warn(store.warning);
  // A cluster worker answers /metrics with the node's aggregate (cluster-metrics.ts).
  const created = createMetrics({ maxTags: config.METRICS_MAX_TAGS });
  const metrics = cluster.isWorker ? clusterWorkerMetrics(created) : created;
  if (!(await checkStore(store, config, logger, metrics))) {
    await store.close();
    process.exit(1);
  }
  let grants: GrantLog;
  try {
    grants = grantLogFromConfig(config, logger, {
      worker: cluster.worker?.id,
      // The id stored in the store (core/deployment.ts), the same for every node of it.
      deployment: await store.deploymentId().catch((err: unknown) => {
        // A known cause (store unreachable, a damaged id): one line, no stack.
        throw isIdAllocError(err)
          ? new ConfigError(`cannot read the deployment id from the store: ${err.message}`)
          : err;
      }),
      output: stdout,
    });
  } catch (err) {
    await store.close();
    return fail(err);
  }
  hangup = () => {
    if (config.GRANT_LOG === undefined) {
      logger.info({ signal: 'SIGHUP' }, 'SIGHUP: nothing to reopen (GRANT_LOG is not set)');
      return;
    }
    // A failure to reopen was logged by the grant log itself; readiness shows it.
    if (grants.reopen() === undefined) {
      logger.info({ signal: 'SIGHUP', grantLog: config.GRANT_LOG }, 'SIGHUP: reopened GRANT_LOG');
    }
  };
  if (config.GRANT_LOG === undefined && !logger.isLevelEnabled('info')) {
    // Grant lines are info lines: above info they vanish, and audit has nothing to read.
    logger.warn(
      `LOG_LEVEL=${config.LOG_LEVEL} drops the grant log's info lines: set GRANT_LOG=<file> to keep them for 'idalloc-admin audit'`,
    );
  }
  let snowflake: Awaited<ReturnType<typeof startSnowflake>>;
  try {
    snowflake = await startSnowflake(store, config, logger, metrics, grants);
  } catch (err) {
    await store.close();
    return fail(err);
  }
  const activity = new TagActivity();
  const allocator = createAllocator({
    store,
    snowflake: snowflake.generator,
    segment: {
      prefetchAt: config.PREFETCH_AT,
      targetSeconds: config.SEGMENT_TARGET_SECONDS,
      maxStep: config.MAX_STEP,
      fetchTimeoutMs: config.FETCH_TIMEOUT_MS,
    },
    observer: teeObservers(metrics.observer, activity.observer),
    log: logger,
    grants,
  });
  const ready = new ReadyState({
    allocator,
    metrics,
    ping: () => store.ping(),
    storeFault: () => store.fault,
    grantLogFault: () => grants.check(),
  });
  const status = { storeKind: store.kind, activity, snowflake: snowflake.generator };
  const app = createApp({ allocator, tags: store, metrics, config, logger, ready, status });

  const server: Server = createHttpServer(app);
  server.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch((err: unknown) => {
    logger.fatal({ err }, `cannot listen on ${config.HOST}:${config.PORT}`);
    process.exit(1);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const worker = cluster.isWorker ? { worker: cluster.worker?.id } : {};
  logger.info(
    { host: config.HOST, port, store: store.kind, keyPrefix: config.KEY_PREFIX, ...worker },
    `listening on http://${config.HOST}:${port}`,
  );
  if (cluster.isWorker) {
    const listening: ClusterMessage = { type: 'idalloc:listening', port };
    process.send?.(listening);
  }
  const stopPolling = ready.poll(READY_POLL_MS);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests');
    ready.beginShutdown();
    stopPolling();
    const limit = setTimeout(() => {
      logger.error(`shutdown took longer than ${SHUTDOWN_LIMIT_MS} ms: exiting`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    limit.unref();
    void drain(server)
      .then(async () => {
        await allocator.close(); // also releases the snowflake worker lease
        await snowflake.close();
        await store.close();
        grants.close();
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
}

/**
 * Stops accepting connections and resolves once every open one has ended.
 *
 * `http.Server.close()` would also drop idle keep-alive sockets at once, resetting a
 * request a client may be sending on one right then. Instead the listener alone closes
 * (new connections are refused cleanly), every answer from now on says
 * `Connection: close` (see `closeIfDraining`), sockets still idle after a grace period
 * are closed, and busy ones only at the hard limit.
 */
function drain(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    NetServer.prototype.close.call(server, () => {
      for (const t of timers) clearTimeout(t);
      resolve();
    });
    timers.push(
      setTimeout(() => {
        server.closeIdleConnections();
        const again = setInterval(() => server.closeIdleConnections(), 250);
        again.unref();
        timers.push(again);
      }, IDLE_GRACE_MS),
      setTimeout(() => server.closeAllConnections(), HARD_CLOSE_MS),
    );
    for (const t of timers) t.unref();
  });
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
