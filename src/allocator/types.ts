/**
 * The allocator's public surface: what the HTTP layer, the library users and the
 * benchmarks call. Segment and snowflake tags are served through the same methods; the
 * facade (allocator/index.ts) routes each tag by its mode.
 */
import type { SkipReason } from '../core/grant-log.js';
import type { DecodedSnowflake, IdRange } from '../core/ids.js';
import type { TagMode } from '../core/store-ports.js';
import type { DecodedId, TagShape } from '../core/shape.js';
import type { ServedShape } from './shaping.js';

/** An ID of a segment tag taken back apart (`GET /v1/decode/{tag}`). */
export interface DecodedTagId extends DecodedId {
  /** The tag's region count. */
  readonly regions: number;
  /** The tag's shape, the permute key included: strip it before showing it. */
  readonly shape: TagShape;
  /** Whether the counter value is below the tag's next (was granted); absent when unknown. */
  readonly issued?: boolean;
}

/** One buffer of a segment tag as this node holds it. */
export interface SegmentView {
  readonly start: bigint;
  readonly end: bigint;
  /** The next ID this buffer will hand out. */
  readonly next: bigint;
  readonly remaining: bigint;
}

/** This node's live state of a segment tag (docs/design.md §2 `GET /v1/tags/{tag}`). */
export interface SegmentState {
  readonly tag: string;
  readonly current: SegmentView | null;
  readonly next: SegmentView | null;
  /** True when the second buffer holds a fetched segment. */
  readonly nextReady: boolean;
  /** True while a fetch from the store is in flight. */
  readonly fetching: boolean;
  /** The step the next fetch will ask for. */
  readonly step: number;
  /** The tag's configured minimum step, as last seen from the store. */
  readonly configuredStep: number;
  /** Wall-clock ms of the last successful fetch, or null. */
  readonly lastFetchAt: number | null;
  /** The highest ID the store has granted this node (regression fence), or null. */
  readonly highWater: bigint | null;
}

/**
 * What lets a ready node serve now, the strongest first: a store that answers (every
 * tag), IDs in its segment buffers (the tags they belong to), or a snowflake worker ID
 * minting (the snowflake tags it knows).
 */
export type Serving = 'store' | 'buffers' | 'snowflake';

export interface Readiness {
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: string;
  /** When ready, what it serves from (docs/fleet-readiness.md). */
  readonly serving?: Serving;
}

/** A client's range (counter values) and the key that lets it return its tail. */
export interface LeasedRange extends IdRange {
  /** The lease key for {@link IdAllocator.giveBack}: absent when no return is possible. */
  readonly lease?: string;
}

/**
 * What became of a client's hand-back (`POST /v1/returns/{tag}`): `returned` IDs `from`..
 * `end` went back to the counter, or none (`returned` 0) and `reason` says why.
 */
export type GiveBackResult =
  | {
      readonly returned: bigint;
      readonly from: bigint;
      readonly end: bigint;
      readonly reason?: undefined;
    }
  | {
      readonly returned: 0n;
      /**
       * unknown_lease: not the last lease of the tag on this node (or returned already);
       * nothing: the lease was served out; unsupported: the store takes nothing back;
       * moved: IDs were granted after the lease; incarnation: the store is not the one
       * that granted it; uncertain: the store did not answer.
       */
      readonly reason:
        'unknown_lease' | 'nothing' | 'unsupported' | 'moved' | 'incarnation' | 'uncertain';
      readonly message: string;
    };

