/**
 * The snowflake bit layout (docs/design.md §6): milliseconds since an epoch | worker ID | sequence,
 * packed into one non-negative integer below 2^63 (or 2^53 with the `js-safe` preset).
 * Pure functions: encoding, decoding with validation, and when the timestamp runs out.
 */
import { invalidArgument } from '../../core/errors.js';
import type { DecodedSnowflake } from '../../core/ids.js';
import { DEFAULT_SNOWFLAKE_EPOCH } from '../../core/settings.js';

export { DEFAULT_SNOWFLAKE_EPOCH, LAYOUT_PRESETS } from '../../core/settings.js';

export interface SnowflakeLayoutOptions {
  /** Unix milliseconds of timestamp 0. @default 2024-01-01T00:00:00Z */
  readonly epochMs?: number;
  /** @default 41 (69.7 years) */
  readonly timestampBits?: number;
  /** @default 10 */
  readonly workerBits?: number;
  /** @default 12 */
  readonly sequenceBits?: number;
}

/** A validated layout; every derived limit precomputed. */
export interface SnowflakeLayout {
  readonly epochMs: number;
  readonly timestampBits: number;
  readonly workerBits: number;
  readonly sequenceBits: number;
  /** 2^workerBits: how many worker IDs exist. */
  readonly workerCount: number;
  readonly maxSequence: number;
  /** The last Unix millisecond the timestamp field can hold. */
  readonly lastTimestampMs: number;
  /** When the timestamp field runs out (the first millisecond it cannot hold), ISO-8601. */
  readonly runsOutAt: string;
  /** The largest ID of this layout: 2^(timestamp + worker + sequence bits) - 1. */
  readonly maxId: bigint;
}

