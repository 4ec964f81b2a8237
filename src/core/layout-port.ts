/**
 * The snowflake layout a store's IDs are minted with, recorded in the store. The stores
 * implement the reading and writing; the comparison, and the refusal when layouts
 * differ, stay with the snowflake code (allocator/snowflake/layout-check.ts).
 */
export interface LayoutRegistry {
  /**
   * Records `fingerprint` if the store holds no layout yet, and returns the one recorded.
   * @throws IdAllocError UNAVAILABLE when the store cannot be reached
   */
  recordSnowflakeLayout(fingerprint: string): Promise<string>;
  /**
   * The layout recorded, undefined when none is (`tag export` carries it).
   * @throws IdAllocError UNAVAILABLE when the store cannot be reached
   */
  readSnowflakeLayout(): Promise<string | undefined>;
}
