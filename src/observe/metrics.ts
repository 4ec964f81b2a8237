/**
 * The service's metrics (docs/design.md §9) on a registry of its own. Counters and histograms are
 * fed by the allocators through {@link Metrics.observer} and by the HTTP layer; the
 * segment gauges are computed from the allocator's memory at scrape time, so a scrape
 * never waits on the store.
 *
 * Tags appear as label values only once the allocator has served them (an unknown tag in
 * a request never creates a series), and only the first `maxTags` of them; the rest are
 * pooled (metric-tags.ts). The fetch-duration histogram has no tag label: its 15 series
 * per tag were most of a scrape, and a fetch's duration says more about the store than
 * about the tag.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type LabelValues,
} from 'prom-client';
import type { AllocatorObserver, IdAllocator } from '../allocator/types.js';
import { DEFAULT_MAX_TAGS, TagLabels, UNSERVED_TAG } from './metric-tags.js';

export { OTHER_TAGS, UNSERVED_TAG } from './metric-tags.js';
import type { SkipReason } from '../core/grant-log.js';
import type { TagMode } from '../core/store-ports.js';

/** The route label of requests no route matched (docs/design.md §9: never the raw path). */
export const UNMATCHED_ROUTE = 'unmatched';

/** The `code` label values of `idalloc_http_refused_total`. */
export const REFUSED_CODES: readonly string[] = Object.freeze([
  'INVALID_ARGUMENT',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'TAG_NOT_FOUND',
  'WRONG_MODE',
  'TAG_EXHAUSTED',
  'UNAVAILABLE',
  'OTHER',
]);

