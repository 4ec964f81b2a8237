/**
 * Start-up steps of the service between the store and the app: the store's checks
 * (docs/design.md §8.5) and the snowflake generator (docs/design.md §6) with its worker lease.
 */
import { checkSnowflakeLayout } from '../allocator/snowflake/layout-check.js';
import { snowflakeFromSettings, type SnowflakeGenerator } from '../allocator/snowflake/index.js';
import type { GrantLogSink, GrantRecorder } from '../core/grant-log.js';
import { createGrantLog, type GrantLineOutput, type GrantLog } from '../grants/log.js';
import { ConfigError } from '../core/errors.js';
import type { GrantLogSettings, SnowflakeSettings } from '../core/settings.js';
import type { WorkerLeaseHandle } from '../core/lease-port.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics/index.js';
import { OutageLog } from '../observe/outage-log.js';
import {
  StoreNotDurableError,
  durabilitySummary,
  type DurabilityReport,
  type OpenedStore,
} from '../store/open.js';
import type { Region } from '../core/shape.js';

/**
 * Redis: logs connection outages (observe/outage-log.ts; ioredis would print every error
 * raw on stderr) and runs the
 * durability check of docs/design.md §8.5 into `idalloc_store_durable`; with
 * `requireDurable` (`REQUIRE_DURABLE_STORE=true`) a store that can lose acknowledged
 * writes stops the start. The embedded store commits each segment with synchronous=FULL.
 * @throws ConfigError (one line) when the node must not start
 */
export async function checkStore(
  store: OpenedStore,
  requireDurable: boolean,
  logger: Logger,
  metrics: Metrics,
): Promise<void> {
  logOutages(store, logger);
  let report: DurabilityReport | undefined;
  let why: string;
  try {
    report = await store.checkDurability();
    if (report === undefined) {
      // Durable by construction (the embedded store): nothing to report.
      metrics.setStoreDurable(true);
      return;
    }
    why = durabilitySummary(report);
  } catch (err) {
    why = `the durability check failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const durable = report?.durable ?? false;
  metrics.setStoreDurable(durable);
  if (durable) {
    logger.info({ notes: report?.notes }, `store durability: ${why}`);
    return;
  }
  if (requireDurable) {
    // The report's own refusal when there is one; the failed check's reason otherwise.
    const line = report
      ? new StoreNotDurableError(report).message
      : `REQUIRE_DURABLE_STORE=true but the store can lose acknowledged writes: ${why}`;
    throw new ConfigError(line);
  }
  logger.warn(
    { problems: report?.problems, unchecked: report?.unchecked, notes: report?.notes },
    `the store can lose acknowledged writes (idalloc_store_durable 0): ${why}`,
  );
}

/**
 * Logs the store's connection outages: one line when one starts and ends, a summary
 * every `summaryEveryMs` between (not a line per reconnect attempt, about two a second).
 */
export function logOutages(
  store: Pick<OpenedStore, 'onConnectionError' | 'onConnectionReady'>,
  logger: Logger,
  summaryEveryMs = 60_000,
): void {
  const outages = new OutageLog({ subject: 'store connection', log: logger, summaryEveryMs });
  store.onConnectionError((err, connection) => outages.error(err, connection));
  store.onConnectionReady((connection) => outages.ready(connection));
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
  settings: SnowflakeSettings,
  logger: Logger,
  metrics: Metrics,
  grants?: GrantRecorder,
  region?: Region,
): Promise<SnowflakeSetup> {
  // A pinned SNOWFLAKE_WORKER_ID needs no lease store.
  const outages = new OutageLog({ subject: 'snowflake lease connection', log: logger });
  const leases: WorkerLeaseHandle | undefined =
    settings.workerId === undefined
      ? store.openWorkerLeases(
          (err) => outages.error(err),
          () => outages.ready(),
        )
      : undefined;
  const generator = snowflakeFromSettings(settings, {
    ...(leases ? { leaseStore: leases.leases } : {}),
    observer: metrics.observer,
    log: logger,
    ...(grants ? { grants } : {}),
    // Worker IDs are split between regions: this node claims only from its block.
    ...(region ? { region } : {}),
  });
  try {
    if (store.layouts) await checkSnowflakeLayout(store.layouts, generator.layout, logger);
    metrics.watchSnowflakeWorker(() => generator.workerId);
    await generator.start();
  } catch (err) {
    // Nothing was claimed that is not released here: close the lease connection too.
    await generator.close().catch(() => {});
    await leases?.close();
    throw err;
  }
  return {
    generator,
    async close() {
      await leases?.close();
    },
  };
}

/**
 * The service's grant log: `NODE_ID` (`settings.nodeId`, default hostname:pid) and
 * `GRANT_LOG` (`settings.file`; the pino log when unset); every line names `deployment` (the store's id, core/deployment.ts). Under
 * `WORKERS` each worker is a node of its own: `NODE_ID/w<k>`, k the cluster worker's id
 * (hostname:pid differs per worker by itself).
 * @param node.worker the cluster worker's id, in a worker process
 * @param node.output where `log` writes (stdout): without GRANT_LOG, a grant whose line it
 *   cannot take is not served (grants/stdout.ts)
 * @throws ConfigError naming GRANT_LOG when the file cannot be opened for appending, or
 *   is a symbolic link
 */
export function openGrantLog(
  settings: Partial<GrantLogSettings>,
  log: GrantLogSink,
  node: {
    readonly worker?: number | undefined;
    readonly deployment?: string;
    readonly output?: GrantLineOutput;
  } = {},
): GrantLog {
  const nodeId =
    settings.nodeId === undefined || node.worker === undefined
      ? settings.nodeId
      : `${settings.nodeId}/w${node.worker}`;
  try {
    return createGrantLog(log, {
      ...(nodeId === undefined ? {} : { nodeId }),
      ...(node.deployment === undefined ? {} : { deployment: node.deployment }),
      ...(settings.file === undefined ? {} : { file: settings.file }),
      ...(node.output === undefined ? {} : { output: node.output }),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      // Refused rather than followed: the node reopens the path on SIGHUP, and a link
      // repointed meanwhile would send grant lines to a file nobody audits.
      throw new ConfigError(
        `GRANT_LOG=${settings.file}: is a symbolic link; refused: set GRANT_LOG to the file itself`,
      );
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      `GRANT_LOG=${settings.file}: cannot open the file for appending (${why})`,
    );
  }
}
