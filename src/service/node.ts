/**
 * One node: the store (and its checks), the grant log, the snowflake generator, the
 * allocator, readiness and the HTTP app, listening. {@link startNode} is the one way a
 * node is started — by the process (main.ts), by every cluster worker, and by the tests —
 * so what a test serves is what the service serves. {@link stopNode} undoes it in order:
 * readiness 503, serving on for the shutdown delay, the listener drained, the allocator
 * closed (its worker lease released), then the store and the grant log.
 *
 * The process itself (signals, exit codes, the cluster primary) stays in main.ts.
 */
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { createAllocator } from '../allocator/index.js';
import type { IdAllocator } from '../allocator/types.js';
import type { NodeOptions } from '../config/options.js';
import { ConfigError, isIdAllocError } from '../core/errors.js';
import type { GrantLineOutput, GrantLog } from '../grants/log.js';
import { createApp } from '../http/app.js';
import { nodeIdentity, type NodeIdentity } from '../http/node-identity.js';
import type { StatusCluster, StatusDeps } from '../http/status.js';
import { ReadyState } from '../http/ready.js';
import { createHttpServer } from '../http/server.js';
import { TagActivity, teeObservers } from '../observe/activity.js';
import type { Logger } from '../observe/logger.js';
import { createMetrics, type Metrics } from '../observe/metrics/index.js';
import { openStore, type OpenedStore } from '../store/open.js';
import { regionText } from '../core/shape.js';
import { checkStore, openGrantLog, startSnowflake, type SnowflakeSetup } from './startup.js';

/** After this, sockets idle since shutdown began are closed. */
const IDLE_GRACE_MS = 1_000;
/** After this, every socket is closed, busy or not. */
const HARD_CLOSE_MS = 8_000;
/** How often `idalloc_store_up` is refreshed without a probe. */
const READY_POLL_MS = 5_000;

/** What a node is given besides its options: where it logs, and which process it is. */
export interface NodeDeps {
  readonly logger: Logger;
  /**
   * Where `logger` writes (the process's stdout destination): without `GRANT_LOG`, a
   * grant whose line it cannot take is not served (grants/stdout.ts).
   */
  readonly output?: GrantLineOutput;
  /** The cluster worker's id, in a worker process (`NODE_ID/w<k>` in the grant log). */
  readonly worker?: number;
  /** prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
  /** Wraps the node's metrics (a cluster worker answers `/metrics` with the node's sum). */
  readonly wrapMetrics?: (metrics: Metrics) => Metrics;
  /**
   * Told of the grant log as soon as it is open, long before the node listens: the
   * process points SIGHUP (logrotate) at it from then on.
   */
  readonly onGrantLog?: (grants: GrantLog) => void;
  /** Who the node is in `/v1/status`. @default NODE_ID or hostname:pid of this process */
  readonly identity?: NodeIdentity;
  /** A cluster worker gathers every worker's status for `/v1/status` (cluster/worker-status.ts). */
  readonly statusCluster?: StatusCluster;
}

/** A node serving: its parts, for the process and for tests to look at. */
export interface RunningNode {
  readonly server: Server;
  /** The port it listens on (the one given, or the one the system chose for 0). */
  readonly port: number;
  readonly store: OpenedStore;
  readonly allocator: IdAllocator;
  readonly metrics: Metrics;
  readonly ready: ReadyState;
  readonly grants: GrantLog;
  readonly snowflake: SnowflakeSetup;
}

/** The node could not listen: the address is taken or not allowed. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/**
 * Starts a node and resolves once it listens. Whatever it opened is closed again when a
 * step fails.
 * @throws ConfigError (one line, for stderr) when the store, the grant log or the
 *   snowflake settings refuse the start; ListenError when it cannot listen
 */
