/**
 * What `tag import` watches besides each record's outcome (README "Admin script"): a
 * store that stops answering ends the import (and `tag bump --all`) instead of failing
 * every remaining tag one command timeout at a time, and a segment tag the import leaves
 * near its max is named.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isIdAllocError } from '../core/errors.js';
import type { ImportResult, Store, TagRecord } from '../core/store-ports.js';

/**
 * How long the store may fail every try of one record (UNAVAILABLE: unreachable, or
 * refusing writes for now) before the import stops. A Redis command fails after about
 * 4 s when the server is gone, so the import stops within about 8 s of a dead store,
 * and rides out a shorter blip (a reconnect, a quick failover) without losing a tag.
 */
export const STORE_LOST_MS = 5000;

/** Pause between two tries of one record while the store does not answer. */
const RETRY_PAUSE_MS = 250;

/** The store failed every try for {@link STORE_LOST_MS}: the import stops. */
export class StoreLost extends Error {
  override readonly name = 'StoreLost';
}

/**
 * Runs `attempt` until it does not fail with UNAVAILABLE; retries it (the same record:
 * an import step is idempotent, so one that ran but lost its reply is harmless to repeat)
 * for as long as the failures span less than `lostMs` from the start of the first failed
 * try. @throws StoreLost carrying the last failure's message once they span `lostMs`
 */
export async function untilStoreLost<T>(
  attempt: () => Promise<T>,
  lostMs = STORE_LOST_MS,
  now: () => number = Date.now,
): Promise<T> {
  let downSince: number | undefined;
  for (;;) {
    const started = now();
    try {
      return await attempt();
    } catch (err) {
      if (!isIdAllocError(err, 'UNAVAILABLE')) throw err;
      downSince ??= started;
      if (now() - downSince >= lostMs) throw new StoreLost(err.message);
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

/**
 * A segment tag is near its max after an import when it has fewer IDs left than its gap
 * (the next restart or failover of the store, which skips one gap, would exhaust it) or
 * than this many segments of its step, whichever is more.
 */
export const NEAR_MAX_SEGMENTS = 100n;

/** How much room an import left a segment tag. */
export interface Room {
  readonly next: bigint;
  readonly max: bigint;
  readonly idsLeft: bigint;
  /** The fewest IDs left that are not near max (see {@link NEAR_MAX_SEGMENTS}). */
  readonly threshold: bigint;
  readonly near: boolean;
}

/**
 * The room a created or raised segment tag has after the import (on a dry run: would
 * have), with the max and step it is stored with (read again when the tag existed: its
 * max may have changed since the export); undefined for anything else.
 */
export async function roomAfter(
  store: Pick<Store, 'getTag'>,
  record: TagRecord,
  r: ImportResult,
  gap: bigint,
): Promise<Room | undefined> {
  if (r.after === undefined || (r.outcome !== 'created' && r.outcome !== 'raised')) {
    return undefined;
  }
  let config = record.state === 'live' && r.found === 'none' ? record.tag : undefined;
  if (r.found === 'segment') {
    config = await store.getTag(record.state === 'live' ? record.tag.name : record.name);
  }
  if (config?.mode !== 'segment') return undefined;
  const { max, step } = config;
  const idsLeft = max + 1n > r.after ? max + 1n - r.after : 0n;
  const bySteps = BigInt(step) * NEAR_MAX_SEGMENTS;
  const threshold = gap > bySteps ? gap : bySteps;
  return { next: r.after, max, idsLeft, threshold, near: idsLeft < threshold };
}

/** The warning for a tag an import left near its max. */
export function nearMaxMessage(name: string, room: Room, dryRun: boolean): string {
  const leaves = dryRun ? 'would leave' : 'leaves';
  const what =
    room.idsLeft === 0n
      ? 'no ID left: the tag is exhausted, and every request for it fails'
      : `${room.idsLeft} IDs left, fewer than ${room.threshold} (its gap, or ${NEAR_MAX_SEGMENTS} segments of its step)`;
  // After the import a smaller gap no longer helps (nothing is lowered); before, it may.
  const remedy = dryRun
    ? `choose a smaller --gap for it if its IDs allow (README "Choosing the gap"), or raise its max`
    : `raise its max if its IDs allow (tag update ${name} --max N)`;
  return `the import ${leaves} tag '${name}' near its max: next ID ${room.next}, max ${room.max}, ${what}; ${remedy}`;
}
