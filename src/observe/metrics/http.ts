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
  const httpSeconds = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'idalloc_http_refused_total',
    help: 'Requests refused with 400, 401, 403, 404, 409 or 503, by error code (logged at debug but for a line a minute per kind).',
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
      const c = child(method, route, statusCode);
      return (seconds: number) => c.observe(seconds);
    },
    requestRefused: (code) => refused.inc({ code: REFUSED_CODES.includes(code) ? code : 'OTHER' }),
  };
}
