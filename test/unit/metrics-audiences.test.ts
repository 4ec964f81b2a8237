/**
 * The split of src/metrics.ts by audience (src/observe/metrics/) changes nothing a scrape
 * or a cluster aggregation sees: the lists below were captured from the single-file
 * src/metrics.ts before the split (git show 26b6551:src/metrics.ts) and frozen here.
 * A change to a series (name, help, type, labels, aggregator, buckets, first value, how a
 * tag becomes a label) must show up here as a deliberate edit.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observe/metrics/index.js';
import { afterEvents, declarations, samples, shapes } from '../support/metrics-exposition.js';

/** The `# HELP`/`# TYPE` lines of the service series, in registration order. */
const DECLARATIONS = Object.freeze([
  '# HELP idalloc_ids_issued_total IDs handed out, by tag and mode.',
  '# TYPE idalloc_ids_issued_total counter',
  '# HELP idalloc_segment_fetches_total Segment fetches from the store, by outcome (ok, error, discarded).',
  '# TYPE idalloc_segment_fetches_total counter',
  '# HELP idalloc_segment_fetch_duration_seconds Time a segment fetch from the store took, by outcome (ok, error, discarded); all tags.',
  '# TYPE idalloc_segment_fetch_duration_seconds histogram',
  "# HELP idalloc_segment_remaining_ids IDs left in this node's buffers of a segment tag (current and next).",
  '# TYPE idalloc_segment_remaining_ids gauge',
  '# HELP idalloc_segment_step The step the next segment fetch of a tag will ask for (tags with a label of their own).',
  '# TYPE idalloc_segment_step gauge',
  '# HELP idalloc_segment_waits_total Requests that found both buffers of a tag empty and waited for a fetch.',
  '# TYPE idalloc_segment_waits_total counter',
  '# HELP idalloc_store_regressions_total Segments refused because the store granted IDs at or below ones it granted before.',
  '# TYPE idalloc_store_regressions_total counter',
  '# HELP idalloc_store_up Whether the store answered the last readiness check (1) or not (0).',
  '# TYPE idalloc_store_up gauge',
  '# HELP idalloc_store_durable Whether the start-up durability check found a store that cannot lose acknowledged writes.',
  '# TYPE idalloc_store_durable gauge',
  '# HELP idalloc_snowflake_worker_id The snowflake worker ID this node holds; -1 while it holds none.',
  '# TYPE idalloc_snowflake_worker_id gauge',
  '# HELP idalloc_snowflake_clock_backwards_total Times the clock moved backwards while issuing snowflake IDs, by outcome (waited, refused).',
  '# TYPE idalloc_snowflake_clock_backwards_total counter',
  '# HELP http_request_duration_seconds HTTP requests by method, route pattern and status code.',
  '# TYPE http_request_duration_seconds histogram',
  '# HELP idalloc_http_refused_total Requests refused with 400, 401, 403, 404, 409, 422 or 503, by error code (logged at debug but for a line a minute per kind).',
  '# TYPE idalloc_http_refused_total counter',
  '# HELP idalloc_ids_skipped_total IDs given up unserved, by tag and reason (incarnation_jump, discarded_grant, fence, shutdown_remainder).',
  '# TYPE idalloc_ids_skipped_total counter',
  "# HELP idalloc_tag_ids_left IDs of a tag left above the last one granted to this node, up to the tag's max.",
  '# TYPE idalloc_tag_ids_left gauge',
  // Issue 17: added after the split, at the end (node.ts).
  '# HELP idalloc_ready Whether this node was ready at the last readiness check (1) or not (0): starting, draining, or able to serve nothing.',
  '# TYPE idalloc_ready gauge',
  // Issue 20: the hand-back at a clean stop, added at the end (tags.ts).
  "# HELP idalloc_ids_handed_back_total IDs given back to the store's counter at a clean stop (unserved; granted again, no gap), by tag.",
  '# TYPE idalloc_ids_handed_back_total counter',
  // Issue 19: shapes and regions, at the end (shapes.ts).
  "# HELP idalloc_region_info The node's region (REGION, i/N): its segment IDs are counter values times N plus i, shaped.",
  '# TYPE idalloc_region_info gauge',
  "# HELP idalloc_tag_shape_info A served segment tag's shape and region count, as its last grant said (tags with a label of their own).",
  '# TYPE idalloc_tag_shape_info gauge',
  // Issue 20: Idempotency-Key replays, at the end (tags.ts).
  '# HELP idalloc_idempotent_replays_total Requests with an Idempotency-Key answered with the IDs recorded under it (a retry that took no new IDs), by tag.',
  '# TYPE idalloc_idempotent_replays_total counter',
]);