/** The allocator as the service and library users see it. */
export interface IdAllocator {
  /**
   * The next ID of a tag. Returns the bigint itself (no promise) when it is buffered;
   * `await` works on both. With `mode`, only a tag of that mode is served (the Leaf
   * routes); a tag of the other mode is refused WRONG_MODE, `details.mode` naming its own.
   * @throws IdAllocError TAG_NOT_FOUND, WRONG_MODE, TAG_EXHAUSTED, UNAVAILABLE, …
   */
  next(tag: string, mode?: TagMode): bigint | Promise<bigint>;
  /**
   * `count` IDs of a tag, in the order issued (ascending for plain tags). Synchronous
   * when all are buffered.
   */
  nextBatch(tag: string, count: number, mode?: TagMode): bigint[] | Promise<bigint[]>;
  /**
   * The next ID as callers see it: decimal digits, or `prefix_` and 13 base32 characters
   * for a tag with a prefix (docs/design.md §13). `next` gives the number under the
   * prefix. Synchronous when buffered, as `next`.
   */
  nextId(tag: string, mode?: TagMode): string | Promise<string>;
  /** `count` IDs as {@link nextId} writes them. */
  nextIds(tag: string, count: number, mode?: TagMode): string[] | Promise<string[]>;
  /** The shape of a segment tag as its last grant to this node said, or undefined. */
  shapeOf(tag: string): ServedShape | undefined;
  /**
   * The shape of a segment tag: as known, else read from the store (one round trip);
   * undefined for a snowflake tag.
   * @throws IdAllocError TAG_NOT_FOUND, WRONG_REGION, UNAVAILABLE
   */
  lookupShape(tag: string): Promise<ServedShape | undefined>;
  /**
   * An ID of a segment tag back to its counter value and region, by the tag's stored shape.
   * @throws IdAllocError TAG_NOT_FOUND, INVALID_ARGUMENT (not an ID of the tag, a snowflake tag)
   */
  decodeId(tag: string, id: string): Promise<DecodedTagId>;
  /**
   * A range of `size` counter values reserved for the caller alone (segment tags only);
   * a shaped tag's IDs are {@link shapeOf}'s shaper over them. `client` names the
   * caller in the grant log.
   * @throws IdAllocError WRONG_MODE for a snowflake tag
   */
  lease(tag: string, size: number, client?: string): Promise<LeasedRange>;
  /**
   * Takes back the unserved tail `from`..end of the last range this node leased of `tag`
   * (its `lease` key), when nothing was granted after it (docs/design.md §5 "Hand-back").
   * @throws IdAllocError INVALID_ARGUMENT for a malformed key or `from` outside the lease
   */
  giveBack(tag: string, lease: string, from: bigint): Promise<GiveBackResult>;
  /**
   * IDs under an Idempotency-Key (docs/design.md §5 "Idempotency keys"): one store round
   * trip, outside the buffers, recorded with the key; the same key (the same `record`)
   * with the same kind and count gets the same counter values back from any node, with
   * the shape of the node that granted them (its region).
   * @throws IdAllocError IDEMPOTENCY_MISMATCH (the key was used with another kind or
   *   count), WRONG_MODE (a snowflake tag), and what {@link lease} throws
   */
  keyed(
    tag: string,
    key: IdempotencyKey,
    kind: KeyedKind,
    count: number,
    client?: string,
  ): Promise<KeyedRange>;
  /** The tag's mode as this node's mode directory knows it, or undefined when it has not served it. */
  modeOf(tag: string): TagMode | undefined;
  /** This node's state of a segment tag, or undefined when it holds none. */
  segmentState(tag: string): SegmentState | undefined;
  /** Segment tags this node holds buffers for (for metrics). */
  segmentTags(): string[];
  /** Decodes a snowflake ID of this node's layout. @throws IdAllocError INVALID_ARGUMENT */
  decodeSnowflake(id: string): DecodedSnowflake;
  /**
   * Ready while it can serve IDs: the store answers, or a segment tag it serves has IDs
   * in its buffers, or its snowflake worker ID is minting for a snowflake tag it knows.
   * Not ready only when it can serve nothing; the reason says why each way failed.
   */
  readiness(): Promise<Readiness>;
  /** Stops background work, releases the worker lease, closes nothing it did not open. */
  close(): Promise<void>;
}

/**
 * What the allocators report as they work; the service turns it into metrics
 * (observe/metrics/), tests into assertions. Every method is optional and must not throw.
 */
export interface AllocatorObserver {
  idsIssued?(tag: string, mode: TagMode, count: number): void;
  segmentFetched?(tag: string, outcome: 'ok' | 'error' | 'discarded', seconds: number): void;
  /** A request found both buffers empty and waited for a fetch. */
  segmentWait?(tag: string): void;
  /** The store granted a range at or below one it granted before (docs/design.md §8.4). */
  storeRegression?(tag: string): void;
  clockBackwards?(outcome: 'waited' | 'refused'): void;
  /** `count` IDs of a tag given up unserved, and why (they leave a gap). */
  idsSkipped?(tag: string, reason: SkipReason, count: number): void;
  /** `count` unserved IDs of a tag given back to the store's counter at a clean stop (no gap). */
  idsHandedBack?(tag: string, count: number): void;
  /** A keyed request answered with the grant recorded under its Idempotency-Key. */
  idempotentReplay?(tag: string): void;
  /** A grant accepted: its last ID and the tag's max then (for IDs left before max). */
  segmentGranted?(tag: string, end: bigint, max: bigint): void;
}

/** What a keyed request asked for: one ID, a batch (`?count=`), or a range (`size`). */
export type KeyedKind = 'id' | 'ids' | 'range';

/** An Idempotency-Key as the allocator sees it: never the key itself. */
export interface IdempotencyKey {
  /** Hex SHA-256 over the caller and the key (http: idempotency.ts). */
  readonly record: string;
  /** How long the store keeps the record, ms. */
  readonly ttlMs: number;
}

/** The answer to a keyed request: counter values and how to shape them. */
export interface KeyedRange {
  readonly start: bigint;
  readonly end: bigint;
  /** True when this is the recorded grant again (no IDs were taken). */
  readonly replay: boolean;
  /** The tag's shape, for the region of the node that granted the range. */
  readonly served: ServedShape;
  /**
   * A keyed range's lease key, for the return of its tail (`POST /v1/returns/{tag}`): a
   * fresh lease's, or a replay's while the lease is still this node's last of the tag.
   */
  readonly lease?: string;
}
