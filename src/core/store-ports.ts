/**
 * The store ports: what the allocator and the routes need of a store. Redis (standalone,
 * Sentinel, Cluster) implements them in store/redis, SQLite in store/embedded; tests may
 * implement {@link SegmentStore} in memory to drive the allocator deterministically.
 */

export type TagMode = 'segment' | 'snowflake';

/** What every tag has, whatever its mode. */
interface TagBase {
  readonly name: string;
  readonly description: string;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
}

/** A segment tag: IDs come from a counter in the store, handed out in segments. */
export interface SegmentTagConfig extends TagBase {
  readonly mode: 'segment';
  /** Configured segment size; the dynamic step never goes below it. */
  readonly step: number;
  /** The last ID the tag may issue (inclusive). */
  readonly max: bigint;
  /** Incarnation safety gap (SPEC §8.1). */
  readonly gap: bigint;
  /** The next unallocated ID; missing only when the tag is damaged in the store. */
  readonly next?: bigint;
}

/** A snowflake tag: IDs come from the clock, so it has no counter, step, max or gap. */
export interface SnowflakeTagConfig extends TagBase {
  readonly mode: 'snowflake';
  /** Never set: reading `next` of any tag answers undefined for a snowflake tag. */
  readonly next?: never;
}

/** A tag as the store holds it: a union by mode. */
export type TagConfig = SegmentTagConfig | SnowflakeTagConfig;

/** A range granted by the store: `start`..`end` inclusive, for this caller alone. */
export interface Grant {
  readonly start: bigint;
  readonly end: bigint;
  /** The tag's configured step at the time of the grant. */
  readonly step: number;
  readonly max: bigint;
  /** True when the incarnation guard raised the counter before this grant. */
  readonly bumped: boolean;
  /**
   * The store incarnation the grant came from, for the grant log: the Redis `run_id` of
   * the server that ran the allocation, or the embedded store's file identity. Absent
   * only for stores that have none (in-memory test stores).
   */
  readonly incarnation?: string;
  /** How many IDs the incarnation guard skipped right before this grant (0n when none). */
  readonly skipped?: bigint;
}

/** What the segment allocator needs of a store. */
export interface SegmentStore {
  /**
   * Takes the next `count` IDs of a segment tag. With `exact`, all or nothing; without,
   * fewer when the tag's max leaves fewer.
   * @throws IdAllocError TAG_NOT_FOUND, WRONG_MODE, TAG_EXHAUSTED, INTERNAL (damaged
   *   tag), or UNAVAILABLE (store unreachable, replication not confirmed). WRONG_MODE's
   *   `details.mode` names the tag's own mode ('snowflake'): the allocator's mode
   *   directory learns it from the refusal, without asking again.
   */
  allocate(tag: string, count: number, exact: boolean): Promise<Grant>;
  /** Raises the tag's next to at least `floor`; never lowers it (regression fence). */
  raiseFloor(tag: string, floor: bigint): Promise<void>;
}

export interface CreateTagInput {
  readonly name: string;
  readonly mode: TagMode;
  readonly step: number;
  readonly start: bigint;
  readonly max: bigint;
  readonly gap: bigint;
  readonly description: string;
}

export interface TagChanges {
  readonly step?: number;
  readonly max?: bigint;
  readonly gap?: bigint;
  readonly description?: string;
}

export interface BumpResult {
  readonly previous: bigint;
  readonly next: bigint;
  /** The target passed max + 1 and stopped there: the tag is exhausted. */
  readonly clamped: boolean;
}

/** Tag management, used by the admin script and the read-only tag routes. */
export interface TagStore {
  /** @returns the created tag, and whether a deleted tag's tombstone raised its start */
  createTag(input: CreateTagInput): Promise<{ tag: TagConfig; raisedByTombstone: boolean }>;
  getTag(name: string): Promise<TagConfig | undefined>;
  listTags(): Promise<TagConfig[]>;
  updateTag(name: string, changes: TagChanges): Promise<TagConfig>;
  bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult>;
  deleteTag(name: string): Promise<void>;
}

/** Everything a store offers. */
export interface Store extends SegmentStore, TagStore {
  readonly kind: 'redis' | 'sentinel' | 'cluster' | 'embedded';
  /** True when the store answers now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