/** Labels, cluster aggregator and histogram buckets of each series. */
const SHAPES = Object.freeze([
  'http_request_duration_seconds labels=method,route,status_code aggregator=sum buckets=0.0001,0.0005,0.001,0.005,0.01,0.05,0.1,0.5,1,5',
  'idalloc_http_refused_total labels=code aggregator=sum',
  'idalloc_idempotent_replays_total labels=tag aggregator=sum',
  'idalloc_ids_handed_back_total labels=tag aggregator=sum',
  'idalloc_ids_issued_total labels=tag,mode aggregator=sum',
  'idalloc_ids_skipped_total labels=tag,reason aggregator=sum',
  'idalloc_ready labels= aggregator=min',
  'idalloc_region_info labels=region aggregator=max',
  'idalloc_segment_fetch_duration_seconds labels=outcome aggregator=sum buckets=0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5',
  'idalloc_segment_fetches_total labels=tag,outcome aggregator=sum',
  'idalloc_segment_remaining_ids labels=tag,buffer aggregator=sum',
  'idalloc_segment_step labels=tag aggregator=max',
  'idalloc_segment_waits_total labels=tag aggregator=sum',
  'idalloc_snowflake_clock_backwards_total labels=outcome aggregator=sum',
  'idalloc_snowflake_worker_id labels= aggregator=min',
  'idalloc_store_durable labels= aggregator=min',
  'idalloc_store_regressions_total labels=tag aggregator=sum',
  'idalloc_store_up labels= aggregator=min',
  'idalloc_tag_ids_left labels=tag aggregator=sum',
  'idalloc_tag_shape_info labels=tag,shape,regions aggregator=max',
]);

/** The samples of a fresh registry: the series that exist before any event. */
const FRESH = Object.freeze([
  'idalloc_http_refused_total{code="FORBIDDEN"} 0',
  'idalloc_http_refused_total{code="IDEMPOTENCY_MISMATCH"} 0',
  'idalloc_http_refused_total{code="INVALID_ARGUMENT"} 0',
  'idalloc_http_refused_total{code="NOT_FOUND"} 0',
  'idalloc_http_refused_total{code="OTHER"} 0',
  'idalloc_http_refused_total{code="TAG_EXHAUSTED"} 0',
  'idalloc_http_refused_total{code="TAG_NOT_FOUND"} 0',
  'idalloc_http_refused_total{code="UNAUTHORIZED"} 0',
  'idalloc_http_refused_total{code="UNAVAILABLE"} 0',
  'idalloc_http_refused_total{code="WRONG_MODE"} 0',
  'idalloc_http_refused_total{code="WRONG_REGION"} 0',
  'idalloc_ready 0',
  'idalloc_region_info{region="0/1"} 1',
  'idalloc_snowflake_clock_backwards_total{outcome="refused"} 0',
  'idalloc_snowflake_clock_backwards_total{outcome="waited"} 0',
  'idalloc_snowflake_worker_id -1',
  'idalloc_store_durable 0',
  'idalloc_store_up 0',
]);

