/**
 * The series a tag's owner reads: how many IDs a tag has handed out, how many it gave up
 * unserved (the gaps in its sequence, and why), and how many it has left before its max,
 * to alert on a tag running towards exhaustion long before TAG_EXHAUSTED refusals.
 *
 * Two registrations, kept apart so the exposition lists the series in the order it always
 * has (index.ts): the issued counter first, the gap accounting after the HTTP series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AllocatorObserver } from '../../allocator/types.js';
import type { SkipReason } from '../../core/grant-log.js';
import type { TagMode } from '../../core/store-ports.js';
import type { TagLabeller } from './labels.js';

const MODES: readonly TagMode[] = ['segment', 'snowflake'];

/** `idalloc_ids_issued_total{tag,mode}`. */
export function issuedSeries(
  registry: Registry,
  tags: TagLabeller,
): Pick<AllocatorObserver, 'idsIssued'> {
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
  return {
    idsIssued: (tag, mode, count) => {
      let counts = unflushed.get(tag);
      if (counts === undefined) {
        tags.markServed(tag);
        // The label is taken at first sight, so label slots go in first-served order.
        counts = { label: tags.served(tag), segment: 0, snowflake: 0 };
        unflushed.set(tag, counts);
      }
      counts[mode] += count;
    },
  };
}

/**
 * `idalloc_ids_handed_back_total{tag}`: IDs a clean stop gave back to the store's counter
 * (docs/design.md §5 "Hand-back") — unserved, and no gap: they are granted again. Added
 * after `idalloc_ready`, the last series registered (index.ts).
 */
export function handBackSeries(
  registry: Registry,
  tags: TagLabeller,
): Pick<AllocatorObserver, 'idsHandedBack'> {
  const handedBack = new Counter({
    name: 'idalloc_ids_handed_back_total',
    help: "IDs given back to the store's counter at a clean stop (unserved; granted again, no gap), by tag.",
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  return {
    idsHandedBack: (tag: string, count: number) => handedBack.inc({ tag: tags.label(tag) }, count),
  };
}

/**
 * `idalloc_idempotent_replays_total{tag}`: keyed requests answered with the grant their
 * Idempotency-Key recorded (docs/design.md §5 "Idempotency keys") — a retry that cost no
 * IDs. Added at the end, after the shape series (index.ts).
 */
export function replaySeries(
  registry: Registry,
  tags: TagLabeller,
): Pick<AllocatorObserver, 'idempotentReplay'> {
  const replays = new Counter({
    name: 'idalloc_idempotent_replays_total',
    help: 'Requests with an Idempotency-Key answered with the IDs recorded under it (a retry that took no new IDs), by tag.',
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  return {
    idempotentReplay: (tag: string) => replays.inc({ tag: tags.label(tag) }),
  };
}

/**
 * The gap accounting: `idalloc_ids_skipped_total{tag,reason}` (reasons: incarnation_jump,
 * discarded_grant, fence, shutdown_remainder) and `idalloc_tag_ids_left{tag}`: IDs above
 * the last one this node was granted, up to the tag's max as that grant reported it
 * (computed at scrape). Skips are labelled as the other per-tag series are; tags beyond
 * METRICS_MAX_TAGS have no IDs-left series.
 */
export function gapSeries(
  registry: Registry,
  tags: TagLabeller,
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
        if (!tags.hasOwn(tag)) continue;
        const left = g.max > g.end ? g.max - g.end : 0n;
        // A double: approximate above 2^53, which a gauge may be.
        this.set({ tag }, Number(left));
      }
    },
  });
  return {
    idsSkipped: (tag: string, reason: SkipReason, count: number) =>
      skipped.inc({ tag: tags.label(tag), reason }, count),
    // A grant means the tag exists: its name is a safe label.
    segmentGranted: (tag: string, end: bigint, max: bigint) => {
      const prev = last.get(tag);
      if (prev === undefined || end >= prev.end) last.set(tag, { end, max });
    },
  };
}
