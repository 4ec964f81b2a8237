import type { TagShape } from './shape.js';

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
  /** Incarnation safety gap (docs/design.md §8.1). */
  readonly gap: bigint;
  /** The next unallocated ID; missing only when the tag is damaged in the store. */
  readonly next?: bigint;
  /**
   * How counter values become IDs (core/shape.ts); fixed once the tag issued an ID.
   * Stores without the field (older tags) read as plain.
   */
  readonly shape: TagShape;
  /** How many regions share the tag (1..1024): region i of N issues c·N + i. Fixed like the shape. */
  readonly regions: number;
  /**
   * The counter value the tag started at (its next at creation): while next is still
   * there, no ID was issued and the shape and region count may change. Missing on tags
   * created before shapes existed and on imported tags: their shape is fixed.
   */
  readonly first?: bigint;
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
  /** The tag's shape at the time of the grant; absent means plain (in-memory test stores). */
  readonly shape?: TagShape;
  /** The tag's region count; absent means 1. */
  readonly regions?: number;
}

/**
 * A grant under an Idempotency-Key (docs/design.md §5 "Idempotency keys"): the store
 * records `record` with the grant in the same atomic step, and a later request with the
 * same record and params gets the recorded range back instead of a new one.
 */
export interface KeyedRequest {
  /** Hex SHA-256 of the caller and the key: the key is never stored in clear. */
  readonly record: string;
  /** The request's parameters, `<kind>:<count>` (kind id, ids or range). */
  readonly params: string;
  /** How many IDs, all or nothing. */
  readonly count: number;
  /** The node's region index: kept with the record, so a replay formats the same IDs. */
  readonly region: number;
  /** How long the record is kept, ms. */
  readonly ttlMs: number;
}

/** A keyed grant: fresh (`replay` false), or the recorded one again. */
export interface KeyedGrant extends Grant {
  readonly replay: boolean;
  /** The region index of the node that granted it: its IDs are formatted for that region. */
  readonly region: number;
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
  /**
   * Hand-back (docs/design.md §5): one atomic compare-and-set that lowers the tag's next
   * from `back.end + 1` to `back.from` when the counter still stands right after the
   * caller's last grant and the store is the incarnation that granted it; otherwise it
   * changes nothing and says why. Optional: a store without it never takes IDs back.
   * @throws IdAllocError TAG_NOT_FOUND, WRONG_MODE, INTERNAL (damaged tag), UNAVAILABLE
   *   (store unreachable: the outcome is unknown)
   */
  handBack?(tag: string, back: HandBack): Promise<HandBackOutcome>;
  /**
   * A grant recorded under an Idempotency-Key, or the one recorded before replayed; one
   * atomic step either way. Optional: a store without it cannot serve keyed requests.
   * @throws IdAllocError as allocate, and IDEMPOTENCY_MISMATCH when the record has other
   *   params (nothing written)
   */
  allocateKeyed?(tag: string, req: KeyedRequest): Promise<KeyedGrant>;
  /**
   * Deletes a keyed grant's record (`req.record`): the node refused that grant (the
   * regression fence), so a retry under the same key must not be answered with it again.
   */
  forgetKeyed?(tag: string, record: string): Promise<void>;
}

/** The unused tail of a caller's last grant, offered back to the counter. */
export interface HandBack {
  /** The first ID handed back: none from here to `end` was served. */
  readonly from: bigint;
  /** The last ID of the caller's last grant: the counter must stand at `end + 1`. */
  readonly end: bigint;
  /** The store incarnation the grant came from ({@link Grant.incarnation}). */
  readonly incarnation: string;
  /**
   * The Idempotency-Key record the grant was made under ({@link KeyedRequest.record}), if
   * any: deleted in the same step as the counter comes down, so that no replay of the key
   * serves the returned IDs again. Kept when the hand-back is not taken.
   */
  readonly record?: string;
}

/**
 * What the store did with a hand-back: took it (`next` is now `from`), or not, because
 * something was granted after the grant (`moved`: `next` says where the counter stands)
 * or the store is not the incarnation that granted it (`incarnation`).
 */
export type HandBackOutcome =
  | { readonly returned: true }
  | {
      readonly returned: false;
      readonly reason: 'moved' | 'incarnation';
      /** The counter (moved) or the store's incarnation now (incarnation). */
      readonly now: string;
    };

export interface CreateTagInput {
  readonly name: string;
  readonly mode: TagMode;
  readonly step: number;
  readonly start: bigint;
  readonly max: bigint;
  readonly gap: bigint;
  readonly description: string;
  /** Segment tags: plain when absent. A permute shape comes with its key (the admin script makes one). */
  readonly shape?: TagShape;
  /** Segment tags: 1 when absent. */
  readonly regions?: number;
}

export interface TagChanges {
  readonly step?: number;
  readonly max?: bigint;
  readonly gap?: bigint;
  readonly description?: string;
  /** Only while the tag has issued no ID (the store refuses it after: REFUSED). */
  readonly shape?: TagShape;
  /** Only while the tag has issued no ID, like the shape. */
  readonly regions?: number;
}

