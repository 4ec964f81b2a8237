/**
 * Hand-back on a clean stop (docs/design.md §5 "Hand-back"): when the segment allocator
 * closes, the unused tail of a tag's buffers goes back to the store's counter if nothing
 * was granted after it — one compare-and-set per tag (`SegmentStore.handBack`). This file
 * holds the node's side: what it remembers of its recent grants ({@link GrantTrail}), the
 * decision which IDs, if any, may go back ({@link handBackTail}), and the call with its
 * time limit ({@link offerBack}), and what the closing allocator writes and counts for each
 * tag ({@link HandBacks}).
 *
 * The rule is "never when anything is uncertain": the tail must end at the node's last
 * grant of the tag, that grant must be a buffered segment of a known incarnation, the
 * tag's last store call must have succeeded, and no store call of the tag may be in
 * flight. The store then checks what only it can know (its counter and incarnation). A
 * call that fails or times out leaves the IDs skipped, as before hand-back existed.
 */
import { recordUnserved, type GrantRecorder } from '../core/grant-log.js';
import type { HandBack, HandBackOutcome, SegmentStore } from '../core/store-ports.js';
import type { Log } from '../core/time-and-log.js';
import type { AllocatorObserver } from './types.js';
import type { Region } from '../core/shape.js';

/** One segment grant as the trail keeps it. */
interface Segment {
  readonly start: bigint;
  readonly end: bigint;
  readonly incarnation: string | undefined;
}

/** What the node remembers of a tag's store calls, for the decision at close. */
export interface TagTrail {
  /** The last two buffered segments granted, oldest first. */
  readonly segments: readonly Segment[];
  /** The last grant was a buffered segment (not a batch's or a client's range). */
  readonly lastWasSegment: boolean;
  /** The last store call failed, was discarded or fenced: where the counter is, is unknown. */
  readonly uncertain: boolean;
}

/** Per tag, the node's recent grants and whether its last store call succeeded. */
export class GrantTrail {
  private readonly tags = new Map<string, TagTrail>();

  /** A grant accepted (`segment`: into the buffers; else a batch's or a client's range). */
  granted(
    tag: string,
    g: { readonly start: bigint; readonly end: bigint; readonly incarnation?: string },
    segment: boolean,
  ): void {
    const before = this.tags.get(tag)?.segments ?? [];
    const seg: Segment = { start: g.start, end: g.end, incarnation: g.incarnation };
    this.tags.set(tag, {
      segments: segment ? [...before.slice(-1), seg] : before,
      lastWasSegment: segment,
      uncertain: false,
    });
  }

  /** A store call of the tag failed (maybe after it ran), was discarded or fenced. */
  uncertain(tag: string): void {
    const t = this.tags.get(tag);
    this.tags.set(tag, { segments: t?.segments ?? [], lastWasSegment: false, uncertain: true });
  }

  get(tag: string): TagTrail | undefined {
    return this.tags.get(tag);
  }
}

/** A buffer as the decision reads it: the next ID it would serve and its last. */
export interface Unserved {
  readonly start: bigint;
  readonly cursor: bigint;
  readonly end: bigint;
}

/** The tail to offer back, or why there is none. */
export type TailDecision =
  { readonly back: HandBack } | { readonly back?: undefined; readonly why: string };

/**
 * Which of a tag's buffered IDs may go back: the contiguous unserved run that ends at the
 * end of the node's last grant — the unserved part of the last segment, and when that
 * one is whole and the other buffer's segment (of the same incarnation) ends right below
 * it, that one's unserved part too.
 * @param busy a store call of the tag is in flight (its outcome unknown)
 */
export function handBackTail(
  trail: TagTrail | undefined,
  buffers: readonly (Unserved | null)[],
  busy: boolean,
): TailDecision {
  if (busy) return { why: 'a store call of the tag is in flight' };
  if (trail === undefined) return { why: 'no grant of the tag' };
  if (trail.uncertain) return { why: 'the last store call of the tag failed' };
  const last = trail.segments.at(-1);
  if (!trail.lastWasSegment || last === undefined) {
    return { why: 'the last grant was not a buffered segment' };
  }
  if (last.incarnation === undefined) return { why: 'the store names no incarnation' };
  const held = buffers.filter((b): b is Unserved => b !== null && b.cursor <= b.end);
  const tail = held.find((b) => b.start === last.start && b.end === last.end);
  if (tail === undefined) return { why: 'the last segment is served out' };
  let from = tail.cursor;
  const prev = trail.segments.at(-2);
  const below = held.find((b) => b !== tail && b.end + 1n === tail.start);
  if (
    from === tail.start &&
    below !== undefined &&
    prev !== undefined &&
    prev.start === below.start &&
    prev.end === below.end &&
    prev.incarnation === last.incarnation
  ) {
    from = below.cursor;
  }
  return { back: { from, end: last.end, incarnation: last.incarnation } };
}

/** The store's answer to one hand-back, or why there was none. */
export type OfferResult = HandBackOutcome | { readonly returned: false; readonly failed: unknown };

/**
 * One hand-back call, given up after `timeoutMs` (the store's outcome then unknown: the
 * IDs are counted as skipped, and a store that did lower its counter gave back IDs no one
 * will serve twice — the node stopped).
 */
