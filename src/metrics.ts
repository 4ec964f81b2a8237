/**
 * The service's metrics (SPEC §9) on a registry of its own. Counters and histograms are
 * fed by the allocators through {@link Metrics.observer} and by the HTTP layer; the
 * segment gauges are computed from the allocator's memory at scrape time, so a scrape
 * never waits on the store.
 *
 * Tags appear as label values only once the allocator has served them: an unknown tag in
 * a request never creates a series (see {@link UNSERVED_TAG}).
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type LabelValues,
} from 'prom-client';
import type { AllocatorObserver, IdAllocator } from './allocator/types.js';

/** The route label of requests no route matched (SPEC §9: never the raw path). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The tag label of fetches and waits for a tag this node has not served yet: a request
 * for an unknown tag (or any tag while the store is down at start) must not create a
 * series of its own. Not a valid tag name, so it never collides with one.
 */
export const UNSERVED_TAG = '_unserved';

/** Seconds; a segment fetch is one Lua call, so most land in the first buckets. */
const FETCH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds; buffered IDs answer in well under a millisecond. */
const HTTP_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export interface MetricsOptions {
  /** Add prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
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
  /** {@link observeRequest} with the labels resolved once, for a hot route's answers. */
  requestObserver(method: string, route: string, statusCode: number): (seconds: number) => void;
  setStoreUp(up: boolean): void;
  setStoreDurable(durable: boolean): void;
  /**
   * Where `idalloc_snowflake_worker_id` is read at scrape time: the worker ID held now,
   * or undefined for none (reported as -1).
   */
  watchSnowflakeWorker(workerId: () => number | undefined): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Builds the registry with every SPEC §9 series. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  let allocator: IdAllocator | undefined;

  const issued = new Counter({
    name: 'idalloc_ids_issued_total',
    help: 'IDs handed out, by tag and mode.',
    labelNames: ['tag', 'mode'] as const,
    registers: [registry],
  });
  const fetches = new Counter({
    name: 'idalloc_segment_fetches_total',
    help: 'Segment fetches from the store, by outcome (ok, error, discarded).',
    labelNames: ['tag', 'outcome'] as const,
    registers: [registry],
  });
  const fetchSeconds = new Histogram({
    name: 'idalloc_segment_fetch_duration_seconds',
    help: 'Time a segment fetch from the store took.',
    labelNames: ['tag'] as const,
    buckets: FETCH_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'idalloc_segment_remaining_ids',
    help: "IDs left in this node's buffers of a segment tag (current and next).",
    labelNames: ['tag', 'buffer'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const tag of allocator?.segmentTags() ?? []) {
        const state = allocator?.segmentState(tag);
        if (!state) continue;
        // Gauges are doubles: above 2^53 the count is approximate, which a gauge may be.
        this.set({ tag, buffer: 'current' }, Number(state.current?.remaining ?? 0n));
        this.set({ tag, buffer: 'next' }, Number(state.next?.remaining ?? 0n));
      }
    },
  });
  new Gauge({
    name: 'idalloc_segment_step',
    help: 'The step the next segment fetch of a tag will ask for.',
    labelNames: ['tag'] as const,
    // WORKERS>1: the largest step any worker will ask for.
    aggregator: 'max',
    registers: [registry],
    collect() {
      this.reset();
      for (const tag of allocator?.segmentTags() ?? []) {
        const state = allocator?.segmentState(tag);
        if (state) this.set({ tag }, state.step);
      }
    },
  });
  const waits = new Counter({
    name: 'idalloc_segment_waits_total',
    help: 'Requests that found both buffers of a tag empty and waited for a fetch.',
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  const regressions = new Counter({
    name: 'idalloc_store_regressions_total',
    help: 'Segments refused because the store granted IDs at or below ones it granted before.',
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  const storeUp = new Gauge({
    name: 'idalloc_store_up',
    help: 'Whether the store answered the last readiness check (1) or not (0).',
    // WORKERS>1: 0 when any worker's store is down.
    aggregator: 'min',
    registers: [registry],
  });
  const storeDurable = new Gauge({
    name: 'idalloc_store_durable',
    help: 'Whether the start-up durability check found a store that cannot lose acknowledged writes.',
    // WORKERS>1: 0 when any worker found the store not durable.
    aggregator: 'min',
    registers: [registry],
  });
  let heldWorker: () => number | undefined = () => undefined;
  new Gauge({
    name: 'idalloc_snowflake_worker_id',
    help: 'The snowflake worker ID this node holds; -1 while it holds none.',
    // WORKERS>1: -1 when any worker holds none (each holds its own).
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.set(heldWorker() ?? -1);
    },
  });
  const backwards = new Counter({
    name: 'idalloc_snowflake_clock_backwards_total',
    help: 'Times the clock moved backwards while issuing snowflake IDs, by outcome (waited, refused).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  storeUp.set(0);
  storeDurable.set(0);
  for (const outcome of ['waited', 'refused'] as const) backwards.inc({ outcome }, 0);

  // The hot route observes on every request: keep the labelled child, skip the hashing.
  const httpChildren = new Map<string, ReturnType<typeof httpSeconds.labels>>();
  const labelled = (values: LabelValues<'method' | 'route' | 'status_code'>) =>
    httpSeconds.labels(values);
  const child = (method: string, route: string, statusCode: number) => {
    const key = `${method} ${statusCode} ${route}`;
    let c = httpChildren.get(key);
    if (!c) {
      c = labelled({ method, route, status_code: String(statusCode) });
      httpChildren.set(key, c);
    }
    return c;
  };

  // Tags the allocator has served: the only tag label values besides UNSERVED_TAG.
  const served = new Set<string>();
  const label = (tag: string) =>
    served.has(tag) || allocator?.segmentState(tag) !== undefined ? tag : UNSERVED_TAG;

  const observer: AllocatorObserver = Object.freeze({
    idsIssued: (tag, mode, count) => {
      served.add(tag);
      issued.inc({ tag, mode }, count);
    },
    segmentFetched: (tag, outcome, seconds) => {
      const t = outcome === 'ok' ? tag : label(tag);
      fetches.inc({ tag: t, outcome });
      fetchSeconds.observe({ tag: t }, seconds);
    },
    segmentWait: (tag) => waits.inc({ tag: label(tag) }),
    // A regression needs an earlier grant: the tag exists.
    storeRegression: (tag) => regressions.inc({ tag }),
    clockBackwards: (outcome) => backwards.inc({ outcome }),
  } satisfies AllocatorObserver);

  return Object.freeze({
    registry,
    observer,
    watch(a: IdAllocator) {
      allocator = a;
    },
    observeRequest(method: string, route: string, statusCode: number, seconds: number) {
      child(method, route, statusCode).observe(seconds);
    },
    requestObserver(method: string, route: string, statusCode: number) {
      const c = child(method, route, statusCode);
      return (seconds: number) => c.observe(seconds);
    },
    setStoreUp: (up: boolean) => storeUp.set(up ? 1 : 0),
    setStoreDurable: (durable: boolean) => storeDurable.set(durable ? 1 : 0),
    watchSnowflakeWorker(workerId: () => number | undefined) {
      heldWorker = workerId;
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  });
}
