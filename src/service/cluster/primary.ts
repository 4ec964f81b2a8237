/**
 * `WORKERS=N` (N > 1): the primary process of a node:cluster. It serves nothing itself:
 * N worker processes share the port (the primary hands them connections in turn), each
 * with its own buffers and its own snowflake worker lease, exactly as a single process
 * would run. The primary
 *
 * - replaces a worker that dies, after a jittered backoff that grows while replacements
 *   keep dying quickly; a worker that fails before the node was ever up stops the node
 *   (exit 1), as a single process failing to start would;
 * - on SIGTERM/SIGINT passes SIGTERM to every worker (each drains as a single process
 *   does) and exits 0 once all exited cleanly, 1 if one did not or the budget ran out;
 * - on SIGHUP passes it to every worker (each reopens `GRANT_LOG`); a worker still
 *   starting gets it once it listens (its handler is in place by then);
 * - aggregates the workers' metrics (prom-client's AggregatorRegistry) for whichever
 *   worker is asked for `/metrics` (see worker-metrics.ts), so Prometheus scrapes one
 *   target per node and counters are the node's sums;
 * - gathers every worker's own status for whichever worker is asked for `/v1/status`
 *   (primary-status.ts), with the node's identity (this process's).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { jitteredBackoff } from '../../core/backoff.js';
import type { NodeIdentity } from '../../http/node-identity.js';
import type { Logger } from '../../observe/logger.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';
import { statusGathering } from './primary-status.js';

/** First delay before replacing a dead worker; doubles while replacements die quickly. */
const RESTART_BASE_MS = 200;
const RESTART_MAX_MS = 10_000;
/** A worker that served this long resets the backoff: its death is not a crash loop. */
const STABLE_MS = 30_000;

export interface PrimaryOptions {
  /** The workers' own shutdown limit; the primary gives them a second more. */
  readonly shutdownLimitMs: number;
}

/** Runs the primary until it is told to stop; never returns a result. */
export function runPrimary(
  config: { readonly workers: number; readonly host: string; readonly identity: NodeIdentity },
  logger: Logger,
  opts: PrimaryOptions,
): void {
  const log = logger.child({ role: 'primary' });
  const aggregator = new AggregatorRegistry();
  /** The workers alive (forked, their exit not handled yet), with when they started. */
  const startedAt = new Map<number, number>();
  const listening = new Set<number>();
  /** Workers that were starting at a SIGHUP: they get it once they listen. */
  const hangupPending = new Set<number>();
  /**
   * Workers that were starting when the node was told to stop: a worker has no SIGTERM
   * handler until it listens (the signal would kill it, a failed exit), so it gets the
   * signal once it listens, and drains as the others do. The stop's time limit still holds.
   */
  const termPending = new Set<number>();
  let nodeUp = false;
  let stopping = false;
  let failedExit = false;
  let quickDeaths = 0;
  const status = statusGathering(config.identity, config.workers, () =>
    Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && listening.has(w.id),
    ),
  );

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    return worker;
  };

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    failedExit ||= code !== 0;
    const limit = setTimeout(() => {
      log.error(`workers did not stop within ${opts.shutdownLimitMs + 1000} ms: killing them`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, opts.shutdownLimitMs + 1000);
    limit.unref();
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(failedExit ? 1 : 0);
    for (const w of workers) {
      if (w === undefined) continue;
      // A failed node stops at once; a clean stop lets a starting worker finish starting.
      if (code === 0 && !listening.has(w.id)) termPending.add(w.id);
      else w.process.kill('SIGTERM');
    }
  };

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isClusterMessage(message)) return; // prom-client's own messages, among others
    if (status.onMessage(worker, message)) return;
    if (message.type === 'idalloc:listening') {
      listening.add(worker.id);
      if (termPending.delete(worker.id)) {
        worker.process.kill('SIGTERM');
        return;
      }
      if (hangupPending.delete(worker.id)) worker.process.kill('SIGHUP');
      if (!nodeUp && listening.size === config.workers) {
        nodeUp = true;
        log.info(
          { host: config.host, port: message.port, workers: config.workers },
          `listening on http://${config.host}:${message.port} with ${config.workers} workers`,
        );
      }
    } else if (message.type === 'idalloc:metrics?') {
      const reply = (m: ClusterMessage) => {
        if (worker.isConnected()) worker.send(m);
      };
      aggregator.clusterMetrics().then(
        (body) => reply({ type: 'idalloc:metrics', id: message.id, body }),
        (err: unknown) => reply({ type: 'idalloc:metrics', id: message.id, error: String(err) }),
      );
    }
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const served = listening.delete(worker.id);
    hangupPending.delete(worker.id);
    termPending.delete(worker.id);
    const lived = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    const who = { worker: worker.id, pid: worker.process.pid, code, signal };
    if (stopping) {
      if (code !== 0) failedExit = true;
      log.info(who, 'worker stopped');
      // Our own count of live workers: cluster.workers drops a worker once it is dead and
      // disconnected, which can come before its 'exit' event has been handled here.
      if (startedAt.size === 0) {
        log.info('shut down');
        process.exit(failedExit ? 1 : 0);
      }
      return;
    }
    if (!nodeUp && !served) {
      log.fatal(who, 'a worker failed to start: stopping the node');
      stop(1);
      return;
    }
    quickDeaths = lived >= STABLE_MS ? 0 : quickDeaths + 1;
    const delay = jitteredBackoff(quickDeaths, RESTART_BASE_MS, RESTART_MAX_MS, Math.random());
    log.error({ ...who, restartInMs: Math.round(delay) }, 'worker died: replacing it');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'already shutting down');
      return;
    }
    log.info(
      { signal, workers: Object.keys(cluster.workers ?? {}).length },
      'shutting down: draining workers',
    );
    stop(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    if (stopping) return;
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w === undefined) continue;
      // A worker still starting may not handle SIGHUP yet (it would end it).
      if (listening.has(w.id)) w.process.kill('SIGHUP');
      else hangupPending.add(w.id);
    }
    log.info({ signal: 'SIGHUP' }, 'SIGHUP: passed to the workers (they reopen GRANT_LOG)');
  });

  log.info({ workers: config.workers }, `starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork();
}
