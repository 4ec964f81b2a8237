/**
 * A client's hand-back through the service (docs/design.md §5 "Hand-back"): an IdClient
 * that closes returns the unused tail of the last range it leased (`POST
 * /v1/returns/{tag}`). The node remembers, per tag, the last range it leased to a client,
 * with the grant's incarnation and a random lease key that only the answer carried, and
 * accepts one return for it: only of that lease's tail, only while it is the last grant
 * this node made of the tag (its fence stands at the lease's end, or below it for a keyed
 * lease), and only when the store's compare-and-set (the node's own hand-back:
 * `SegmentStore.handBack`) finds nothing granted after it — for a keyed lease, deleting
 * the key's record in the same step, so that no replay serves the returned IDs again.
 * Anything else is refused with the reason; the IDs then stay skipped, as before
 * hand-back existed. Taken, the grant log gets the `remainder` and
 * `handback` lines a node writes at close, and the node's fence comes down to just below
 * the returned IDs, so that its next grant of them is served, not refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidArgument } from '../core/errors.js';
import type { Grant } from '../core/store-ports.js';
import { offerBack, recordHandBack, type HandBackDeps } from './handback.js';
import type { GiveBackResult } from './types.js';

/** A client's lease as the node remembers it for a return. */
interface Lease {
  readonly start: bigint;
  readonly end: bigint;
  readonly incarnation: string | undefined;
  readonly key: string;
  /** The Idempotency-Key record it was granted under, if any: deleted with a return. */
  readonly record: string | undefined;
}

/**
 * What {@link LeaseReturns} works with: the segment allocator's own, as its hand-back at
 * close has them (handback.ts), and the tag's line of store calls.
 */
export interface LeaseReturnDeps extends Omit<HandBackDeps, 'skip'> {
  /** Runs `op` in the tag's line of store calls with its fence (RangeBuffer.inLine). */
  readonly inLine: <T>(
    tag: string,
    op: (fence: bigint | null) => Promise<{ readonly value: T; readonly fence?: bigint }>,
  ) => Promise<T>;
}

/** A lease key: 128 random bits, base64url. */
const KEY = /^[A-Za-z0-9_-]{22}$/;

const refused = (reason: GiveBackResult['reason'] & string, message: string): GiveBackResult => ({
  returned: 0n,
  reason,
  message,
});

/** The last client lease per tag, and the returns of their tails. */
export class LeaseReturns {
  private readonly last = new Map<string, Lease>();

  constructor(private readonly d: LeaseReturnDeps) {}

  /**
   * A client's range granted: remembered for its return; its key goes to the client.
   * @param record the Idempotency-Key record of a keyed lease
   */
  leased(tag: string, g: Grant, record?: string): string {
    const key = randomBytes(16).toString('base64url');
    this.last.set(tag, { start: g.start, end: g.end, incarnation: g.incarnation, key, record });
    return key;
  }

  /**
   * The lease key of a keyed lease replayed (its answer was lost and the client asked
   * again with the key): the key its first answer carried, while it is still the last
   * lease of the tag here; else undefined (another node's grant, or one since).
   */
  keyOf(
    tag: string,
    record: string,
    g: { readonly start: bigint; readonly end: bigint },
  ): string | undefined {
    const l = this.last.get(tag);
    return l !== undefined && l.record === record && l.start === g.start && l.end === g.end
      ? l.key
      : undefined;
  }

  /** Any other grant or an uncertain store call of the tag: no lease of it may come back. */
  forget(tag: string): void {
    this.last.delete(tag);
  }

  /** The node closes: no lease may come back (the answer says the node knows none). */
  forgetAll(): void {
    this.last.clear();
  }

  /**
   * Takes back IDs `from`..end of the lease `key` of `tag` when it is safe (see the module
   * comment); one return per lease, whatever its outcome.
   * @throws IdAllocError INVALID_ARGUMENT for a malformed key, or `from` outside the lease
   */
  async giveBack(tag: string, key: string, from: bigint): Promise<GiveBackResult> {
    if (!KEY.test(key)) {
      throw invalidArgument(
        `lease '${key.slice(0, 40)}' is not allowed: expected the 22-character lease key of the range answer`,
      );
    }
    const l = this.last.get(tag);
    if (l === undefined || !timingSafeEqual(Buffer.from(l.key), Buffer.from(key))) {
      return refused(
        'unknown_lease',
        `lease is not the last range this node leased of tag '${tag}' (another was granted after it, it was returned already, or the node restarted or is stopping): nothing returned`,
      );
    }
    if (from < l.start || from > l.end + 1n) {
      throw invalidArgument(
        `from ${from} is not allowed: expected a counter value of the lease, ${l.start} to ${l.end + 1n} (end + 1: nothing to return)`,
      );
    }
    this.last.delete(tag);
    if (from > l.end) return refused('nothing', 'the whole lease was served: nothing to return');
    if (l.incarnation === undefined || this.d.store.handBack === undefined) {
      return refused('unsupported', 'this store takes no IDs back: nothing returned');
    }
    const back = {
      from,
      end: l.end,
      incarnation: l.incarnation,
      ...(l.record === undefined ? {} : { record: l.record }),
    };
    return this.d.inLine(tag, async (fence) => {
      // A lease is granted in the tag's line and its end is the fence until the next
      // grant. A keyed one is granted beside the line (its one store trip waits for no
      // fetch) and leaves the fence where it was: a fence above it means a grant since.
      // Either way the store's compare-and-set below has the last word.
      if (l.record === undefined ? fence !== l.end : fence !== null && fence > l.end) {
        return {
          value: refused(
            'moved',
            `this node granted IDs of tag '${tag}' after the lease: nothing returned`,
          ),
        };
      }
      // A return the grant log could not record would read as an overlap later.
      this.d.grants.ensureWritable?.();
      const r = await offerBack(this.d.store, tag, back, this.d.timeoutMs);
      const fields = { tag, from: String(from), end: String(l.end) };
      if (!r.returned) {
        const why =
          'failed' in r
            ? `the store did not answer (${r.failed instanceof Error ? r.failed.message : String(r.failed)}): the outcome is unknown`
            : r.reason === 'moved'
              ? `IDs of the tag were granted after the lease (the counter is at ${r.now})`
              : 'the store is not the incarnation that granted the lease (restart, failover, restore)';
        this.d.log.info({ ...fields, why }, 'client hand-back not taken: the IDs stay skipped');
        return {
          value: refused('failed' in r ? 'uncertain' : r.reason, `nothing returned: ${why}`),
        };
      }
      recordHandBack(this.d, tag, back, 'client');
      return { value: { returned: l.end - from + 1n, from, end: l.end }, fence: from - 1n };
    });
  }
}
