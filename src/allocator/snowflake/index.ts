/**
 * Snowflake mode (docs/design.md §6): the generator, its layout and its worker lease. The service
 * builds one generator per process with {@link snowflakeFromConfig}; library users may
 * construct {@link SnowflakeGenerator} directly.
 */
import type { Config } from '../../config/schema.js';
import { invalidArgument } from '../../core/errors.js';
import type { AllocatorObserver } from '../types.js';
import type { Clock, Log } from '../../core/time-and-log.js';
import type { GrantRecorder } from '../../core/grant-log.js';
import { SnowflakeGenerator } from './generator.js';
import { layoutFromConfig } from './layout.js';
import type { WorkerLeaseStore } from '../../core/lease-port.js';

export interface SnowflakeDeps {
  /** Where worker IDs are leased; not needed when `SNOWFLAKE_WORKER_ID` pins one. */
  readonly leaseStore?: WorkerLeaseStore;
  readonly clock?: Clock;
  readonly observer?: AllocatorObserver;
  readonly log?: Log;
  readonly grants?: GrantRecorder;
}

/**
 * The generator the configuration describes: its layout (`SNOWFLAKE_EPOCH`, widths,
 * `SNOWFLAKE_LAYOUT`), a pinned `SNOWFLAKE_WORKER_ID` or a lease of `SNOWFLAKE_LEASE_MS`,
 * `MAX_BACKWARD_MS`. Call `start()` before use and `close()` on shutdown.
 */
export function snowflakeFromConfig(config: Config, deps: SnowflakeDeps): SnowflakeGenerator {
  const pinned = config.SNOWFLAKE_WORKER_ID;
  if (pinned === undefined && !deps.leaseStore) {
    throw invalidArgument(
      'snowflake IDs need a store to lease worker IDs from, or SNOWFLAKE_WORKER_ID (one node only)',
    );
  }
  return new SnowflakeGenerator({
    layout: layoutFromConfig(config),
    ...(pinned === undefined ? { leaseStore: deps.leaseStore } : { workerId: pinned }),
    leaseMs: config.SNOWFLAKE_LEASE_MS,
    maxBackwardMs: config.MAX_BACKWARD_MS,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.grants ? { grants: deps.grants } : {}),
  });
}

export { SnowflakeGenerator, type SnowflakeGeneratorOptions, type Sleep } from './generator.js';
export {
  LAYOUT_PRESETS,
  createLayout,
  decodeSnowflake,
  encodeSnowflake,
  layoutFromConfig,
  type SnowflakeLayout,
  type SnowflakeLayoutOptions,
} from './layout.js';
export type { Schedule, WorkerGrant } from './lease.js';
