/**
 * Which tag label a metric sample gets. Tags are the one label whose values grow with the
 * business (a tag per tenant is a fair design), and every labelled tag costs each
 * per-tag metric a series on every scrape, in every Prometheus. So a node gives a label
 * of its own only to the first `maxTags` tags it serves (`METRICS_MAX_TAGS`), in the
 * order it served them, and never takes one back (a series that vanished and came back
 * would read as a reset). Every further tag is pooled under {@link OTHER_TAGS}; requests
 * for tags it never served are counted under {@link UNSERVED_TAG}.
 *
 * Any metric with a `tag` label takes its value from here, so the bound holds for all.
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
