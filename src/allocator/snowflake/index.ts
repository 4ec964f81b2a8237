/**
 * Snowflake mode (docs/design.md §6): the generator, its layout and its worker lease. The service
 * builds one generator per process with {@link snowflakeFromSettings}; library users may
 * construct {@link SnowflakeGenerator} directly.
 */
import { invalidArgument } from '../../core/errors.js';
import type { AllocatorObserver } from '../types.js';
import type { Clock, Log } from '../../core/time-and-log.js';
import type { GrantRecorder } from '../../core/grant-log.js';
import type { SnowflakeSettings } from '../../core/settings.js';
import { SnowflakeGenerator } from './generator.js';
import { createLayout } from './layout.js';
import type { WorkerLeaseStore } from '../../core/lease-port.js';
import type { Region } from '../../core/shape.js';

export interface SnowflakeDeps {
  /** Where worker IDs are leased; not needed when `SNOWFLAKE_WORKER_ID` pins one. */
  readonly leaseStore?: WorkerLeaseStore;
  readonly clock?: Clock;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  readonly grants?: GrantRecorder;
  /**
   * The node's region (`REGION`): worker IDs are claimed from its block only, and a
   * pinned `SNOWFLAKE_WORKER_ID` outside the block is refused. @default 0/1
   */
  readonly region?: Region;
}

/**
 * The generator the settings describe: its layout, a pinned worker ID or a lease, how far
 * back the clock may step. Call `start()` before use and `close()` on shutdown.
 */
export function snowflakeFromSettings(
  settings: SnowflakeSettings,
  deps: SnowflakeDeps,
): SnowflakeGenerator {
  const pinned = settings.workerId;
  if (pinned === undefined && !deps.leaseStore) {
    throw invalidArgument(
      'snowflake IDs need a store to lease worker IDs from, or SNOWFLAKE_WORKER_ID (one node only)',
    );
  }
  return new SnowflakeGenerator({
    layout: createLayout(settings.layout),
    ...(pinned === undefined ? { leaseStore: deps.leaseStore } : { workerId: pinned }),
    leaseMs: settings.leaseMs,
    maxBackwardMs: settings.maxBackwardMs,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.grants ? { grants: deps.grants } : {}),
    ...(deps.region ? { region: deps.region } : {}),
  });
}

export { SnowflakeGenerator, type SnowflakeGeneratorOptions, type Sleep } from './generator.js';
export {
  LAYOUT_PRESETS,
  createLayout,
  decodeSnowflake,
  encodeSnowflake,
  type SnowflakeLayout,
  type SnowflakeLayoutOptions,
} from './layout.js';
export type { Schedule, WorkerGrant } from './lease.js';
export { checkPinnedWorker, workerBlock, type WorkerBlock } from './region-block.js';