function checkWidth(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `snowflake ${what} ${String(value)} is not allowed: expected an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * Builds a layout. @throws IdAllocError INVALID_ARGUMENT naming the width or epoch that
 * does not fit (each width in range, all three within 63 bits, the epoch a time ≥ 1970).
 */
export function createLayout(opts: SnowflakeLayoutOptions = {}): SnowflakeLayout {
  const epochMs = opts.epochMs ?? DEFAULT_SNOWFLAKE_EPOCH;
  // 52 bits of ms is 142 000 years: beyond that a Unix millisecond is no longer exact.
  const timestampBits = checkWidth('timestamp bits', opts.timestampBits ?? 41, 1, 52);
  const workerBits = checkWidth('worker bits', opts.workerBits ?? 10, 0, 22);
  const sequenceBits = checkWidth('sequence bits', opts.sequenceBits ?? 12, 0, 22);
  const total = timestampBits + workerBits + sequenceBits;
  if (total > 63) {
    throw invalidArgument(
      `snowflake layout ${timestampBits} + ${workerBits} + ${sequenceBits} = ${total} bits is not allowed: expected at most 63, so that IDs fit a signed 64-bit integer`,
    );
  }
  if (!Number.isSafeInteger(epochMs) || epochMs < 0 || epochMs + 2 ** timestampBits > 8.64e15) {
    throw invalidArgument(
      `snowflake epoch ${String(epochMs)} is not allowed: expected Unix milliseconds from 1970 on`,
    );
  }
  const lastTimestampMs = epochMs + 2 ** timestampBits - 1;
  return Object.freeze({
    epochMs,
    timestampBits,
    workerBits,
    sequenceBits,
    workerCount: 2 ** workerBits,
    maxSequence: 2 ** sequenceBits - 1,
    lastTimestampMs,
    runsOutAt: new Date(lastTimestampMs + 1).toISOString(),
    maxId: 2n ** BigInt(total) - 1n,
  });
}

/**
 * A layout as a short text, recorded once per store: epoch and widths decide which IDs a
 * worker mints, so every node of a store must use the same ones.
 */
export function layoutFingerprint(l: SnowflakeLayout): string {
  return `epoch=${new Date(l.epochMs).toISOString()} bits=${l.timestampBits}/${l.workerBits}/${l.sequenceBits}`;
}

/**
 * The ID of (timestamp, worker, sequence); the caller keeps each within its field.
 * @param timestampMs Unix milliseconds, from the epoch to {@link SnowflakeLayout.lastTimestampMs}
 */
export function encodeSnowflake(
  layout: SnowflakeLayout,
  timestampMs: number,
  workerId: number,
  sequence: number,
): bigint {
  const high = BigInt(timestampMs - layout.epochMs) << BigInt(layout.workerBits);
  return ((high | BigInt(workerId)) << BigInt(layout.sequenceBits)) | BigInt(sequence);
}

/**
 * How far ahead of this node's clock a decoded timestamp may lie before the note says
 * more than clock skew between nodes explains it. @default 60 s
 */
export const DEFAULT_DECODE_TOLERANCE_MS = 60_000;

/**
 * Takes an ID of this layout apart. A timestamp more than `toleranceMs` ahead of `nowMs`
 * is decoded all the same (a node whose clock ran fast may have issued it), with a
 * `note` saying by how much.
 * @throws IdAllocError INVALID_ARGUMENT naming the value and why, for what no node of
 *   this layout can issue: not decimal digits, 2^63 or more, beyond this layout's bits
 */
export function decodeSnowflake(
  layout: SnowflakeLayout,
  id: string,
  nowMs: number,
  toleranceMs = DEFAULT_DECODE_TOLERANCE_MS,
): DecodedSnowflake {
  const shown = id.length > 40 ? `${id.slice(0, 40)}…` : id;
  const bad = (why: string) =>
    invalidArgument(`snowflake ID '${shown}' is not valid: ${why}`, { id: shown });
  if (!/^\d{1,20}$/.test(id)) throw bad('expected decimal digits only (at most 19)');
  const value = BigInt(id);
  if (value >= 2n ** 63n) throw bad('it is 2^63 or more; snowflake IDs are below 2^63');
  if (value > layout.maxId) {
    throw bad(
      `it is above ${layout.maxId}, the largest ID of this layout (${layout.timestampBits} + ${layout.workerBits} + ${layout.sequenceBits} bits)`,
    );
  }
  const sequence = Number(value & BigInt(layout.maxSequence));
  const rest = value >> BigInt(layout.sequenceBits);
  const workerId = Number(rest & BigInt(layout.workerCount - 1));
  const timestamp = Number(rest >> BigInt(layout.workerBits)) + layout.epochMs;
  const ahead = timestamp - nowMs;
  // Within the skew expected between nodes, being ahead is nothing to remark on.
  const note =
    ahead > toleranceMs
      ? `timestamp is ${ahead} ms ahead of this node's clock: more than the ${toleranceMs} ms of skew expected between nodes, so the node that issued it had a clock running fast (or no node of this layout issued it)`
      : undefined;
  return Object.freeze({
    id: value.toString(),
    timestamp,
    time: new Date(timestamp).toISOString(),
    workerId,
    sequence,
    ...(note === undefined ? {} : { note }),
  });
}

/** How long before the run-out the start-up warns. */
export const RUN_OUT_WARNING_MS = 365 * 24 * 3600 * 1000;

/**
 * A warning when the timestamp field runs out within a year of `nowMs` (or already has),
 * else undefined.
 */
export function runOutWarning(layout: SnowflakeLayout, nowMs: number): string | undefined {
  const left = layout.lastTimestampMs + 1 - nowMs;
  if (left > RUN_OUT_WARNING_MS) return undefined;
  if (left <= 0) {
    return `the snowflake timestamp field (${layout.timestampBits} bits from ${new Date(layout.epochMs).toISOString()}) ran out at ${layout.runsOutAt}: no snowflake IDs can be issued`;
  }
  return `the snowflake timestamp field (${layout.timestampBits} bits from ${new Date(layout.epochMs).toISOString()}) runs out at ${layout.runsOutAt}, in ${Math.ceil(left / 86_400_000)} days; after that no snowflake IDs can be issued`;
}
