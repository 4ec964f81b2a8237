/**
 * The HTTP series, read by whoever owns the service's latency and error budget: request
 * durations by method, route pattern and status, and refusals by error code. Both label
 * sets are bounded: the route is the pattern (or {@link UNMATCHED_ROUTE}, never the raw
 * path) and codes outside {@link REFUSED_CODES} count as `OTHER`.
 */
import { Counter, Histogram, type LabelValues, type Registry } from 'prom-client';

/** The route label of requests no route matched (docs/design.md §9: never the raw path). */
export const UNMATCHED_ROUTE = 'unmatched';

/** The `code` label values of `idalloc_http_refused_total`. */
export const REFUSED_CODES: readonly string[] = Object.freeze([
  'INVALID_ARGUMENT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'TAG_NOT_FOUND',
  'WRONG_MODE',
  'WRONG_REGION',
  'TAG_EXHAUSTED',
  'IDEMPOTENCY_MISMATCH',
  'UNAVAILABLE',
  'OTHER',
]);

/** Seconds; buffered IDs answer in well under a millisecond. */
const HTTP_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** The `Metrics` methods the HTTP layer calls (documented on `Metrics`, index.ts). */
export interface HttpSeries {
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  requestObserver(method: string, route: string, statusCode: number): (seconds: number) => void;
  requestRefused(code: string): void;
}

export function httpSeries(registry: Registry): HttpSeries {
  const hot: HotSeries[] = [];
  const httpSeconds = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
    collect() {
      foldHot(this, hot);
    },
  });
  const refused = new Counter({
    name: 'idalloc_http_refused_total',
    help: 'Requests refused with 400, 401, 403, 404, 409, 422 or 503, by error code (logged at debug but for a line a minute per kind).',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  for (const code of REFUSED_CODES) refused.inc({ code }, 0);

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

  return {
    observeRequest(method, route, statusCode, seconds) {
      child(method, route, statusCode).observe(seconds);
    },
    requestObserver(method, route, statusCode) {
      const c = child(method, route, statusCode); // validates the labels once
      const h: HotSeries = {
        labels: { method, route, status_code: String(statusCode) },
        counts: new Array<number>(HTTP_BUCKETS.length + 1).fill(0),
        sum: 0,
        n: 0,
        seen: false,
      };
      hot.push(h);
      return (seconds: number) => {
        // The first answer goes through prom-client, so that the series takes its place
        // in the exposition when it first happens, as it always has.
        if (!h.seen) {
          h.seen = true;
          c.observe(seconds);
          return;
        }
        let i = 0;
        while (i < HTTP_BUCKETS.length && seconds > HTTP_BUCKETS[i]!) i++;
        h.counts[i]!++;
        h.sum += seconds;
        h.n++;
      };
    },
    requestRefused: (code) => refused.inc({ code: REFUSED_CODES.includes(code) ? code : 'OTHER' }),
  };
}

/**
 * A hot route's answers, counted in plain numbers between scrapes: prom-client's
 * `observe` validates and hashes the labels on every call, about 4 % of a single-ID
 * request's CPU time at 128 connections (docs/benchmarks.md, 2026-12-06).
 */
interface HotSeries {
  readonly labels: LabelValues<'method' | 'route' | 'status_code'>;
  /** Per bucket of {@link HTTP_BUCKETS} (not cumulative), then the ones above the last. */
  readonly counts: number[];
  sum: number;
  n: number;
  /** Whether prom-client has seen this series (its first answer went through it). */
  seen: boolean;
}

/** The per-series values prom-client 15 keeps in `hashMap` (lib/histogram.js). */
interface HistogramEntry {
  readonly labels: Record<string, string | number>;
  readonly bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * Adds the hot series' counts to the histogram (its collect hook, run at every scrape
 * before prom-client reads its values), as `observe` would have one by one: a value
 * counts in the first bucket whose bound it does not exceed, and in no bucket above the
 * last (only in `_count`); the exposition renders the buckets cumulatively.
 */
function foldHot(histogram: Histogram<'method' | 'route' | 'status_code'>, hot: HotSeries[]) {
  const internals = histogram as unknown as { hashMap: Record<string, HistogramEntry> };
  for (const h of hot) {
    if (h.n === 0) continue;
    const same = (e: HistogramEntry) =>
      e.labels.method === h.labels.method &&
      e.labels.route === h.labels.route &&
      e.labels.status_code === h.labels.status_code;
    let entry = Object.values(internals.hashMap).find(same);
    if (entry === undefined) {
      histogram.zero(h.labels); // after a reset(): the series starts again from zero
      entry = Object.values(internals.hashMap).find(same);
      if (entry === undefined) throw new Error('prom-client kept no series after zero()');
    }
    for (let i = 0; i < HTTP_BUCKETS.length; i++) {
      entry.bucketValues[HTTP_BUCKETS[i]!]! += h.counts[i]!;
    }
    entry.sum += h.sum;
    entry.count += h.n;
    h.counts.fill(0);
    h.sum = 0;
    h.n = 0;
  }
}
