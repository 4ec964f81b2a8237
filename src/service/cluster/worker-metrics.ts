/**
 * `/metrics` in a cluster worker: the node's metrics, not the worker's. The worker asks
 * the primary over IPC; the primary gathers every worker's registry (prom-client's
 * AggregatorRegistry, which asks each worker in turn over the same channel) and answers
 * with the aggregate. So any worker can answer a scrape, and Prometheus sees one target
 * whose counters are the node's sums.
 *
 * Why workers forward rather than the primary answering: the primary does not speak HTTP
 * (it only hands connections to workers), and a second port for the primary would be a
 * second target to configure and scrape.
 */
import { AggregatorRegistry } from 'prom-client';
import { unavailable } from '../../core/errors.js';
import type { Metrics } from '../../observe/metrics/index.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';

/** Longer than the primary's own wait for its workers (prom-client: 5 s). */
const ANSWER_TIMEOUT_MS = 6_000;

/**
 * `metrics` whose `render` answers with the node's aggregate; also offers this worker's
 * registry to the primary's aggregation.
 */
export function clusterWorkerMetrics(metrics: Metrics): Metrics {
  AggregatorRegistry.setRegistries([metrics.registry]);
  // Constructing one installs prom-client's worker-side listener for the primary's asks.
  new AggregatorRegistry();
  const waiting = new Map<
    number,
    (m: Extract<ClusterMessage, { type: 'idalloc:metrics' }>) => void
  >();
  let nextId = 0;
  process.on('message', (m: unknown) => {
    if (isClusterMessage(m) && m.type === 'idalloc:metrics') waiting.get(m.id)?.(m);
  });

  const render = (): Promise<{ contentType: string; body: string }> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(unavailable('the cluster primary did not answer with the metrics in time', 1));
      }, ANSWER_TIMEOUT_MS);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (m.body !== undefined)
          resolve({ contentType: metrics.registry.contentType, body: m.body });
        else
          reject(
            unavailable(`the node's metrics could not be gathered: ${m.error ?? 'no answer'}`, 1),
          );
      });
      const ask: ClusterMessage = { type: 'idalloc:metrics?', id };
      if (!process.send?.(ask)) {
        clearTimeout(timer);
        waiting.delete(id);
        reject(unavailable('the cluster primary is gone', 1));
      }
    });
  return Object.freeze({ ...metrics, render });
}