/** Seconds; a segment fetch is one Lua call, so most land in the first buckets. */
const FETCH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds; buffered IDs answer in well under a millisecond. */
const HTTP_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export interface MetricsOptions {
  /** Add prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
  /** Served tags that get a label of their own (`METRICS_MAX_TAGS`). @default 100 */
  readonly maxTags?: number;
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
  /**
   * Where `idalloc_snowflake_worker_id` is read at scrape time: the worker ID held now,
   * or undefined for none (reported as -1).
   */
  watchSnowflakeWorker(workerId: () => number | undefined): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

const MODES: readonly TagMode[] = ['segment', 'snowflake'];

/** Builds the registry with every docs/design.md §9 series. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) addDefaultMetrics(registry);
  let allocator: IdAllocator | undefined;
  const tagLabels = new TagLabels(options.maxTags ?? DEFAULT_MAX_TAGS);

  // IDs issued are counted on the allocator's hot path (every ID): a plain number per tag
  // and mode here, added to the counter when it is collected (a scrape), instead of
  // prom-client's label hashing per ID.
  const unflushed = new Map<string, Record<TagMode, number> & { readonly label: string }>();
  new Counter({
    name: 'idalloc_ids_issued_total',
    help: 'IDs handed out, by tag and mode.',
    labelNames: ['tag', 'mode'] as const,
    registers: [registry],
    collect() {
      for (const counts of unflushed.values()) {
        for (const mode of MODES) {
          if (counts[mode] > 0) this.inc({ tag: counts.label, mode }, counts[mode]);
          counts[mode] = 0;
        }
      }
    },
  });
  const fetches = new Counter({
    name: 'idalloc_segment_fetches_total',
    help: 'Segment fetches from the store, by outcome (ok, error, discarded).',
    labelNames: ['tag', 'outcome'] as const,
    registers: [registry],
  });
  const fetchSeconds = new Histogram({
    name: 'idalloc_segment_fetch_duration_seconds',
    help: 'Time a segment fetch from the store took, by outcome (ok, error, discarded); all tags.',
    labelNames: ['outcome'] as const,
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
      // Pooled tags add up under one label.
      const left = new Map<string, { current: number; next: number }>();
      for (const tag of allocator?.segmentTags() ?? []) {
        const state = allocator?.segmentState(tag);
        if (!state) continue;
        const label = tagLabels.served(tag);
        const sum = left.get(label) ?? { current: 0, next: 0 };
        // Gauges are doubles: above 2^53 the count is approximate, which a gauge may be.
        sum.current += Number(state.current?.remaining ?? 0n);
        sum.next += Number(state.next?.remaining ?? 0n);
        left.set(label, sum);
      }
      for (const [tag, sum] of left) {
        this.set({ tag, buffer: 'current' }, sum.current);
        this.set({ tag, buffer: 'next' }, sum.next);
      }
    },
  });
  new Gauge({
    name: 'idalloc_segment_step',
    help: 'The step the next segment fetch of a tag will ask for (tags with a label of their own).',
    labelNames: ['tag'] as const,
    // WORKERS>1: the largest step any worker will ask for.
    aggregator: 'max',
    registers: [registry],
    collect() {
      this.reset();
      // A step does not add up: pooled tags have none here.
      for (const tag of allocator?.segmentTags() ?? []) {
        const state = allocator?.segmentState(tag);
        if (state && tagLabels.served(tag) === tag) this.set({ tag }, state.step);
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
  const refused = new Counter({
    name: 'idalloc_http_refused_total',
    help: 'Requests refused with 400, 401, 404, 409 or 503, by error code (logged at debug but for a line a minute per kind).',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  for (const code of REFUSED_CODES) refused.inc({ code }, 0);
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

  // Tags the allocator has served: the only ones that may get a label (tagLabels).
  const served = new Set<string>();
  const label = (tag: string) =>
    served.has(tag) || allocator?.segmentState(tag) !== undefined
      ? tagLabels.served(tag)
      : UNSERVED_TAG;

  const gaps = gapAccounting(registry, label, (tag) => tagLabels.hasOwn(tag));

  const observer: AllocatorObserver = Object.freeze({
    ...gaps,
    idsIssued: (tag, mode, count) => {
      let counts = unflushed.get(tag);
      if (counts === undefined) {
        served.add(tag);
        // The label is taken at first sight, so label slots go in first-served order.
        counts = { label: tagLabels.served(tag), segment: 0, snowflake: 0 };
        unflushed.set(tag, counts);
      }
      counts[mode] += count;
    },
    segmentFetched: (tag, outcome, seconds) => {
      // A fetch that succeeded found the tag: it is served from here on.
      if (outcome === 'ok') served.add(tag);
      fetches.inc({ tag: label(tag), outcome });
      fetchSeconds.observe({ outcome }, seconds);
    },
    segmentWait: (tag) => waits.inc({ tag: label(tag) }),
    // A regression needs an earlier grant: the tag exists.
    storeRegression: (tag) => regressions.inc({ tag: tagLabels.served(tag) }),
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
    requestRefused: (code: string) =>
      refused.inc({ code: REFUSED_CODES.includes(code) ? code : 'OTHER' }),
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

// ── gap accounting: IDs given up unserved, and how many a tag has left ─────────────────

/**
 * `idalloc_ids_skipped_total{tag,reason}` (reasons: incarnation_jump, discarded_grant,
 * fence, shutdown_remainder) and `idalloc_tag_ids_left{tag}`: IDs above the last one this
 * node was granted, up to the tag's max as that grant reported it (computed at scrape).
 * Tag labels go through `label`, as the other per-tag series do; tags beyond
 * METRICS_MAX_TAGS have no IDs-left series.
 */
function gapAccounting(
  registry: Registry,
  label: (tag: string) => string,
  ownLabel: (tag: string) => boolean,
): Pick<AllocatorObserver, 'idsSkipped' | 'segmentGranted'> {
  const skipped = new Counter({
    name: 'idalloc_ids_skipped_total',
    help: 'IDs given up unserved, by tag and reason (incarnation_jump, discarded_grant, fence, shutdown_remainder).',
    labelNames: ['tag', 'reason'] as const,
    registers: [registry],
  });
  const last = new Map<string, { end: bigint; max: bigint }>();
  new Gauge({
    name: 'idalloc_tag_ids_left',
    help: "IDs of a tag left above the last one granted to this node, up to the tag's max.",
    labelNames: ['tag'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [tag, g] of last) {
        // Like the step gauge: IDs left do not add up across tags, so pooled tags get
        // no series (METRICS_MAX_TAGS bounds this gauge too).
        if (!ownLabel(tag)) continue;
        const left = g.max > g.end ? g.max - g.end : 0n;
        // A double: approximate above 2^53, which a gauge may be.
        this.set({ tag }, Number(left));
      }
    },
  });
  return {
    idsSkipped: (tag: string, reason: SkipReason, count: number) =>
      skipped.inc({ tag: label(tag), reason }, count),
    // A grant means the tag exists: its name is a safe label.
    segmentGranted: (tag: string, end: bigint, max: bigint) => {
      const prev = last.get(tag);
      if (prev === undefined || end >= prev.end) last.set(tag, { end, max });
    },
  };
}
