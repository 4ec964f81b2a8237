/**
 * The service's metrics (docs/design.md §9) on a registry of its own, declared by the
 * audience that reads them, one file each:
 *
 * - tags.ts       a tag's owner: IDs issued, IDs skipped (gaps), IDs handed back, IDs left before max
 * - segments.ts   whoever tunes steps: fetches, fetch time, buffers, steps, waits
 * - store.ts      the operator's alerts on the store: up, durable, regressions
 * - node.ts       the operator's view of the node: ready or not (starting, draining, nothing to serve)
 * - shapes.ts     the operator of several regions: the node's region, each tag's shape
 * - snowflake.ts  the operator of snowflake tags: the worker ID held, clock steps back
 * - http.ts       the service's latency and refusals
 * - labels.ts     not an audience: the bounded tag label every per-tag series uses
 *
 * Here they are composed into one `Metrics`: the allocator observer, the scrape-time view
 * of the allocator (watch), and prom-client's default process metrics. Counters and
 * histograms are fed by the allocators through {@link Metrics.observer} and by the HTTP
 * layer; the gauges over buffers are computed at scrape time, so a scrape never waits on
 * the store.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { AllocatorObserver, IdAllocator } from '../../allocator/types.js';
import { httpSeries } from './http.js';
import { DEFAULT_MAX_TAGS, tagLabeller } from './labels.js';
import { segmentSeries } from './segments.js';
import { snowflakeSeries } from './snowflake.js';
import { nodeSeries } from './node.js';
import { storeSeries } from './store.js';
import { gapSeries, handBackSeries, issuedSeries, replaySeries } from './tags.js';
import { shapeSeries } from './shapes.js';

export { REFUSED_CODES, UNMATCHED_ROUTE } from './http.js';
export { DEFAULT_MAX_TAGS, OTHER_TAGS, TagLabels, UNSERVED_TAG } from './labels.js';

export interface MetricsOptions {
  /** Add prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
  /** Served tags that get a label of their own (`METRICS_MAX_TAGS`). @default 100 */
  readonly maxTags?: number;
  /** The node's region, `i/N` (`REGION`). @default '0/1' */
  readonly region?: string;
}

/**
 * prom-client's default metrics, less the gauges it names `…_total`
 * (`nodejs_active_handles_total`, `…_requests_total`, `…_resources_total`): Prometheus
 * reserves `_total` for counters, so `promtool check metrics` fails on them. Each is the
 * sum of a per-type gauge that stays (`sum(nodejs_active_handles)` is the same number).
 */
function addDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const m of registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    if (type === 'gauge' && name.endsWith('_total')) registry.removeSingleMetric(name);
  }
}

/** What the service records; one per process (tests make one per app). */
export interface Metrics {
  readonly registry: Registry;
  /** Hand this to `createAllocator`: it feeds the allocator counters and histograms. */
  readonly observer: AllocatorObserver;
  /** The allocator whose buffers the scrape-time gauges read (set once it exists). */
  watch(allocator: IdAllocator): void;
  /** One finished HTTP request; `route` is the route pattern or {@link UNMATCHED_ROUTE}. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /**
   * One refused request (400, 401, 404, 409, an expected 503) by its error code; codes other than
   * {@link REFUSED_CODES} count as `OTHER`, so the label set stays bounded.
   */
  requestRefused(code: string): void;
  /** {@link observeRequest} with the labels resolved once, for a hot route's answers. */
  requestObserver(method: string, route: string, statusCode: number): (seconds: number) => void;
  setStoreUp(up: boolean): void;
  setStoreDurable(durable: boolean): void;
  /** Whether the last readiness check found this node ready (`idalloc_ready`). */
  setReady(ready: boolean): void;
  /**
   * Where `idalloc_snowflake_worker_id` is read at scrape time: the worker ID held now,
   * or undefined for none (reported as -1).
   */
  watchSnowflakeWorker(workerId: () => number | undefined): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Builds the registry with every docs/design.md §9 series. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) addDefaultMetrics(registry);
  let allocator: IdAllocator | undefined;
  const tags = tagLabeller(
    options.maxTags ?? DEFAULT_MAX_TAGS,
    (tag) => allocator?.segmentState(tag) !== undefined,
  );

  // Registered in the order a scrape has always listed them (test/unit/metrics-audiences).
  const issued = issuedSeries(registry, tags);
  const segments = segmentSeries(registry, tags, () => allocator);
  const store = storeSeries(registry, tags);
  const snowflake = snowflakeSeries(registry);
  const http = httpSeries(registry);
  const gaps = gapSeries(registry, tags);
  const node = nodeSeries(registry);
  const handBack = handBackSeries(registry, tags);
  // Issue 19: after the others, so a scrape lists the older series as it always has.
  shapeSeries(registry, tags, () => allocator, options.region ?? '0/1');
  // Issue 20: Idempotency-Key replays, after the others too.
  const replays = replaySeries(registry, tags);

  const observer: AllocatorObserver = Object.freeze({
    ...gaps,
    ...handBack,
    ...replays,
    ...issued,
    ...segments,
    ...store.observer,
    ...snowflake.observer,
  } satisfies AllocatorObserver);

  return Object.freeze({
    registry,
    observer,
    watch(a: IdAllocator) {
      allocator = a;
    },
    observeRequest: http.observeRequest,
    requestObserver: http.requestObserver,
    requestRefused: http.requestRefused,
    setStoreUp: store.setStoreUp,
    setStoreDurable: store.setStoreDurable,
    setReady: node.setReady,
    watchSnowflakeWorker: snowflake.watchSnowflakeWorker,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  });
}
