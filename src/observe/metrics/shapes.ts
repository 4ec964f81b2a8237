/**
 * Shapes and regions (docs/design.md §13), for the operator of several regions: which
 * region this node serves as (`idalloc_region_info{region="i/N"} 1`), and how each
 * served segment tag's IDs are shaped (`idalloc_tag_shape_info{tag,shape,regions} 1`,
 * computed at scrape from what the tag's last grant said; tags with a label of their own
 * only, as the other per-tag gauges). The shape label is the kind, the width of a
 * permute tag and the prefix (`permute/40 ord_`); never the key.
 */
import { Gauge, type Registry } from 'prom-client';
import type { IdAllocator } from '../../allocator/types.js';
import type { TagShape } from '../../core/shape.js';
import type { TagLabeller } from './labels.js';

/** A shape as a label value: kind, permute width, prefix. */
export function shapeLabel(shape: TagShape): string {
  const width = shape.kind === 'permute' && shape.width !== undefined ? `/${shape.width}` : '';
  const prefix = shape.prefix === undefined ? '' : ` ${shape.prefix}_`;
  return `${shape.kind}${width}${prefix}`;
}

export function shapeSeries(
  registry: Registry,
  tags: TagLabeller,
  allocator: () => IdAllocator | undefined,
  region: string,
): void {
  const info = new Gauge({
    name: 'idalloc_region_info',
    help: "The node's region (REGION, i/N): its segment IDs are counter values times N plus i, shaped.",
    labelNames: ['region'] as const,
    aggregator: 'max',
    registers: [registry],
  });
  info.set({ region }, 1);
  new Gauge({
    name: 'idalloc_tag_shape_info',
    help: "A served segment tag's shape and region count, as its last grant said (tags with a label of their own).",
    labelNames: ['tag', 'shape', 'regions'] as const,
    aggregator: 'max',
    registers: [registry],
    collect() {
      this.reset();
      const a = allocator();
      if (a === undefined) return;
      for (const tag of a.segmentTags()) {
        const s = a.shapeOf(tag);
        if (s === undefined || !tags.hasOwn(tag)) continue;
        this.set({ tag, shape: shapeLabel(s.shape), regions: String(s.regions) }, 1);
      }
    },
  });
}
