/**
 * One snowflake layout per store: the epoch and widths decide which IDs a worker ID
 * mints, so a node with another layout would mint IDs other nodes already issued (a
 * later epoch re-mints earlier IDs; other widths make worker 5 and worker 20 collide).
 * The first node records its layout; any node that differs refuses to start. A store can
 * lose the record (Redis restarted empty, FLUSHALL) while nodes run on: each claim of a
 * worker ID therefore records or checks the layout again (ClaimRequest.layout), and a
 * claim under another layout is refused with {@link layoutMismatch}.
 */
import { ConfigError } from '../../core/errors.js';
import { errorLogFields } from '../../core/errors.js';
import type { LayoutRegistry } from '../../core/layout-port.js';
import type { Log } from '../../core/time-and-log.js';
import { layoutFingerprint, type SnowflakeLayout } from './layout.js';

/**
 * @throws ConfigError when the store's recorded layout differs from `layout`. A store
 *   that cannot be reached now is logged and let pass: the check runs again at the next
 *   start.
 */
export async function checkSnowflakeLayout(
  store: LayoutRegistry,
  layout: SnowflakeLayout,
  log: Log,
): Promise<void> {
  const mine = layoutFingerprint(layout);
  let recorded: string;
  try {
    recorded = await store.recordSnowflakeLayout(mine);
  } catch (err) {
    log.warn(errorLogFields(err), 'could not check the snowflake layout recorded in the store');
    return;
  }
  if (recorded !== mine) throw layoutMismatch(mine, recorded);
}

/** The refusal of layout `mine` by a store that records `recorded`, naming both. */
export function layoutMismatch(mine: string, recorded: string): ConfigError {
  return new ConfigError(
    `snowflake layout ${mine} differs from ${recorded}, the one this store's snowflake IDs are minted with: changing SNOWFLAKE_EPOCH, SNOWFLAKE_LAYOUT or the widths would mint IDs already issued; keep the recorded layout, or use a new KEY_PREFIX for a new ID space`,
  );
}
