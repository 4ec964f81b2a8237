/** IDs as ranges and as decoded snowflakes: what the allocator, the client and the API share. */

/** A range of IDs, `start`..`end` inclusive. */
export interface IdRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** A snowflake ID taken apart (docs/design.md §2 `GET /v1/snowflake/{id}`). */
export interface DecodedSnowflake {
  readonly id: string;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  /** ISO-8601 UTC. */
  readonly time: string;
  readonly workerId: number;
  readonly sequence: number;
  /** Present when the timestamp is ahead of this node's clock: by how much. */
  readonly note?: string;
}
