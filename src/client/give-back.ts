/**
 * IdClient's hand-back at close (docs/design.md §5 "Hand-back", docs/library.md): the
 * unserved tail of the last range it leased of a tag goes back to the service that leased
 * it (`POST /v1/returns/{tag}`), which takes it back to the counter only when nothing was
 * granted after it. {@link tailToReturn} decides what may go back — nothing when anything
 * is uncertain — and {@link returnTail} makes the one call, with a time limit, never
 * retried and never failed over: whatever goes wrong, the IDs stay skipped (a gap, never
 * a duplicate).
 */
import type { ClientSettings } from './options.js';

/** The last range leased of a tag, as the client remembers it for a return. */
export interface LastLease {
  readonly start: bigint;
  readonly end: bigint;
  readonly lease: string;
  readonly url: string;
}

/** A tag's buffers as the decision reads them (the engine's KeyBuffer). */
export interface HeldTag {
  readonly current: {
    readonly start: bigint;
    readonly end: bigint;
    readonly cursor: bigint;
  } | null;
  readonly next: { readonly start: bigint; readonly end: bigint; readonly cursor: bigint } | null;
  /** A lease is in flight: it may be granted after the last one. */
  readonly fetching: boolean;
  readonly direct: number;
  /** The highest counter value leased (the fence). */
  readonly highWater: bigint | null;
}

/** One return to make: `from`..`end` of the lease `lease`, to `url`. */
export interface TailReturn {
  readonly url: string;
  readonly lease: string;
  readonly from: bigint;
  readonly end: bigint;
}

/**
 * The tail of the tag's last lease when it may go back: that lease is the last range the
 * client got (its end is the fence), no lease is in flight, and a buffer holds it with
 * IDs left; the tail is from that buffer's cursor to its end. Otherwise undefined.
 */
export function tailToReturn(
  last: LastLease | undefined,
  held: HeldTag | undefined,
): TailReturn | undefined {
  if (last === undefined || held === undefined) return undefined;
  if (held.fetching || held.direct > 0 || held.highWater !== last.end) return undefined;
  const r = [held.current, held.next].find(
    (b) => b !== null && b.start === last.start && b.end === last.end,
  );
  if (r === undefined || r === null || r.cursor > r.end) return undefined;
  return { url: last.url, lease: last.lease, from: r.cursor, end: last.end };
}

/**
 * One `POST /v1/returns/{tag}`, given up after `timeoutMs`; never throws. Resolves to
 * what the service said, or why there was no answer, for the client's log.
 */
export async function returnTail(
  s: Pick<ClientSettings, 'fetch' | 'token'>,
  tag: string,
  t: TailReturn,
  timeoutMs: number,
): Promise<string> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  timer.unref();
  try {
    const res = await s.fetch(`${t.url}/v1/returns/${encodeURIComponent(tag)}`, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(s.token === undefined ? {} : { authorization: `Bearer ${s.token}` }),
      },
      body: JSON.stringify({ lease: t.lease, from: t.from.toString() }),
      redirect: 'manual',
      signal: ac.signal,
    });
    const text = (await res.text()).slice(0, 500);
    return `answered ${res.status}: ${text}`;
  } catch (err) {
    return ac.signal.aborted
      ? `no answer within ${timeoutMs} ms`
      : `request failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}
