/**
 * Shaping of segment IDs in the facade (docs/design.md §13): the segment allocator serves
 * counter values, and this turns them into the IDs callers see, with the shape and region
 * count of the tag's last grant and the node's region. One {@link Shaper} per tag, built
 * when a grant first brings its shape and rebuilt only when the shape's fingerprint, its
 * prefix or the region count change; plain tags of one region keep no shaper at all, so
 * their IDs pass through untouched.
 */
import { ErrorCode, IdAllocError } from '../core/errors.js';
import type { Grant, SegmentStore, TagConfig } from '../core/store-ports.js';
import { NO_REGION, PLAIN, Shaper, regionText, type Region, type TagShape } from '../core/shape.js';

/** How a segment tag's IDs are shaped on this node. */
export interface ServedShape {
  /** The tag's shape, the permute key included: callers strip it (core/shape.ts publicShape) unless trusted. */
  readonly shape: TagShape;
  /** The tag's region count. */
  readonly regions: number;
  /** This node's region index. */
  readonly region: number;
  readonly shaper: Shaper;
}

/** A refusal of a tag shared by another number of regions than the node's (409). */
export function wrongRegion(tag: string, tagRegions: number, node: Region): IdAllocError {
  return new IdAllocError(
    ErrorCode.WRONG_REGION,
    `tag '${tag}' is shared by ${tagRegions} region(s) but this node is region ${regionText(node)} (REGION): serving it could issue another region's IDs; set REGION=i/${tagRegions} or serve the tag from a deployment of ${tagRegions} regions`,
    { tag, tagRegions, nodeRegions: node.count },
  );
}

/** The per-tag shapers of one node. */
export class TagShapes {
  private readonly known = new Map<string, ServedShape>();

  constructor(readonly region: Region = NO_REGION) {}

  /** The shaper of a tag when its IDs are not counter values as they are; undefined for plain, one region. */
  shaperOf(tag: string): Shaper | undefined {
    const s = this.known.get(tag);
    return s === undefined || s.shaper.identity ? undefined : s.shaper;
  }

  /** What the last grant said of the tag, or undefined when this node had none. */
  get(tag: string): ServedShape | undefined {
    return this.known.get(tag);
  }

  /**
   * Learns a tag's shape from a grant or its stored config.
   * @throws IdAllocError WRONG_REGION when its region count is not the node's
   */
  learn(tag: string, shape: TagShape = PLAIN, regions = 1): ServedShape {
    if (regions !== this.region.count) throw wrongRegion(tag, regions, this.region);
    const had = this.known.get(tag);
    if (
      had !== undefined &&
      had.regions === regions &&
      had.shape.prefix === shape.prefix &&
      (had.shape === shape ||
        (had.shape.kind === shape.kind &&
          had.shape.width === shape.width &&
          had.shape.key === shape.key))
    ) {
      return had;
    }
    const served: ServedShape = {
      shape,
      regions,
      region: this.region.index,
      shaper: new Shaper(shape, regions, this.region.index),
    };
    this.known.set(tag, served);
    return served;
  }

  /** From a stored tag (segment tags; snowflake tags are plain, one shaper-less region). */
  learnConfig(tag: string, config: TagConfig): ServedShape | undefined {
    if (config.mode !== 'segment') return undefined;
    return this.learn(tag, config.shape, config.regions);
  }

  /**
   * The store the segment allocator gets: every grant teaches the tag's shape first. Every
   * other method of the port is passed through as it is (an optional one only when the
   * store has it: the allocator tells a store without hand-back by its absence).
   */
  wrap(store: SegmentStore): SegmentStore {
    return {
      allocate: async (tag, count, exact): Promise<Grant> => {
        const g = await store.allocate(tag, count, exact);
        // A grant from a store that did not check the region count: its IDs are not
        // served (a gap), rather than risk another region's IDs.
        this.learn(tag, g.shape, g.regions);
        return g;
      },
      raiseFloor: (tag, floor) => store.raiseFloor(tag, floor),
      // Passed through as they are (each only where the store has it): a keyed grant's
      // shape is learned by the facade, which formats it for the granting node's region;
      // a hand-back moves no shape.
      ...(store.handBack === undefined
        ? {}
        : { handBack: (tag, back) => store.handBack!(tag, back) }),
      ...(store.allocateKeyed === undefined
        ? {}
        : { allocateKeyed: (tag, req) => store.allocateKeyed!(tag, req) }),
      ...(store.forgetKeyed === undefined
        ? {}
        : { forgetKeyed: (tag, record) => store.forgetKeyed!(tag, record) }),
    };
  }
}
