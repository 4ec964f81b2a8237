/**
 * The sweep of snowflake worker IDs: per deployment and worker ID, the holders' timestamp
 * windows `[floor, horizon]` sorted by floor; two windows that meet are an overlap.
 */
import { LIST_LIMIT } from './sweep.js';
import type { WorkerOverlap, WorkerReport } from './types.js';
import type { Region } from '../core/shape.js';

/** A snowflake worker ID held by one node: a claim and its renewals. */
export interface Holder {
  readonly deployment: string;
  readonly node: string;
  readonly worker: number;
  readonly floor: number;
  horizon: number;
  at: number;
  /** The holder's region (0/1 for lines without one). */
  readonly region: Region;
}

/** Two holders of one worker ID (in one deployment) are safe iff their windows are disjoint. */
export function sweepWorkers(holders: Iterable<Holder>): WorkerReport {
  const byWorker = new Map<string, Holder[]>();
  let count = 0;
  for (const h of holders) {
    count++;
    const key = JSON.stringify([h.deployment, h.worker]);
    const list = byWorker.get(key) ?? [];
    list.push(h);
    byWorker.set(key, list);
  }
  const overlapList: WorkerOverlap[] = [];
  let overlaps = 0;
  const show = (h: Holder) => ({
    node: h.node,
    floor: new Date(h.floor).toISOString(),
    horizon: new Date(h.horizon).toISOString(),
    at: new Date(h.at).toISOString(),
  });
  const keys = [...byWorker.keys()].sort((a, b) => {
    const [da, wa] = JSON.parse(a) as [string, number];
    const [db, wb] = JSON.parse(b) as [string, number];
    return da < db ? -1 : da > db ? 1 : wa - wb;
  });
  for (const key of keys) {
    const list = byWorker.get(key)!.sort((a, b) => a.floor - b.floor);
    let reach: Holder | undefined;
    for (const h of list) {
      if (reach !== undefined && h.floor <= reach.horizon) {
        overlaps++;
        if (overlapList.length < LIST_LIMIT) {
          overlapList.push({
            deployment: h.deployment,
            worker: h.worker,
            from: new Date(h.floor).toISOString(),
            to: new Date(Math.min(h.horizon, reach.horizon)).toISOString(),
            first: show(reach),
            second: show(h),
          });
        }
      }
      if (reach === undefined || h.horizon > reach.horizon) reach = h;
    }
  }
  return { holders: count, workerIds: byWorker.size, overlaps, overlapList };
}