/** The samples after {@link afterEvents} (two own tag labels; buckets left out). */
const AFTER_EVENTS = Object.freeze([
  'http_request_duration_seconds_count{method="GET",route="/v1/ids/:tag",status_code="200"} 1',
  'http_request_duration_seconds_count{method="POST",route="unmatched",status_code="404"} 1',
  'http_request_duration_seconds_sum{method="GET",route="/v1/ids/:tag",status_code="200"} 0.0003',
  'http_request_duration_seconds_sum{method="POST",route="unmatched",status_code="404"} 0.02',
  'idalloc_http_refused_total{code="FORBIDDEN"} 0',
  'idalloc_http_refused_total{code="IDEMPOTENCY_MISMATCH"} 0',
  'idalloc_http_refused_total{code="INVALID_ARGUMENT"} 0',
  'idalloc_http_refused_total{code="NOT_FOUND"} 0',
  'idalloc_http_refused_total{code="OTHER"} 1',
  'idalloc_http_refused_total{code="TAG_EXHAUSTED"} 0',
  'idalloc_http_refused_total{code="TAG_NOT_FOUND"} 1',
  'idalloc_http_refused_total{code="UNAUTHORIZED"} 0',
  'idalloc_http_refused_total{code="UNAVAILABLE"} 0',
  'idalloc_http_refused_total{code="WRONG_MODE"} 0',
  'idalloc_http_refused_total{code="WRONG_REGION"} 0',
  'idalloc_ids_issued_total{tag="a",mode="segment"} 5',
  'idalloc_ids_issued_total{tag="s",mode="snowflake"} 3',
  'idalloc_ids_skipped_total{tag="_unserved",reason="shutdown_remainder"} 1',
  'idalloc_ids_skipped_total{tag="a",reason="fence"} 4',
  'idalloc_ready 1',
  'idalloc_region_info{region="0/1"} 1',
  'idalloc_segment_fetch_duration_seconds_count{outcome="discarded"} 1',
  'idalloc_segment_fetch_duration_seconds_count{outcome="error"} 1',
  'idalloc_segment_fetch_duration_seconds_count{outcome="ok"} 1',
  'idalloc_segment_fetch_duration_seconds_sum{outcome="discarded"} 0.3',
  'idalloc_segment_fetch_duration_seconds_sum{outcome="error"} 0.002',
  'idalloc_segment_fetch_duration_seconds_sum{outcome="ok"} 0.003',
  'idalloc_segment_fetches_total{tag="_other",outcome="ok"} 1',
  'idalloc_segment_fetches_total{tag="_unserved",outcome="error"} 1',
  'idalloc_segment_fetches_total{tag="a",outcome="discarded"} 1',
  'idalloc_segment_remaining_ids{tag="_other",buffer="current"} 7',
  'idalloc_segment_remaining_ids{tag="_other",buffer="next"} 5',
  'idalloc_segment_remaining_ids{tag="a",buffer="current"} 10',
  'idalloc_segment_remaining_ids{tag="a",buffer="next"} 20',
  'idalloc_segment_step{tag="a"} 1000',
  'idalloc_segment_waits_total{tag="_other"} 1',
  'idalloc_segment_waits_total{tag="a"} 1',
  'idalloc_snowflake_clock_backwards_total{outcome="refused"} 0',
  'idalloc_snowflake_clock_backwards_total{outcome="waited"} 1',
  'idalloc_snowflake_worker_id 7',
  'idalloc_store_durable 1',
  'idalloc_store_regressions_total{tag="a"} 1',
  'idalloc_store_up 1',
  'idalloc_tag_ids_left{tag="a"} 900',
  'idalloc_tag_ids_left{tag="s"} 0',
  'idalloc_tag_shape_info{tag="a",shape="permute/40 ord_",regions="3"} 1',
]);

const own = (line: string) => /^# (HELP|TYPE) (idalloc_|http_)/.test(line);

describe('metrics declared by audience', () => {
  it('declare the same series, help and types as before the split', async () => {
    expect(await declarations(createMetrics({ defaultMetrics: false }))).toEqual(DECLARATIONS);
  });

  it("keep each series' labels, aggregator and buckets", () => {
    expect(shapes(createMetrics({ defaultMetrics: false }))).toEqual(SHAPES);
  });

  it('start from the same values', async () => {
    expect(await samples(createMetrics({ defaultMetrics: false }))).toEqual(FRESH);
  });

  it('label and count the same events the same way', async () => {
    expect(await samples(afterEvents())).toEqual(AFTER_EVENTS);
  });

  it('with the default process metrics: the same service series, no gauge named _total', async () => {
    const lines = await declarations(createMetrics());
    expect(lines.filter(own)).toEqual(DECLARATIONS);
    expect(lines.length).toBeGreaterThan(DECLARATIONS.length); // process metrics are there
    const gaugesTotal = lines.filter((l) => /^# TYPE \S+_total gauge$/.test(l));
    expect(gaugesTotal).toEqual([]);
  });
});
