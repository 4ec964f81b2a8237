/**
 * A hot route's duration observer (`requestObserver`, the lean ID path's) counts in plain
 * numbers between scrapes and folds them into the histogram when it is scraped: a scrape
 * must read exactly what prom-client's `observe` per answer would have given.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/observe/metrics/index.js';

const ROUTE = '/v1/ids/:tag';

/**
 * Durations on every bucket bound, between bounds and above the last one; powers of two,
 * so that any order of adding them gives the same `_sum` exactly.
 */
const SECONDS = [2 ** -14, 2 ** -12, 2 ** -10, 2 ** -8, 2 ** -7, 2 ** -5, 2 ** -4, 0.25, 1, 5, 8];

async function histogram(m: Metrics): Promise<string[]> {
  const { body } = await m.render();
  return body.split('\n').filter((l) => l.startsWith('http_request_duration_seconds'));
}

/** Each duration through `observeRequest`, the path prom-client observes one by one. */
function observedOneByOne(seconds: readonly number[]): Metrics {
  const m = createMetrics({ defaultMetrics: false });
  for (const s of seconds) m.observeRequest('GET', ROUTE, 200, s);
  return m;
}

describe('a hot route observer', () => {
  it('reads at a scrape as one observe per answer would', async () => {
    const hot = createMetrics({ defaultMetrics: false });
    const ok = hot.requestObserver('GET', ROUTE, 200);
    for (const s of [...SECONDS, ...SECONDS]) ok(s);
    const expected = await histogram(observedOneByOne([...SECONDS, ...SECONDS]));
    expect(expected).toContain(
      'http_request_duration_seconds_count{method="GET",route="/v1/ids/:tag",status_code="200"} 22',
    );
    expect(await histogram(hot)).toEqual(expected);
  });

  it('adds what came since the last scrape, once', async () => {
    const hot = createMetrics({ defaultMetrics: false });
    const ok = hot.requestObserver('GET', ROUTE, 200);
    for (const s of SECONDS) ok(s);
    await histogram(hot);
    for (const s of SECONDS) ok(s);
    await histogram(hot); // a second scrape adds nothing twice
    expect(await histogram(hot)).toEqual(
      await histogram(observedOneByOne([...SECONDS, ...SECONDS])),
    );
  });

  it('shares its series with the same labels observed one by one', async () => {
    const hot = createMetrics({ defaultMetrics: false });
    const ok = hot.requestObserver('GET', ROUTE, 200);
    ok(SECONDS[0]!);
    hot.observeRequest('GET', ROUTE, 200, SECONDS[3]!); // e.g. a 200 that express answered
    ok(SECONDS[8]!);
    ok(SECONDS[10]!);
    expect(await histogram(hot)).toEqual(
      await histogram(observedOneByOne([SECONDS[0]!, SECONDS[3]!, SECONDS[8]!, SECONDS[10]!])),
    );
  });

  it('shows no series before its first answer', async () => {
    const hot = createMetrics({ defaultMetrics: false });
    hot.requestObserver('GET', ROUTE, 200);
    expect(await histogram(hot)).toEqual([]);
  });
});
