/**
 * What a `Metrics` registry declares and what it shows, reduced to plain data a test can
 * freeze: the `# HELP`/`# TYPE` lines, each series' declaration (labels, aggregator,
 * buckets), and the samples after a fixed run of events. test/unit/metrics-audiences.test.ts
 * froze these from the single-file src/metrics.ts, so the split by audience is proved to
 * change nothing a scrape or a cluster aggregation could see.
 */
import type { AllocatorObserver, IdAllocator, SegmentState } from '../../src/allocator/types.js';
import { createMetrics, UNMATCHED_ROUTE, type Metrics } from '../../src/observe/metrics/index.js';

/** The exposition's `# HELP` and `# TYPE` lines, in the order a scrape shows them. */
export async function declarations(m: Metrics): Promise<string[]> {
  return (await m.render()).body.split('\n').filter((l) => l.startsWith('# '));
}

/** Each series' declaration as prom-client holds it, sorted by name. */
export function shapes(m: Metrics): string[] {
  return m.registry
    .getMetricsAsArray()
    .map((metric) => {
      const { name, labelNames, aggregator, upperBounds } = metric as unknown as {
        name: string;
        labelNames: readonly string[];
        aggregator: string;
        upperBounds?: readonly number[];
      };
      const buckets = upperBounds ? ` buckets=${upperBounds.join(',')}` : '';
      return `${name} labels=${labelNames.join(',')} aggregator=${aggregator}${buckets}`;
    })
    .sort();
}

/** Sample lines, sorted; histogram buckets left out (their bounds are in {@link shapes}). */
export async function samples(m: Metrics): Promise<string[]> {
  return (await m.render()).body
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.includes('_bucket{'))
    .sort();
}

/** A segment tag's state as the scrape-time gauges read it. */
function state(tag: string, current: bigint, next: bigint, step: number): SegmentState {
  const view = (remaining: bigint) => ({ start: 1n, end: remaining, next: 1n, remaining });
  return {
    tag,
    current: view(current),
    next: next > 0n ? view(next) : null,
    nextReady: next > 0n,
    fetching: false,
    step,
    configuredStep: step,
    lastFetchAt: null,
    highWater: null,
  };
}

/**
 * Metrics with two own tag labels after a fixed run that touches every series: a served
 * tag, a pooled one, an unknown one, a regression, a skip, grants, requests and refusals.
 */
export function afterEvents(): Metrics {
  const m = createMetrics({ defaultMetrics: false, maxTags: 2 });
  const states = new Map([
    ['a', state('a', 10n, 20n, 1000)],
    ['b', state('b', 3n, 0n, 50)],
    ['c', state('c', 4n, 5n, 60)],
  ]);
  m.watch({
    segmentTags: () => [...states.keys()],
    segmentState: (tag: string) => states.get(tag),
    // Tag a is shaped (issue 19); the key never shows in a label.
    shapeOf: (tag: string) =>
      tag === 'a'
        ? { shape: { kind: 'permute', width: 40, key: 'k', prefix: 'ord' }, regions: 3, region: 1 }
        : { shape: { kind: 'plain' }, regions: 1, region: 0 },
  } as unknown as IdAllocator);
  const o: AllocatorObserver = m.observer;
  o.idsIssued?.('a', 'segment', 5);
  o.idsIssued?.('s', 'snowflake', 3); // takes the second own label
  o.segmentFetched?.('unknown', 'error', 0.002);
  o.segmentFetched?.('b', 'ok', 0.003); // pooled
  o.segmentFetched?.('a', 'discarded', 0.3);
  o.segmentWait?.('c');
  o.segmentWait?.('a');
  o.storeRegression?.('a');
  o.clockBackwards?.('waited');
  o.idsSkipped?.('a', 'fence', 4);
  o.idsSkipped?.('nope', 'shutdown_remainder', 1);
  o.segmentGranted?.('a', 100n, 1000n);
  o.segmentGranted?.('a', 90n, 1000n); // older than the last: ignored
  o.segmentGranted?.('b', 50n, 60n); // pooled: no IDs-left series
  o.segmentGranted?.('s', 70n, 60n); // past max: 0 left
  m.observeRequest('GET', '/v1/ids/:tag', 200, 0.0003);
  m.requestObserver('POST', UNMATCHED_ROUTE, 404)(0.02);
  m.requestRefused('TAG_NOT_FOUND');
  m.requestRefused('WEIRD');
  m.setStoreUp(true);
  m.setStoreDurable(true);
  m.setReady(true);
  m.watchSnowflakeWorker(() => 7);
  return m;
}