export interface BumpResult {
  readonly previous: bigint;
  readonly next: bigint;
  /** The target passed max + 1 and stopped there: the tag is exhausted. */
  readonly clamped: boolean;
}

/** A page of {@link TagStore.listTags}: tags named above `after`, at most `limit` of them. */
export interface TagPage {
  readonly after?: string;
  readonly limit: number;
}

/** Tag management, used by the admin script and the read-only tag routes. */
export interface TagStore {
  /** @returns the created tag, and whether a deleted tag's tombstone raised its start */
  createTag(input: CreateTagInput): Promise<{ tag: TagConfig; raisedByTombstone: boolean }>;
  getTag(name: string): Promise<TagConfig | undefined>;
  /**
   * Every tag, in name order. With `page`, a store may read only the tags it asks for (the
   * Redis store does: one read per tag); it may also return them all, so a caller that
   * pages filters and cuts the result itself.
   */
  listTags(page?: TagPage): Promise<TagConfig[]>;
  updateTag(name: string, changes: TagChanges): Promise<TagConfig>;
  bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult>;
  deleteTag(name: string): Promise<void>;
}

/** Everything a store offers. */
export interface Store extends SegmentStore, TagStore, TagTransfer {
  readonly kind: 'redis' | 'sentinel' | 'cluster' | 'embedded';
  /** True when the store answers now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * One entry of `tag export`: a live tag with its configuration, or a deleted segment
 * tag's tombstone with the next ID it keeps (README "Recovery procedures").
 */
export type TagRecord =
  | {
      readonly state: 'live';
      readonly tag: TagConfig;
      /**
       * Snowflake tags only: the floor a deleted segment tag of the same name left, which
       * the hash keeps so that it outlives this tag too (see create-1.lua).
       */
      readonly floor?: bigint;
      /** Snowflake tags only: the gap the store keeps beside that floor, if any. */
      readonly gap?: bigint;
      /**
       * Snowflake tags only: the numeric shape (no prefix) and region count of the
       * deleted segment tag whose floor this is; absent: plain, one region.
       */
      readonly floorShape?: TagShape;
      readonly floorRegions?: number;
    }
  | {
      readonly state: 'tombstone';
      readonly name: string;
      /** The next ID of the deleted tag: a tag created again starts at or above it. */
      readonly next: bigint;
      /** The deleted tag's gap, where the store kept it (the embedded store keeps none). */
      readonly gap?: bigint;
      /** Milliseconds since the Unix epoch. */
      readonly deletedAt: number;
      /**
       * The deleted tag's numeric shape (no prefix) and region count: a tag created again
       * must have the same (docs/design.md §3). Absent (older stores and files): plain,
       * one region.
       */
      readonly shape?: TagShape;
      readonly regions?: number;
    };

/** What `tag export` read, and how consistently. */
export interface TagExport {
  /** Every tag and tombstone, by name. */
  readonly records: readonly TagRecord[];
  /**
   * 'snapshot': one read transaction over every tag (embedded); 'per-tag': each tag
   * read atomically on its own (Redis: tags live in different keys, on a Cluster in
   * different slots of different masters).
   */
  readonly consistency: 'snapshot' | 'per-tag';
}

/** What `tag import` did, or with a dry run would do, with one record. */
export interface ImportResult {
  /**
   * created: nothing of that name was stored, so the record was written at its target;
   * raised: the stored next (or floor) stood lower and was raised to the target;
   * unchanged: it already stood at or above the target;
   * conflict: a live tag of the other mode; left alone.
   */
  readonly outcome: 'created' | 'raised' | 'unchanged' | 'conflict';
  /** What the store held under the name before. */
  readonly found: 'none' | TagMode | 'tombstone';
  /** The stored next (or floor) before, as it was stored; undefined when there was none. */
  readonly before?: bigint;
  /** The next (or floor) after (what it would be, on a dry run). */
  readonly after?: bigint;
}

/**
 * Keys under a Redis store's tag pattern (`{prefix}tag:*`) that are not its tags: keys of
 * another deployment whose `KEY_PREFIX` is nested in this one (`a:` and `a:tag:`), or a
 * key that is not a hash. Listing and export leave them out and report them once per scan.
 */
export interface IgnoredKeys {
  readonly count: number;
  /** One of them, the whole key as stored. */
  readonly example: string;
}

/** Export and import of every tag (the admin script's `tag export` / `tag import`). */
export interface TagTransfer {
  /**
   * Reads every tag and tombstone with its configuration and next, each tag atomically.
   * @throws IdAllocError INTERNAL naming a damaged tag (a backup must not drop it silently)
   */
  exportTags(): Promise<TagExport>;
  /**
   * Restores one record in one atomic step: a missing one is created at `target` (the
   * exported next plus the gap: {@link importTarget}), a lower one is raised to it,
   * nothing is ever lowered, a live tag of the other mode is left alone. With `dryRun`
   * the same decision is made and nothing is written.
   */
  importTag(record: TagRecord, target: bigint | undefined, dryRun: boolean): Promise<ImportResult>;
}
