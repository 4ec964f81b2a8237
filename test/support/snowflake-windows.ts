/**
 * The snowflake fence (docs/design.md §6) checked from outside, for the fault tests: the
 * timestamp windows a service node's grant log says the store confirmed to it — a worker
 * claim and its renewals, from the claim's floor up to the highest horizon, one window per
 * worker ID and floor, as `idalloc-admin audit` groups them — and which of the IDs the
 * node served fall in which window. An ID in none of its node's windows was minted
 * outside the fence.
 */
import { decodeSnowflake, type SnowflakeLayout } from '../../src/allocator/snowflake/layout.js';
import { GRANT_MSG, type GrantLine } from '../../src/core/grant-log.js';
import type { IdLedger } from './ledger.js';

export interface WorkerWindow {
  readonly worker: number;
  /** The first timestamp (Unix ms) the node may use with the worker ID. */
  readonly floor: number;
  /** The highest horizon the store confirmed for it (Unix ms). */
  horizon: number;
  /** The store's run_id on the grant that opened the window (a claim, or a re-fence). */
  readonly incarnation: string | undefined;
  /** When the node received that grant (Unix ms). */
  readonly at: number;
}

/** The windows in a service node's parsed log lines, in the order they opened. */
export function workerWindows(logs: readonly Record<string, unknown>[]): WorkerWindow[] {
  const windows = new Map<string, WorkerWindow>();
  for (const line of logs) {
    if (line.msg !== GRANT_MSG) continue;
    const g = line.grant as GrantLine;
    if (g.kind !== 'worker' || g.worker === undefined) continue;
    if (g.floor === undefined || g.horizon === undefined) continue;
    const key = `${g.worker}|${g.floor}`;
    const open = windows.get(key);
    if (open) open.horizon = Math.max(open.horizon, g.horizon);
    else
      windows.set(key, {
        worker: g.worker,
        floor: g.floor,
        horizon: g.horizon,
        incarnation: g.incarnation,
        at: Date.parse(g.at),
      });
  }
  return [...windows.values()];
}

export interface WindowTally {
  /** IDs served in each window, in the order of `windows`. */
  readonly perWindow: number[];
  /** IDs in no window of their worker ID (at most 10, as `id (worker w, time t)`). */
  readonly outside: string[];
  readonly outsideCount: number;
}

/** Sorts every ID `ledger` holds for `tag` into the window of its worker ID it lies in. */
export function tallyByWindow(
  ledger: IdLedger,
  tag: string,
  layout: SnowflakeLayout,
  windows: readonly WorkerWindow[],
): WindowTally {
  const perWindow = windows.map(() => 0);
  const outside: string[] = [];
  let outsideCount = 0;
  const now = Date.now();
  for (const [start, end] of ledger.rangesOf(tag)) {
    for (let id = start; id <= end; id++) {
      const d = decodeSnowflake(layout, id.toString(), now);
      const i = windows.findIndex(
        (w) => w.worker === d.workerId && w.floor <= d.timestamp && d.timestamp <= w.horizon,
      );
      if (i >= 0) perWindow[i]! += 1;
      else if (outsideCount++ < 10) outside.push(`${id} (worker ${d.workerId}, time ${d.time})`);
    }
  }
  return { perWindow, outside, outsideCount };
}
