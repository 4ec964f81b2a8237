/**
 * Start-up steps of the service between the store and the app: the store's checks
 * (SPEC §8.5) and the snowflake generator (SPEC §6) with its worker lease.
 */
import { snowflakeFromConfig, type SnowflakeGenerator } from './allocator/snowflake/index.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { openStore } from './store/index.js';
import { createRedisClient, topologyOf, type RedisLike } from './store/redis/client.js';
import { StoreNotDurableError, summary, type DurabilityReport } from './store/redis/durability.js';
import { RedisStore } from './store/redis/store.js';
import { RedisWorkerLeaseStore } from './store/redis/worker-lease.js';
import { checkSnowflakeLayout } from './allocator/snowflake/layout-check.js';
import { EmbeddedStore } from './store/embedded/store.js';
import type { WorkerLeaseStore } from './core/lease-port.js';

type OpenedStore = ReturnType<typeof openStore>;

/**
 * Redis: logs connection errors (ioredis would print them raw on stderr) and runs the
 * durability check of SPEC §8.5 into `idalloc_store_durable`; with
 * `REQUIRE_DURABLE_STORE=true` a store that can lose acknowledged writes stops the start
 * (one line on stderr). The embedded store commits each segment with synchronous=FULL.
 * @returns false when the process must not start
 */
export async function checkStore(
  store: OpenedStore,
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<boolean> {
  if (!(store instanceof RedisStore)) {
    metrics.setStoreDurable(true);
    return true;
  }
  store.onConnectionError((err) => logger.warn({ err: err.message }, 'store connection error'));
  let report: DurabilityReport | undefined;
  let why: string;
  try {
    report = await store.checkDurability();
    why = summary(report);
  } catch (err) {
    why = `the durability check failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const durable = report?.durable ?? false;
  metrics.setStoreDurable(durable);
  if (durable) {
    logger.info({ notes: report?.notes }, `store durability: ${why}`);
    return true;
  }
  if (config.REQUIRE_DURABLE_STORE) {
    // The report's own refusal when there is one; the failed check's reason otherwise.
    const line = report
      ? new StoreNotDurableError(report).message
      : `REQUIRE_DURABLE_STORE=true but the store can lose acknowledged writes: ${why}`;
    process.stderr.write(`${line}\n`);
    return false;
  }
  logger.warn(
    { problems: report?.problems, unchecked: report?.unchecked, notes: report?.notes },
    `the store can lose acknowledged writes (idalloc_store_durable 0): ${why}`,
  );
  return true;
}

/** The snowflake generator of this node, started, and what closes its own connection. */
export interface SnowflakeSetup {
  readonly generator: SnowflakeGenerator;
  /** Quits the lease connection; call after the generator closed (it releases the lease). */
  close(): Promise<void>;
}

/**
 * Builds and starts the snowflake generator: on Redis with a worker lease over a
 * connection of its own (renewals must not queue behind admin work), or with a pinned
 * `SNOWFLAKE_WORKER_ID`; on the embedded store, worker IDs are leased in its file.
 */
export async function startSnowflake(
  store: OpenedStore,
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<SnowflakeSetup> {
  const topology = topologyOf(config);
  let client: RedisLike | undefined;
  let leaseStore: WorkerLeaseStore | undefined;
  // A pinned SNOWFLAKE_WORKER_ID needs no lease store.
  const leased = config.SNOWFLAKE_WORKER_ID === undefined;
  if (leased && store instanceof RedisStore && topology) {
    client = createRedisClient(topology, 'general');
    client.on('error', (err: Error) =>
      logger.warn({ err: err.message }, 'snowflake lease connection error'),
    );
    leaseStore = new RedisWorkerLeaseStore(client, store.keys, {
      minReplicas: config.REDIS_MIN_REPLICAS,
      waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
    });
  } else if (leased && store instanceof EmbeddedStore) {
    leaseStore = store.workerLeases();
  }
  const generator = snowflakeFromConfig(config, {
    ...(leaseStore ? { leaseStore } : {}),
    observer: metrics.observer,
    log: logger,
  });
  if (store instanceof RedisStore) {
    try {
      await checkSnowflakeLayout(store, generator.layout, logger);
    } catch (err) {
      await client?.quit().catch(() => client?.disconnect());
      throw err;
    }
  }
  metrics.watchSnowflakeWorker(() => generator.workerId);
  await generator.start();
  return {
    generator,
    async close() {
      if (!client) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
