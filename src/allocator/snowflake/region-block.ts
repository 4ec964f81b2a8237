/**
 * Snowflake worker IDs split between regions (docs/design.md §13): a node of region `i`
 * of `N` claims worker IDs only from its region's block of `[0, W)`, `W = 2^workerBits`:
 * `[⌊i·W/N⌋, ⌊(i+1)·W/N⌋)`. The blocks of one `N` are disjoint and cover every worker ID,
 * so two deployments of distinct regions never hold one worker ID, and their snowflake
 * IDs (timestamp, worker, sequence) never meet, with no link between their stores.
 */
import { invalidArgument } from '../../core/errors.js';
import { regionText, type Region } from '../../core/shape.js';

/** Worker IDs `first` to `first + count - 1`. */
export interface WorkerBlock {
  readonly first: number;
  readonly count: number;
}

/**
 * Region `region`'s block of `workerCount` worker IDs.
 * @throws IdAllocError INVALID_ARGUMENT when there are fewer worker IDs than regions
 */
export function workerBlock(region: Region, workerCount: number): WorkerBlock {
  const { index, count } = region;
  if (count > workerCount) {
    throw invalidArgument(
      `region ${regionText(region)} is not allowed for snowflake IDs: ${count} regions need at least ${count} worker IDs and the layout has ${workerCount} (${Math.log2(workerCount)} worker bits); use fewer regions or a layout with more worker bits`,
    );
  }
  // Products stay below 2^53: workerCount ≤ 2^22 (layout.ts) and count ≤ 1024.
  const first = Math.floor((index * workerCount) / count);
  const end = Math.floor(((index + 1) * workerCount) / count);
  return Object.freeze({ first, count: end - first });
}

/**
 * A pinned worker ID (`SNOWFLAKE_WORKER_ID`) checked against the region's block.
 * @throws IdAllocError INVALID_ARGUMENT naming the ID, the region and its block
 */
export function checkPinnedWorker(workerId: number, region: Region, workerCount: number): number {
  const b = workerBlock(region, workerCount);
  if (workerId < b.first || workerId >= b.first + b.count) {
    throw invalidArgument(
      `snowflake worker ID ${workerId} is not allowed in region ${regionText(region)}: its worker IDs are ${b.first} to ${b.first + b.count - 1} (of ${workerCount}, split between ${region.count} regions), so that no other region can hold it`,
    );
  }
  return workerId;
}
