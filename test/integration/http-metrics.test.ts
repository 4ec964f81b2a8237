/**
 * `GET /metrics`: valid Prometheus text carrying every docs/design.md §9 series with its labels
 * after traffic, route patterns instead of raw paths, and `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  find,
  parseExposition,
  startService,
  type Exposition,
  type TestService,
} from '../support/http.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

describe('GET /metrics', () => {
  let svc: TestService;
  let text: string;
  let e: Exposition;
  /** IDs taken straight from the allocator to drain both buffers (one wait). */
  let drained = 0;

  beforeAll(async () => {
    svc = await startService(redisUrl, {
      defaultMetrics: true,
      env: { SNOWFLAKE_WORKER_ID: '3' },
    });
    await svc.store.createTag(segmentTag('order', { step: 10 }));
    await svc.store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
    const get = (p: string) => fetch(svc.base + p).then((r) => r.text());
    for (let i = 0; i < 30; i++) await get('/v1/ids/order');
    await get('/v1/ids/order?count=7');
    await get('/v1/ranges/order?size=5');
    await get('/v1/ids/flake');
    await get('/v1/ids/no-such-tag');
    await get('/v1/ids/bad..x/y');
    await get('/no/such/route');
    await get('/readyz');
    // Take IDs synchronously until both buffers are dry: no fetch can land in between,
    // so the last call waits for one (idalloc_segment_waits_total).
    for (;;) {
      drained++;
      const id = svc.allocator.next('order');
      if (id instanceof Promise) {
        await id;
        break;
      }
    }
    // Scrape with no fetch in flight, so the gauges can be compared with the state.
    for (let i = 0; svc.allocator.segmentState('order')?.fetching !== false; i++) {
      if (i > 200) throw new Error('the fetch of order did not finish within 2 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const res = await fetch(`${svc.base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    text = await res.text();
    e = parseExposition(text);
  });
  afterAll(() => svc.close());

  it('declares every docs/design.md §9 series with its type', () => {
    expect(Object.fromEntries([...e.types].filter(([n]) => !/^(process|nodejs)_/.test(n)))).toEqual(
      {
        idalloc_ids_issued_total: 'counter',
        idalloc_segment_fetches_total: 'counter',
        idalloc_segment_fetch_duration_seconds: 'histogram',
        idalloc_segment_remaining_ids: 'gauge',
        idalloc_segment_step: 'gauge',
        idalloc_segment_waits_total: 'counter',
        idalloc_store_regressions_total: 'counter',
        idalloc_store_up: 'gauge',
        idalloc_store_durable: 'gauge',
        idalloc_snowflake_worker_id: 'gauge',
        idalloc_snowflake_clock_backwards_total: 'counter',
        idalloc_ids_skipped_total: 'counter',
        idalloc_tag_ids_left: 'gauge',
        idalloc_http_refused_total: 'counter',
        http_request_duration_seconds: 'histogram',
        // Issue 17: whether the last readiness check found the node ready.
        idalloc_ready: 'gauge',
        // Issue 20: IDs given back to the counter at a clean stop.
        idalloc_ids_handed_back_total: 'counter',
        // Issue 19: the node's region and each served tag's shape.
        idalloc_region_info: 'gauge',
        idalloc_tag_shape_info: 'gauge',
        // Issue 20: keyed requests answered with their recorded IDs.
        idalloc_idempotent_replays_total: 'counter',
      },
    );
  });

  it("carries prom-client's default process metrics", () => {
    expect(e.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(e.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('counts issued IDs by tag and mode', () => {
    const [order] = find(e, 'idalloc_ids_issued_total', { tag: 'order', mode: 'segment' });
    expect(order?.value).toBe(30 + 7 + 5 + drained);
    expect(find(e, 'idalloc_ids_issued_total', { tag: 'flake', mode: 'snowflake' })[0]?.value).toBe(
      1,
    );
  });

  it('counts fetches by tag and outcome, with one duration histogram by outcome for all tags', () => {
    const fetched = find(e, 'idalloc_segment_fetches_total', { tag: 'order', outcome: 'ok' })[0]!;
    expect(fetched.value).toBeGreaterThanOrEqual(2);
    const count = find(e, 'idalloc_segment_fetch_duration_seconds_count', { outcome: 'ok' });
    expect(count).toHaveLength(1);
    expect(count[0]!.labels).toEqual({ outcome: 'ok' });
    // Every ok fetch of every tag (order's, and the range of /v1/ranges among them).
    const allOk = find(e, 'idalloc_segment_fetches_total', { outcome: 'ok' });
    expect(count[0]!.value).toBe(allOk.reduce((sum, s) => sum + s.value, 0));
    const inf = find(e, 'idalloc_segment_fetch_duration_seconds_bucket', {
      outcome: 'ok',
      le: '+Inf',
    });
    expect(inf[0]!.value).toBe(count[0]!.value);
  });

  it("computes the buffers' remaining IDs and the step at scrape time", () => {
    const state = svc.allocator.segmentState('order')!;
    expect(
      find(e, 'idalloc_segment_remaining_ids', { tag: 'order', buffer: 'current' })[0]?.value,
    ).toBe(Number(state.current?.remaining ?? 0n));
    expect(find(e, 'idalloc_segment_remaining_ids', { tag: 'order', buffer: 'next' })).toHaveLength(
      1,
    );
    expect(find(e, 'idalloc_segment_step', { tag: 'order' })[0]?.value).toBe(state.step);
  });

  it('labels the waits of a tag, and never an unknown or refused tag name', () => {
    expect(find(e, 'idalloc_segment_waits_total', { tag: 'order' })[0]?.value).toBe(1);
    const tags = new Set(e.samples.map((s) => s.labels.tag).filter((t) => t !== undefined));
    expect(tags).toContain('order');
    expect(tags).toContain('flake');
    // Anything the node did not serve is at most the fixed label _unserved.
    expect([...tags].filter((t) => !['order', 'flake', '_unserved'].includes(t!))).toEqual([]);
  });

  it("reports the IDs a tag has left above this node's last grant, up to its max", () => {
    const highWater = svc.allocator.segmentState('order')!.highWater!;
    const left = find(e, 'idalloc_tag_ids_left', { tag: 'order' });
    expect(left).toHaveLength(1);
    expect(left[0]!.value).toBe(Number(2n ** 63n - 1n - highWater));
    // Nothing was skipped on a healthy store (a failover test shows the other case).
    expect(find(e, 'idalloc_ids_skipped_total')).toEqual([]);
  });

  it('reports the store and snowflake gauges', () => {
    expect(find(e, 'idalloc_store_up')[0]?.value).toBe(1);
    expect(find(e, 'idalloc_ready')[0]?.value).toBe(1);
    expect(find(e, 'idalloc_store_durable')[0]?.value).toBe(0);
    // The node's pinned worker (SNOWFLAKE_WORKER_ID=3), as the service reports it.
    expect(find(e, 'idalloc_snowflake_worker_id')[0]?.value).toBe(3);
    for (const outcome of ['waited', 'refused']) {
      expect(find(e, 'idalloc_snowflake_clock_backwards_total', { outcome })[0]?.value).toBe(0);
    }
  });

  it('labels HTTP requests by method, route pattern and status, never the raw path', () => {
    const routes = new Set(
      find(e, 'http_request_duration_seconds_count').map((s) => s.labels.route),
    );
    expect(routes).toContain('/v1/ids/:tag');
    expect(routes).toContain('/v1/ranges/:tag');
    expect(routes).toContain('/v1/ids/*rest');
    expect(routes).toContain('unmatched');
    expect([...routes].some((r) => r?.includes('order') || r?.includes('no-such'))).toBe(false);
    const ok = find(e, 'http_request_duration_seconds_count', {
      method: 'GET',
      route: '/v1/ids/:tag',
      status_code: '200',
    });
    expect(ok[0]?.value).toBe(31 + 1);
    expect(
      find(e, 'http_request_duration_seconds_count', {
        route: '/v1/ids/:tag',
        status_code: '404',
      })[0]?.value,
    ).toBe(1);
  });

  it.skipIf(!hasPromtool && process.env.CI !== 'true')(
    'passes promtool check metrics (required in CI)',
    () => {
      expect(hasPromtool, 'promtool is missing: install the Debian package prometheus').toBe(true);
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      // Exit 3 is "lint problems", 1 unparsable: neither, prom-client's defaults included.
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    },
  );
});
