/**
 * Tag names and settings: the rules shared by the admin script, the HTTP routes and
 * the stores (docs/design.md §2, §3).
 */
import { invalidArgument } from './errors.js';
import { checkRegions, checkShape, counterLimit, PLAIN, type TagShape } from './shape.js';
import type { CreateTagInput, TagChanges } from './store-ports.js';

export const TAG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * {@link TAG_NAME_PATTERN}'s test without the regular expression, for the lean ID path,
 * which tests every request's tag: in its profile at 128 connections `RegExp#test` was the
 * route's largest line of its own (docs/benchmarks.md, 2026-12-06). Tested against the
 * pattern in test/unit/tag-name.test.ts.
 */
export function isTagName(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > 64) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    const lower = c | 0x20; // A-Z onto a-z; nothing else lands in a-z
    if ((c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x7a)) continue; // 0-9 A-Z a-z
    if (i > 0 && (c === 0x5f || c === 0x2e || c === 0x2d)) continue; // _ . - (not first)
    return false;
  }
  return true;
}

/** The largest ID a tag can issue: 2^63 - 1, so IDs fit a signed 64-bit integer. */
export const MAX_ID = 2n ** 63n - 1n;

/** Steps, counts and gaps stay below 2^52 so the Lua scripts handle them exactly. */
export const MAX_SMALL = 2 ** 52;

/** @throws IdAllocError INVALID_ARGUMENT naming the value and the rule */
/**
 * A key prefix (`KEY_PREFIX`, the library's `keyPrefix`): no `{` or `}`, because a Cluster
 * hash tag in the prefix would pin every tag to one slot and override the per-worker hash
 * tags the snowflake scripts rely on.
 */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{0,64}$/;
export const KEY_PREFIX_RULE = 'up to 64 of A-Z a-z 0-9 _ . : -';

/** @throws IdAllocError INVALID_ARGUMENT for a prefix outside {@link KEY_PREFIX_PATTERN} */
export function checkKeyPrefix(prefix: string): string {
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    const shown = prefix.length > 80 ? `${prefix.slice(0, 80)}…` : prefix;
    throw invalidArgument(`key prefix '${shown}' is not allowed: use ${KEY_PREFIX_RULE}`);
  }
  return prefix;
}

export function checkTagName(name: string): string {
  if (!TAG_NAME_PATTERN.test(name)) {
    const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
    throw invalidArgument(
      `tag name '${shown}' is not allowed: use 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit`,
      { tag: shown },
    );
  }
  return name;
}

/**
 * Parses a non-negative decimal integer up to {@link MAX_ID} (no sign, no exponent,
 * no spaces). @throws IdAllocError INVALID_ARGUMENT naming `what`
 */
export function parseId(what: string, text: string, min = 0n): bigint {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > MAX_ID || BigInt(text) < min) {
    throw invalidArgument(
      `${what} '${text}' is not allowed: expected an integer from ${min} to ${MAX_ID}`,
    );
  }
  return BigInt(text);
}

/** Parses an integer in [min, max]. @throws IdAllocError INVALID_ARGUMENT naming `what` */
export function parseSmallInt(what: string, text: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalidArgument(
      `${what} '${text}' is not allowed: expected an integer from ${min} to ${max}`,
    );
  }
  return Number(text);
}

/** The longest description a tag keeps. */
export const MAX_DESCRIPTION = 1024;

/** @throws IdAllocError INVALID_ARGUMENT when the text is longer than {@link MAX_DESCRIPTION} */
export function checkDescription(text: string): string {
  if (text.length > MAX_DESCRIPTION) {
    throw invalidArgument(
      `description of ${text.length} characters is too long: at most ${MAX_DESCRIPTION}`,
    );
  }
  return text;
}

function checkStep(step: number): void {
  if (!Number.isSafeInteger(step) || step < 1 || step > MAX_SMALL) {
    throw invalidArgument(
      `step ${step} is not allowed: expected an integer from 1 to ${MAX_SMALL}`,
    );
  }
}

function checkGap(gap: bigint): void {
  if (gap < 0n || gap > BigInt(MAX_SMALL)) {
    throw invalidArgument(`gap ${gap} is not allowed: expected an integer from 0 to ${MAX_SMALL}`);
  }
}