export async function offerBack(
  store: SegmentStore,
  tag: string,
  back: HandBack,
  timeoutMs: number,
): Promise<OfferResult> {
  if (store.handBack === undefined)
    return { returned: false, failed: 'the store takes no IDs back' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<OfferResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ returned: false, failed: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([
      store
        .handBack(tag, back)
        .catch((err: unknown) => ({ returned: false as const, failed: err })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What {@link HandBacks} writes to and counts with: the segment allocator's own. */
export interface HandBackDeps {
  readonly store: SegmentStore;
  readonly grants: GrantRecorder;
  readonly observer: AllocatorObserver;
  readonly log: Log;
  /** How long one hand-back call may take (`FETCH_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /**
   * The region and shape fingerprint the tag's grant lines carry (issue 19), for its
   * remainder and hand-back lines alike; nothing for a plain tag of one region.
   */
  readonly layout?: (
    tag: string,
  ) => { readonly region?: Region; readonly shape?: string } | undefined;
  /** Counts IDs as skipped at shutdown (`idalloc_ids_skipped_total{reason="shutdown_remainder"}`). */
  readonly skip: (tag: string, start: bigint, end: bigint) => void;
}

/** The segment allocator's hand-back: its grant trail, and at close its lines and counts. */
export class HandBacks {
  readonly trail = new GrantTrail();

  constructor(private readonly d: HandBackDeps) {}

  /** The grant log's remainder lines: IDs left unserved in the buffers at close. */
  remainders(tag: string, ranges: readonly Unserved[]): void {
    for (const r of ranges) {
      recordUnserved(this.d.grants, {
        kind: 'remainder',
        tag,
        start: r.cursor,
        end: r.end,
        ...this.d.layout?.(tag),
      });
    }
  }

  skipAll(tag: string, ranges: readonly Unserved[]): void {
    for (const r of ranges) this.d.skip(tag, r.cursor, r.end);
  }

  /** Offers the tag's tail ({@link handBackTail} decides which), or counts the IDs as skipped. */
  async offerTail(tag: string, ranges: readonly Unserved[]): Promise<void> {
    const d = handBackTail(this.trail.get(tag), ranges, false);
    if (d.back === undefined) this.skipAll(tag, ranges);
    else await this.offer(tag, d.back, ranges);
  }

  /** One tag's hand-back: counted as handed back when the store took it, else as skipped. */
  private async offer(tag: string, back: HandBack, ranges: readonly Unserved[]): Promise<void> {
    const { grants, log } = this.d;
    const fields = { tag, from: String(back.from), end: String(back.end) };
    let r: OfferResult;
    try {
      // A hand-back the grant log could not record would read as an overlap later.
      grants.ensureWritable?.();
      r = await offerBack(this.d.store, tag, back, this.d.timeoutMs);
    } catch (err) {
      r = { returned: false, failed: err };
    }
    // The tail is whole buffers (from a buffer's cursor on): the others stay skipped.
    for (const g of ranges)
      if (!r.returned || g.cursor < back.from) this.d.skip(tag, g.cursor, g.end);
    if (!r.returned) {
      const why =
        'failed' in r
          ? String(r.failed instanceof Error ? r.failed.message : r.failed)
          : `${r.reason} (${r.now})`;
      log.info({ ...fields, why }, 'hand-back not taken: the unused IDs stay skipped');
      return;
    }
    recordHandBack(this.d, tag, back, 'node');
  }
}

/**
 * What a hand-back the store took leaves behind: `idsHandedBack` counted and the grant
 * log's `handback` line — for a client's return (`whose` client) after a `remainder` line
 * of the same IDs, which a stopping node wrote before its call already. Never throws: a
 * line that cannot be written is logged, since the store's counter has already moved.
 */
export function recordHandBack(
  d: Pick<HandBackDeps, 'grants' | 'observer' | 'log' | 'layout'>,
  tag: string,
  back: HandBack,
  whose: 'node' | 'client',
): void {
  const fields = { tag, from: String(back.from), end: String(back.end) };
  const n = back.end - back.from + 1n;
  d.observer.idsHandedBack?.(
    tag,
    n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n),
  );
  const ids = { tag, start: back.from, end: back.end };
  const layout = d.layout?.(tag);
  try {
    if (whose === 'client') recordUnserved(d.grants, { kind: 'remainder', ...ids, ...layout });
    d.grants.record({ kind: 'handback', ...ids, incarnation: back.incarnation, ...layout });
  } catch (err) {
    d.log.error(
      { ...fields, err },
      `${whose === 'client' ? 'client ' : ''}hand-back taken by the store but its grant-log lines could not be written: audit will report a later grant of these IDs as an overlap (none was served)`,
    );
    return;
  }
  d.log.info(
    fields,
    whose === 'client'
      ? "handed a client's unused IDs back to the store"
      : 'handed the unused IDs back to the store',
  );
}

/** True when `p` settled within `ms` (the closing allocator's wait on fetches in flight). */
export function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    t.unref();
    const done = () => {
      clearTimeout(t);
      resolve(true);
    };
    void p.then(done, done);
  });
}
