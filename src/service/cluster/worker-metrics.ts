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
import type { Metrics } from '../../observe/metrics/index.js';
import { primaryAsker } from './ask-primary.js';
import type { ClusterMessage } from './messages.js';

type MetricsAnswer = Extract<ClusterMessage, { type: 'idalloc:metrics' }>;

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
  const ask = primaryAsker<MetricsAnswer, string>(
    'idalloc:metrics?',
    'idalloc:metrics',
    'metrics',
    ANSWER_TIMEOUT_MS,
    (m) => m.body,
  );
  const render = async (): Promise<{ contentType: string; body: string }> => ({
    contentType: metrics.registry.contentType,
    body: await ask(),
  });
  return Object.freeze({ ...metrics, render });
}