/**
 * The settings of a new tag (docs/design.md §3): a valid name, step 1..2^52, start ≥ 0, start < max
 * ≤ {@link MAX_ID}, gap 0..2^52, a description of at most {@link MAX_DESCRIPTION}.
 * Stores check them before writing, so no caller can leave a tag the scripts cannot use.
 * @throws IdAllocError INVALID_ARGUMENT naming the value and the rule
 */
export function checkCreateInput(input: CreateTagInput): CreateTagInput {
  checkTagName(input.name);
  if (input.mode !== 'segment' && input.mode !== 'snowflake') {
    throw invalidArgument(
      `mode '${String(input.mode)}' is not allowed: expected segment or snowflake`,
    );
  }
  checkStep(input.step);
  checkGap(input.gap);
  if (input.start < 0n || input.start > MAX_ID) {
    throw invalidArgument(
      `start ${input.start} is not allowed: expected an integer from 0 to ${MAX_ID}`,
    );
  }
  if (input.max > MAX_ID) {
    throw invalidArgument(`max ${input.max} is not allowed: the largest ID is ${MAX_ID}`);
  }
  if (input.max <= input.start) {
    throw invalidArgument(
      `max ${input.max} is not allowed: it must be above start ${input.start}, so the tag has room for at least two IDs`,
    );
  }
  checkDescription(input.description);
  checkShapeAndRegions(input.mode, input.shape, input.regions);
  if (input.mode === 'segment') {
    checkMaxLimit(input.max, input.shape ?? PLAIN, input.regions ?? 1);
  }
  return input;
}

/**
 * A tag's shape and region count: segment tags any shape of {@link checkShape} and 1..1024
 * regions; snowflake tags neither (plain only, and their regions are worker IDs split
 * between the regions, not a stored count).
 * @throws IdAllocError INVALID_ARGUMENT
 */
export function checkShapeAndRegions(
  mode: 'segment' | 'snowflake',
  shape: TagShape | undefined,
  regions: number | undefined,
): void {
  if (shape !== undefined) checkShape(shape, mode);
  if (regions === undefined) return;
  if (mode === 'snowflake' && regions !== 1) {
    throw invalidArgument(
      `regions ${String(regions)} is not allowed for a snowflake tag: its worker IDs are split between regions instead (REGION), so it has no region count`,
    );
  }
  checkRegions(regions);
}

/**
 * `max` within the shape's domain for `regions` regions ({@link counterLimit}): every
 * region's last ID must stay an ID of the shape.
 * @throws IdAllocError INVALID_ARGUMENT naming the max, the limit and why
 */
export function checkMaxLimit(max: bigint, shape: TagShape, regions: number): void {
  const limit = counterLimit(shape, regions);
  if (max > limit) {
    throw invalidArgument(
      `max ${max} is not allowed for the ${shape.kind} shape${shape.kind === 'permute' ? ` of width ${String(shape.width)}` : ''} over ${regions} region(s): the largest is ${limit}, so that every region's IDs stay below 2^${shape.kind === 'permute' ? String(shape.width) : '63'}`,
    );
  }
}

/** Checks the changes of `tag update` (same rules as {@link checkCreateInput}). */
export function checkTagChanges(changes: TagChanges): TagChanges {
  if (changes.step !== undefined) checkStep(changes.step);
  if (changes.gap !== undefined) checkGap(changes.gap);
  if (changes.max !== undefined && (changes.max < 0n || changes.max > MAX_ID)) {
    throw invalidArgument(
      `max ${changes.max} is not allowed: expected an integer from 0 to ${MAX_ID}`,
    );
  }
  if (changes.description !== undefined) checkDescription(changes.description);
  // The mode is not known here: the stores check snowflake tags against their mode.
  if (changes.shape !== undefined) checkShape(changes.shape);
  if (changes.regions !== undefined) checkRegions(changes.regions);
  return changes;
}

/**
 * Checks a bump: `to` any ID up to {@link MAX_ID}, `by` 1..2^52 (what the bump script
 * adds exactly). @throws IdAllocError INVALID_ARGUMENT
 */
export function checkBump(how: 'to' | 'by', value: bigint): bigint {
  const [min, max] = how === 'to' ? [0n, MAX_ID] : [1n, BigInt(MAX_SMALL)];
  if (value < min || value > max) {
    throw invalidArgument(
      `bump ${how} ${value} is not allowed: expected an integer from ${min} to ${max}`,
    );
  }
  return value;
}
