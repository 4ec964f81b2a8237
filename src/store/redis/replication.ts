/**
 * The replication ack (docs/design.md §8.3): a granted segment is served only once `WAIT` — sent on
 * the connection that carried the grant, to the node that executed it — reports enough
 * replicas, and only if that connection was not re-established in between (a `WAIT` on a
 * fresh connection has written nothing and confirms nothing). Anything else discards the
 * segment: a gap is harmless, a duplicate is not.
 */
import { ErrorCode, IdAllocError } from '../../core/errors.js';
import type { Grant } from '../../core/store-ports.js';

export interface ReplicationAck {
  readonly tag: string;
  readonly grant: Grant;
  /** `REDIS_MIN_REPLICAS`: replicas that must acknowledge. */
  readonly minReplicas: number;
  /** `REDIS_WAIT_TIMEOUT_MS`: how long `WAIT` may block. */
  readonly waitTimeoutMs: number;
  /** Sends `WAIT replicas timeoutMs` on the connection that carried the grant. */
  readonly wait: (replicas: number, timeoutMs: number) => Promise<unknown>;
  /** The connection's epoch when the grant's reply arrived. */
  readonly epochAtGrant: number;
  /** The connection's epoch now (it rises on every new connection). */
  readonly epochNow: () => number;
}

/** A write to confirm with `WAIT` on the connection that carried it. */
export interface WriteAck {
  readonly minReplicas: number;
  readonly waitTimeoutMs: number;
  readonly wait: (replicas: number, timeoutMs: number) => Promise<unknown>;
  /** The connection's epoch when the write's reply arrived. */
  readonly epochAtWrite: number;
  readonly epochNow: () => number;
}

interface Unconfirmed {
  readonly reason: string;
  readonly extra: Record<string, unknown>;
  readonly cause?: unknown;
}

/** Why `WAIT` does not confirm the write, or undefined when it does. */
async function unconfirmed(ack: WriteAck): Promise<Unconfirmed | undefined> {
  let reply: unknown;
  try {
    reply = await ack.wait(ack.minReplicas, ack.waitTimeoutMs);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { reason: `WAIT failed (${message})`, extra: {}, cause: err };
  }
  if (ack.epochNow() !== ack.epochAtWrite) {
    return {
      reason:
        'the connection was re-established between the write and WAIT, so WAIT confirms nothing',
      extra: {},
    };
  }
  // WAIT answers with the count even on timeout (integer replies arrive as strings here).
  const acked = typeof reply === 'number' || typeof reply === 'string' ? Number(reply) : NaN;
  if (!Number.isInteger(acked)) {
    return { reason: `WAIT answered ${JSON.stringify(reply)}, not a count`, extra: {} };
  }
  if (acked < ack.minReplicas) {
    return {
      reason: `${acked} of ${ack.minReplicas} required replicas acknowledged within ${ack.waitTimeoutMs} ms`,
      extra: { acked },
    };
  }
  return undefined;
}

/**
 * Resolves when the grant is confirmed on `minReplicas` replicas.
 * @throws IdAllocError UNAVAILABLE with `details.discarded = true` otherwise; none of the
 *   segment's IDs may be served.
 */
export async function confirmReplicated(ack: ReplicationAck): Promise<void> {
  const why = await unconfirmed({ ...ack, epochAtWrite: ack.epochAtGrant });
  if (why) throw discarded(ack, why.reason, why.extra, why.cause);
}

/**
 * Resolves when any other write (a worker lease, a horizon) is confirmed on
 * `minReplicas` replicas. @throws IdAllocError UNAVAILABLE naming `what` and why not
 */
export async function confirmWritten(ack: WriteAck & { readonly what: string }): Promise<void> {
  const why = await unconfirmed(ack);
  if (why) {
    throw new IdAllocError(
      ErrorCode.UNAVAILABLE,
      `${ack.what} is not confirmed on ${ack.minReplicas} replica(s): ${why.reason}`,
      { ...why.extra, minReplicas: ack.minReplicas },
      { retryAfterSeconds: 1, ...(why.cause === undefined ? {} : { cause: why.cause }) },
    );
  }
}

function discarded(
  ack: ReplicationAck,
  reason: string,
  extra: Record<string, unknown>,
  cause?: unknown,
): IdAllocError {
  const { tag, grant } = ack;
  return new IdAllocError(
    ErrorCode.UNAVAILABLE,
    `segment ${grant.start}..${grant.end} of tag '${tag}' discarded: ${reason}`,
    {
      tag,
      discarded: true,
      reason,
      start: grant.start.toString(),
      end: grant.end.toString(),
      ...(grant.incarnation === undefined ? {} : { incarnation: grant.incarnation }),
      minReplicas: ack.minReplicas,
      ...extra,
    },
    { retryAfterSeconds: 1, ...(cause === undefined ? {} : { cause }) },
  );
}
