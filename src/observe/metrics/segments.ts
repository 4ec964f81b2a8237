/**
 * The series of how this node's double buffers behave, read by whoever tunes steps and
 * watches latency: segment fetches from the store (by outcome, and how long they took),
 * the IDs left in each tag's two buffers, the step the next fetch asks for, and requests
 * that found both buffers empty and had to wait (a step too small for the traffic).
 *
 * The fetch-duration histogram has no tag label: its 15 series per tag were most of a
 * scrape, and a fetch's duration says more about the store than about the tag. The
 * buffer gauges are computed from the allocator's memory at scrape time, so a scrape never
 * waits on the store.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AllocatorObserver, IdAllocator } from '../../allocator/types.js';
import type { TagLabeller } from './labels.js';

/** Seconds; a segment fetch is one Lua call, so most land in the first buckets. */
const FETCH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The segment series.
 * @param allocator the allocator whose buffers the gauges read, once there is one
 */
export function segmentSeries(
  registry: Registry,
  tags: TagLabeller,
  allocator: () => IdAllocator | undefined,
): Pick<AllocatorObserver, 'segmentFetched' | 'segmentWait'> {
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
      const a = allocator();
      // Pooled tags add up under one label.
      const left = new Map<string, { current: number; next: number }>();
      for (const tag of a?.segmentTags() ?? []) {
        const state = a?.segmentState(tag);
        if (!state) continue;
        const label = tags.served(tag);
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
      const a = allocator();
      // A step does not add up: pooled tags have none here.
      for (const tag of a?.segmentTags() ?? []) {
        const state = a?.segmentState(tag);
        if (state && tags.served(tag) === tag) this.set({ tag }, state.step);
      }
    },
  });
  const waits = new Counter({
    name: 'idalloc_segment_waits_total',
    help: 'Requests that found both buffers of a tag empty and waited for a fetch.',
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  return {
    segmentFetched: (tag, outcome, seconds) => {
      // A fetch that succeeded found the tag: it is served from here on.
      if (outcome === 'ok') tags.markServed(tag);
      fetches.inc({ tag: tags.label(tag), outcome });
      fetchSeconds.observe({ outcome }, seconds);
    },
    segmentWait: (tag) => waits.inc({ tag: tags.label(tag) }),
  };
}