export async function startNode(options: NodeOptions, deps: NodeDeps): Promise<RunningNode> {
  const { logger } = deps;
  const store = openStore(options.store, logger);
  if (store.warning) logger.warn(store.warning);
  const created = createMetrics({
    maxTags: options.metricsMaxTags,
    region: regionText(options.region),
    defaultMetrics: deps.defaultMetrics ?? true,
  });
  const metrics = deps.wrapMetrics ? deps.wrapMetrics(created) : created;
  let grants: GrantLog | undefined;
  let snowflake: SnowflakeSetup | undefined;
  try {
    await checkStore(store, options.requireDurableStore, logger, metrics);
    grants = openGrantLog(options.grantLog, logger, {
      worker: deps.worker,
      // The id stored in the store (core/deployment.ts), the same for every node of it.
      deployment: await store.deploymentId().catch((err: unknown) => {
        // A known cause (store unreachable, a damaged id): one line, no stack.
        throw isIdAllocError(err)
          ? new ConfigError(`cannot read the deployment id from the store: ${err.message}`)
          : err;
      }),
      ...(deps.output ? { output: deps.output } : {}),
    });
    deps.onGrantLog?.(grants);
    if (options.grantLog.file === undefined && !logger.isLevelEnabled('info')) {
      // Grant lines are info lines: above info they vanish, and audit has nothing to read.
      logger.warn(
        `LOG_LEVEL=${options.logLevel} drops the grant log's info lines: set GRANT_LOG=<file> to keep them for 'idalloc-admin audit'`,
      );
    }
    snowflake = await startSnowflake(
      store,
      options.snowflake,
      logger,
      metrics,
      grants,
      options.region,
    );
    return await serve(options, deps, { store, metrics, grants, snowflake });
  } catch (err) {
    await snowflake?.generator.close().catch(() => {});
    await snowflake?.close().catch(() => {});
    await store.close().catch(() => {});
    grants?.close();
    throw err;
  }
}

/** The allocator, readiness and the app over the started parts, listening. */
async function serve(
  options: NodeOptions,
  deps: NodeDeps,
  parts: Pick<RunningNode, 'store' | 'metrics' | 'grants' | 'snowflake'>,
): Promise<RunningNode> {
  const { store, metrics, grants, snowflake } = parts;
  const { logger } = deps;
  const activity = new TagActivity();
  const allocator = createAllocator({
    store,
    snowflake: snowflake.generator,
    segment: options.segment,
    region: options.region,
    observer: teeObservers(metrics.observer, activity.observer),
    log: logger,
    grants,
  });
  const ready = new ReadyState({
    allocator,
    metrics,
    storeFault: () => store.fault,
    grantLogFault: () => grants.check(),
  });
  const status: StatusDeps = {
    storeKind: store.kind,
    activity,
    snowflake: snowflake.generator,
    node: deps.identity ?? nodeIdentity(options.grantLog.nodeId),
    region: options.region,
    ...(deps.worker === undefined ? {} : { worker: deps.worker }),
    ...(deps.statusCluster ? { cluster: deps.statusCluster } : {}),
  };
  const app = createApp({
    allocator,
    tags: store,
    metrics,
    config: options.http,
    logger,
    ready,
    status,
  });
  const server = createHttpServer(app);
  const { host, port } = options.listen;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(port, host);
    });
  } catch (err) {
    // The lease is released on the way out; a failure to release must not hide why.
    await allocator.close().catch(() => {});
    throw new ListenError(`cannot listen on ${host}:${port}`, { cause: err });
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const node: RunningNode = {
    server,
    port: bound,
    store,
    allocator,
    metrics,
    ready,
    grants,
    snowflake,
  };
  // Up: from now on /readyz says whether the allocator can serve (http/ready.ts).
  ready.markUp();
  stopPolling.set(node, ready.poll(READY_POLL_MS));
  return node;
}

/** Each node's readiness polling, stopped by {@link stopNode}. */
const stopPolling = new WeakMap<RunningNode, () => void>();

export interface StopOptions {
  /**
   * How long the node keeps accepting and serving after `/readyz` turned 503
   * (`SHUTDOWN_DELAY_MS`): a balancer's probes see the 503 and stop routing here before
   * the listener closes. @default 0
   */
  readonly delayMs?: number;
  /**
   * How long sockets idle at the start of the drain are left before they are closed.
   * @default 1000
   */
  readonly idleGraceMs?: number;
}

/**
 * Stops a node: `/readyz` 503 at once, new connections still accepted and served for
 * `delayMs` (each answer says `Connection: close`, so keep-alive clients reconnect — to
 * another node once the balancer saw the 503), then the listener drained (see
 * {@link drain}), the allocator closed (it releases the snowflake worker lease), then the
 * lease connection, the store and the grant log.
 */
export async function stopNode(node: RunningNode, opts: StopOptions = {}): Promise<void> {
  node.ready.beginShutdown();
  stopPolling.get(node)?.();
  const delayMs = opts.delayMs ?? 0;
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  await drain(node.server, opts.idleGraceMs ?? IDLE_GRACE_MS);
  await node.allocator.close(); // also releases the snowflake worker lease
  await node.snowflake.close();
  await node.store.close();
  node.grants.close();
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
function drain(server: Server, idleGraceMs: number): Promise<void> {
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
      }, idleGraceMs),
      setTimeout(() => server.closeAllConnections(), HARD_CLOSE_MS),
    );
    for (const t of timers) t.unref();
  });
}
