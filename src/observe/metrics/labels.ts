/**
 * Which tag label a metric sample gets: the one label shared by every audience's per-tag
 * series (tags.ts, segments.ts, store.ts), so the bound below holds for all of them.
 *
 * Tags are the one label whose values grow with the business (a tag per tenant is a fair
 * design), and every labelled tag costs each per-tag metric a series on every scrape, in
 * every Prometheus. So a node gives a label of its own only to the first `maxTags` tags it
 * serves (`METRICS_MAX_TAGS`), in the order it served them, and never takes one back (a
 * series that vanished and came back would read as a reset). Every further tag is pooled
 * under {@link OTHER_TAGS}; requests for tags it never served are counted under
 * {@link UNSERVED_TAG}.
 */

/**
 * The tag label of fetches and waits for a tag this node has not served yet: a request
 * for an unknown tag (or any tag while the store is down at start) must not create a
 * series of its own. Not a valid tag name, so it never collides with one.
 */
export const UNSERVED_TAG = '_unserved';

/** The tag label of served tags beyond the first `maxTags`. Not a valid tag name either. */
export const OTHER_TAGS = '_other';

/** The default of `METRICS_MAX_TAGS`. */
export const DEFAULT_MAX_TAGS = 100;

export class TagLabels {
  private readonly own = new Set<string>();

  /** @param maxTags how many served tags get a label of their own (0: none) */
  constructor(readonly maxTags: number = DEFAULT_MAX_TAGS) {
    if (!Number.isSafeInteger(maxTags) || maxTags < 0) {
      throw new RangeError(`maxTags ${maxTags} is not allowed: expected an integer of at least 0`);
    }
  }

  /** The label of a tag this node serves: its name while the bound allows, else pooled. */
  served(tag: string): string {
    if (this.own.has(tag)) return tag;
    if (this.own.size < this.maxTags) {
      this.own.add(tag);
      return tag;
    }
    return OTHER_TAGS;
  }

  /** True when `tag` has a label of its own. */
  hasOwn(tag: string): boolean {
    return this.own.has(tag);
  }
}

/** How the audience files name a tag in a label; one per registry (index.ts). */
export interface TagLabeller {
  /** A tag known to exist (IDs issued, a grant, a regression): its own label or pooled. */
  served(tag: string): string;
  /**
   * A tag named by an event that may concern an unknown tag (a fetch, a wait, a skip):
   * {@link UNSERVED_TAG} until this node has served it or holds buffers of it.
   */
  label(tag: string): string;
  /** This node served the tag (issued IDs of it, or fetched a segment of it). */
  markServed(tag: string): void;
  /** True when the tag has a label of its own. */
  hasOwn(tag: string): boolean;
}

/**
 * @param maxTags the {@link TagLabels} bound
 * @param holds true when the allocator holds buffers of the tag (it exists)
 */
export function tagLabeller(maxTags: number, holds: (tag: string) => boolean): TagLabeller {
  const labels = new TagLabels(maxTags);
  // Tags the allocator has served: the only ones `label` names (or pools).
  const served = new Set<string>();
  return {
    served: (tag) => labels.served(tag),
    label: (tag) => (served.has(tag) || holds(tag) ? labels.served(tag) : UNSERVED_TAG),
    markServed: (tag) => void served.add(tag),
    hasOwn: (tag) => labels.hasOwn(tag),
  };
}
