/**
 * ID shapes and regions (docs/design.md §13): how a segment tag's counter value becomes
 * the ID a caller sees. The store hands out counter values `c`; a node of region `i` of
 * `N` turns `c` into the region value `v = c·N + i`, and the tag's shape turns `v` into
 * the ID. Every step is a bijection on its domain, so distinct counter values of one
 * region, and counter values of distinct regions, give distinct IDs:
 *
 * - `plain`: `v` itself (today's IDs when N = 1);
 * - `bitreverse`: the 63 low bits of `v` in reverse order (Spanner's bit-reversed
 *   sequences): consecutive values land far apart in an index;
 * - `permute`: a keyed permutation of `[0, 2^width)`: a 4-round Feistel network over
 *   `2·⌈width/2⌉` bits whose round function is Speck64/128 under the tag's 128-bit key,
 *   cycle-walked back into the domain. Without the key the IDs can't be enumerated or
 *   counted;
 * - `prefix` (over any of the three): the ID written `prefix_` and 13 characters of
 *   Crockford's base32 alphabet in lower case, fixed width, so string order is number
 *   order (sortable where the shape is plain).
 *
 * The grant log and the audit keep working on counter values; the audit compares
 * regions through {@link shapeFingerprint} (two regions are disjoint only under the same
 * bijection).
 */
import { createHash, randomBytes } from 'node:crypto';
import { invalidArgument } from './errors.js';

export type ShapeKind = 'plain' | 'bitreverse' | 'permute';
export const SHAPE_KINDS: readonly ShapeKind[] = Object.freeze(['plain', 'bitreverse', 'permute']);

/** A tag's shape, fixed once the tag issued an ID. */
export interface TagShape {
  readonly kind: ShapeKind;
  /** The string form's prefix (`ord` → `ord_…`); absent for numeric IDs. */
  readonly prefix?: string;
  /** `permute` only: the domain is `[0, 2^width)`. */
  readonly width?: number;
  /** `permute` only: the 128-bit key, 32 lower-case hex digits. Never sent to callers without a key token. */
  readonly key?: string;
}

export const PLAIN: TagShape = Object.freeze({ kind: 'plain' });

/** Bits of every numeric ID: IDs stay below 2^63 (a signed 64-bit integer). */
export const ID_BITS = 63;
export const MIN_WIDTH = 16;
export const DEFAULT_WIDTH = 63;
export const MAX_REGIONS = 1024;
export const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
export const PREFIX_RULE = '1 to 16 of a-z 0-9, starting with a letter';
const KEY_PATTERN = /^[0-9a-f]{32}$/;

/** Crockford's base32, lower case: its ASCII order is its digit order. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const DIGITS = 13; // 13 × 5 = 65 bits ≥ 63
/** Each character code's digit, -1 for characters outside the alphabet. */
const DIGIT_OF = Int8Array.from({ length: 128 }, (_, code) =>
  ALPHABET.indexOf(String.fromCharCode(code)),
);

/** A new permute key: 128 random bits as 32 hex digits. */
export function newPermuteKey(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Checks a shape for a tag of `mode`: a known kind, a prefix of {@link PREFIX_RULE},
 * width and key only for permute (width {@link MIN_WIDTH}..63, a 32-hex-digit key).
 * Snowflake tags are shaped by the clock: plain, no prefix.
 * @throws IdAllocError INVALID_ARGUMENT naming the value and what is allowed
 */
export function checkShape(shape: TagShape, mode: 'segment' | 'snowflake' = 'segment'): TagShape {
  const { kind, prefix, width, key } = shape;
  if (!SHAPE_KINDS.includes(kind)) {
    throw invalidArgument(
      `shape '${String(kind).slice(0, 40)}' is not allowed: expected ${SHAPE_KINDS.join(', ')}`,
    );
  }
  if (mode === 'snowflake' && (kind !== 'plain' || prefix !== undefined)) {
    throw invalidArgument(
      `shape '${kind}${prefix === undefined ? '' : ` with prefix ${prefix}`}' is not allowed for a snowflake tag: its IDs are shaped by the clock (plain only)`,
    );
  }
  if (prefix !== undefined && !PREFIX_PATTERN.test(prefix)) {
    throw invalidArgument(
      `prefix '${prefix.slice(0, 40)}' is not allowed: use ${PREFIX_RULE} (the ID is written prefix_ and 13 base32 characters)`,
    );
  }
  if (kind !== 'permute') {
    if (width !== undefined || key !== undefined) {
      throw invalidArgument(`a width or key is only for the permute shape, not ${kind}`);
    }
    return shape;
  }
  if (width === undefined || !Number.isInteger(width) || width < MIN_WIDTH || width > ID_BITS) {
    throw invalidArgument(
      `width ${String(width)} is not allowed: expected an integer from ${MIN_WIDTH} to ${ID_BITS} (IDs below 2^width)`,
    );
  }
  if (key === undefined || !KEY_PATTERN.test(key)) {
    throw invalidArgument(
      'the permute key is not allowed: expected 32 lower-case hex digits (128 bits)',
    );
  }
  return shape;
}

/** @throws IdAllocError INVALID_ARGUMENT unless 1..{@link MAX_REGIONS} */
export function checkRegions(regions: number): number {
  if (!Number.isInteger(regions) || regions < 1 || regions > MAX_REGIONS) {
    throw invalidArgument(
      `regions ${String(regions)} is not allowed: expected an integer from 1 to ${MAX_REGIONS}`,
    );
  }
  return regions;
}

/** A node's region: index `index` of `count` (`REGION=1/3`). */
export interface Region {
  readonly index: number;
  readonly count: number;
}

export const NO_REGION: Region = Object.freeze({ index: 0, count: 1 });

/** Parses `i/N` (0 ≤ i < N ≤ {@link MAX_REGIONS}). @throws IdAllocError INVALID_ARGUMENT */
export function parseRegion(text: string): Region {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > MAX_REGIONS || index >= count) {
    throw invalidArgument(
      `region '${text.slice(0, 40)}' is not allowed: expected i/N, the region index i from 0 to N-1 of N regions (N from 1 to ${MAX_REGIONS}), e.g. 1/3`,
    );
  }
  return Object.freeze({ index, count });
}

export const regionText = (r: Region): string => `${r.index}/${r.count}`;

/** The bits of the shape's domain: `width` for permute, 63 otherwise. */
export function domainBits(shape: TagShape): number {
  return shape.kind === 'permute' ? (shape.width ?? DEFAULT_WIDTH) : ID_BITS;
}

/**
 * The largest `max` a tag of this shape and region count may have: every region value
 * `max·N + N-1` must stay in the shape's domain, `[0, 2^bits)`.
 */
export function counterLimit(shape: TagShape, regions: number): bigint {
  return (1n << BigInt(domainBits(shape))) / BigInt(regions) - 1n;
}

/**
 * What tells two shapes' bijections apart, for the grant log and the audit: the kind,
 * and for permute the width and 8 hex digits of the key's SHA-256 (never the key). The
 * prefix is left out: it does not change the number under it.
 */
export function shapeFingerprint(shape: TagShape): string {
  if (shape.kind !== 'permute') return shape.kind;
  const digest = createHash('sha256')
    .update(shape.key ?? '')
    .digest('hex');
  return `permute/${domainBits(shape)}/${digest.slice(0, 8)}`;
}

/** The shape as callers may see it: the key left out. */
export function publicShape(shape: TagShape): TagShape {
  if (shape.key === undefined) return shape;
  const { key: _key, ...rest } = shape;
  return rest;
}

/** A shaped ID taken back apart. */
export interface DecodedId {
  /** The counter value the store granted. */
  readonly counter: bigint;
  /** The region index it was issued in. */
  readonly region: number;
}

// ── splitting a value into numbers ────────────────────────────────────────────────────

/** 2^53: counter values below it are exact JavaScript numbers. */
const EXACT = 2 ** 53;
const EXACT_BIG = BigInt(EXACT);

/** What {@link split} wrote last (no pair allocated per ID; read at once by the caller). */
const SPLIT = { hi: 0, lo: 0 };

/**
 * `v` (below 2^64) cut at bit `bits` (at most 35) into two exact numbers: `SPLIT.hi` =
 * v >> bits, `SPLIT.lo` = its low `bits` bits. Below 2^53 by number arithmetic alone
 * (counter values are small: the hot path), above it through bigints, never through a
 * number that could round.
 */
function split(v: bigint, bits: number): void {
  const scale = 2 ** bits;
  if (v < EXACT_BIG) {
    const n = Number(v);
    SPLIT.hi = Math.floor(n / scale);
    SPLIT.lo = n - SPLIT.hi * scale;
  } else {
    SPLIT.hi = Number(v >> BigInt(bits));
    SPLIT.lo = Number(BigInt.asUintN(bits, v));
  }
}

// ── bit reversal ──────────────────────────────────────────────────────────────────────

function reverse32(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >>> 16) | (x << 16)) >>> 0;
}

/** The 63 low bits of `v` in reverse order: its own inverse. */
export function reverse63(v: bigint): bigint {
  split(v, 32);
  const { lo, hi } = SPLIT; // hi < 2^31
  // As 64 bits: reversed low word on top, reversed high word below; bit 63 of v is 0,
  // so the reversal's bit 0 is 0 and one shift gives the 63-bit reversal.
  return ((BigInt(reverse32(lo)) << 32n) | BigInt(reverse32(hi))) >> 1n;
}

// ── the keyed permutation ─────────────────────────────────────────────────────────────

const SPECK_ROUNDS = 27;
const FEISTEL_ROUNDS = 4;

/** Speck64/128's 27 round keys of a 128-bit key (32 hex digits), as 32-bit words. */
export function speckSchedule(keyHex: string): Int32Array {
  const w = [0, 1, 2, 3].map((i) => parseInt(keyHex.slice(24 - 8 * i, 32 - 8 * i), 16) | 0);
  const k = new Int32Array(SPECK_ROUNDS);
  const l = [w[1]!, w[2]!, w[3]!];
  k[0] = w[0]!;
  for (let i = 0; i < SPECK_ROUNDS - 1; i++) {
    const li = l[i]!;
    const ki = k[i]!;
    const nl = (((li >>> 8) | (li << 24)) + ki) ^ i;
    l.push(nl);
    k[i + 1] = ((ki << 3) | (ki >>> 29)) ^ nl;
  }
  return k;
}

/**
 * Speck64/128 of the block (x, y) under the round keys `k`; returns x ^ y of the cipher
 * text, unsigned (a PRF of 32 bits). Int32 arithmetic throughout (`| 0` is the sum mod
 * 2^32): no value leaves the 32-bit range, so nothing is a floating-point number.
 */
export function speck64Prf(k: Int32Array, x: number, y: number): number {
  for (let i = 0; i < SPECK_ROUNDS; i++) {
    x = (((x >>> 8) | (x << 24)) + y) | 0;
    x ^= k[i]!;
    y = ((y << 3) | (y >>> 29)) ^ x;
  }
  return (x ^ y) >>> 0;
}

/**
 * A keyed permutation of `[0, 2^width)` and its inverse: a 4-round Feistel network over
 * two halves of `half = ⌈width/2⌉` bits, cycle-walked back into the domain. The halves
 * are numbers below 2^32; a value is split into them and joined again once per call.
 */
export class Permutation {
  private readonly keys: Int32Array;
  private readonly half: number;
  /** 2^half: value = left · scale + right. */
  private readonly scale: number;
  /** The low `half` bits, as an int32 mask. */
  private readonly mask: number;
  /** A value is inside the domain when its left half is below this: 2^(width - half). */
  private readonly top: number;
  private readonly halfBig: bigint;
  private readonly limit: bigint;
  /** The halves of the value being permuted (no pair allocated per call). */
  private left = 0;
  private right = 0;

  constructor(
    keyHex: string,
    readonly width: number,
  ) {
    this.keys = speckSchedule(keyHex);
    this.half = Math.ceil(width / 2);
    this.scale = 2 ** this.half;
    this.mask = (this.scale - 1) | 0;
    this.top = 2 ** (width - this.half);
    this.halfBig = BigInt(this.half);
    this.limit = 1n << BigInt(width);
  }

  /** One pass of the network over (left, right). */
  private once(inverse: boolean): void {
    const { keys, mask } = this;
    let left = this.left;
    let right = this.right;
    if (!inverse) {
      for (let r = 0; r < FEISTEL_ROUNDS; r++) {
        const next = (left ^ (speck64Prf(keys, right, r) & mask)) >>> 0;
        left = right;
        right = next;
      }
    } else {
      for (let r = FEISTEL_ROUNDS - 1; r >= 0; r--) {
        const prev = (right ^ (speck64Prf(keys, left, r) & mask)) >>> 0;
        right = left;
        left = prev;
      }
    }
    this.left = left;
    this.right = right;
  }

  /**
   * Cycle walking: the network permutes `[0, 2^(2·half))`; step again until inside the
   * domain. The result is left in (`left`, `right`): value = left · 2^half + right.
   */
  private run(v: bigint, inverse: boolean): void {
    if (v < 0n || v >= this.limit)
      throw new RangeError(`value ${v} is outside [0, 2^${this.width})`);
    split(v, this.half);
    this.left = SPLIT.hi;
    this.right = SPLIT.lo;
    this.once(inverse);
    while (this.left >= this.top) this.once(inverse);
  }

  private walk(v: bigint, inverse: boolean): bigint {
    this.run(v, inverse);
    const n = this.left * this.scale + this.right;
    return n < EXACT ? BigInt(n) : (BigInt(this.left) << this.halfBig) | BigInt(this.right);
  }

  forward(v: bigint): bigint {
    return this.walk(v, false);
  }

  /**
   * `toBase32(forward(v))`, from the halves without the bigint in between (the string
   * form's hot path). The base32 digits need the value cut at bit 35: below 2^53 the
   * value is an exact number; above, `half` ≤ 32 < 35, so the cut falls inside `left`.
   */
  forwardBase32(v: bigint): string {
    this.run(v, false);
    const { left, right, scale } = this;
    const n = left * scale + right;
    if (n < EXACT) {
      const hi = Math.floor(n / 2 ** 35);
      return base32Of(hi, n - hi * 2 ** 35);
    }
    const d = 2 ** (35 - this.half);
    const hi = Math.floor(left / d);
    return base32Of(hi, (left - hi * d) * scale + right);
  }

  inverse(v: bigint): bigint {
    return this.walk(v, true);
  }
}

// ── the string form ───────────────────────────────────────────────────────────────────

/** The alphabet's character codes, by digit. */
const CODE_OF = Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** `n` (below 2^63) as 13 base32 characters, most significant first. */
export function toBase32(n: bigint): string {
  // Two exact numbers, the top 28 bits and the low 35, instead of 13 bigint shifts (the
  // hot path); their digits by division (exact on powers of two) and `& 31`.
  split(n, 35);
  return base32Of(SPLIT.hi, SPLIT.lo);
}

/** The 13 base32 characters of hi · 2^35 + lo (hi below 2^28, lo below 2^35, exact). */
function base32Of(hi: number, lo: number): string {
  const c = CODE_OF;
  return String.fromCharCode(
    c[(hi / 2 ** 25) & 31]!,
    c[(hi / 2 ** 20) & 31]!,
    c[(hi / 2 ** 15) & 31]!,
    c[(hi / 2 ** 10) & 31]!,
    c[(hi / 2 ** 5) & 31]!,
    c[hi & 31]!,
    c[(lo / 2 ** 30) & 31]!,
    c[(lo / 2 ** 25) & 31]!,
    c[(lo / 2 ** 20) & 31]!,
    c[(lo / 2 ** 15) & 31]!,
    c[(lo / 2 ** 10) & 31]!,
    c[(lo / 2 ** 5) & 31]!,
    c[lo & 31]!,
  );
}

function fromBase32(text: string): bigint | undefined {
  if (text.length !== DIGITS) return undefined;
  // The top 6 digits (30 bits) and the low 7 (35 bits) as exact Numbers.
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < DIGITS; i++) {
    const d = DIGIT_OF[text.charCodeAt(i)];
    if (d === undefined || d < 0) return undefined;
    if (i < DIGITS - 7) hi = hi * 32 + d;
    else lo = lo * 32 + d;
  }
  return (BigInt(hi) << 35n) | BigInt(lo);
}

/** {@link Shaper.signature} without building a shaper (plain over 0/1 for an unshaped range). */
export function shaperSignature(shape: TagShape, regions: number, region: number): string {
  return `${shapeFingerprint(shape)}|${shape.prefix ?? ''}|${region}/${regions}`;
}

// ── the shaper ────────────────────────────────────────────────────────────────────────

/**
 * Counter values of one tag, in one region, into IDs and back. Built once per tag and
 * region (the permute key schedule is computed here), then used per ID.
 */
export class Shaper {
  private readonly regions: bigint;
  private readonly index: bigint;
  private readonly permutation: Permutation | undefined;
  private readonly limit: bigint;
  /** True when the IDs are counter values as they are (plain, one region, no prefix). */
  readonly identity: boolean;
  /**
   * What makes two shapers give the same IDs: the bijection's fingerprint, the prefix, the
   * region count and index. Counter values of one tag shaped under two signatures may
   * collide (another region's IDs), so a client never mixes them.
   */
  readonly signature: string;

  constructor(
    readonly shape: TagShape,
    regions: number,
    region: number,
  ) {
    if (region < 0 || region >= regions) throw new RangeError(`region ${region} of ${regions}`);
    this.regions = BigInt(regions);
    this.index = BigInt(region);
    this.permutation =
      shape.kind === 'permute'
        ? new Permutation(shape.key ?? '', shape.width ?? DEFAULT_WIDTH)
        : undefined;
    this.limit = 1n << BigInt(domainBits(shape));
    this.identity = shape.kind === 'plain' && regions === 1 && shape.prefix === undefined;
    this.signature = shaperSignature(shape, regions, region);
  }

  /** Counter value `c` in this region's share of the domain: c·N + i (c itself for one region). */
  private value(c: bigint): bigint {
    return this.regions === 1n ? c : c * this.regions + this.index;
  }

  /** The numeric ID of counter value `c` (the number under a prefix). */
  toNumber(c: bigint): bigint {
    const v = this.value(c);
    switch (this.shape.kind) {
      case 'plain':
        return v;
      case 'bitreverse':
        return reverse63(v);
      case 'permute':
        return this.permutation!.forward(v);
    }
  }

  /** The ID of counter value `c` as callers see it: decimal digits, or `prefix_` and base32. */
  format(c: bigint): string {
    if (this.identity) return c.toString();
    const { prefix } = this.shape;
    if (prefix === undefined) return this.toNumber(c).toString();
    if (this.permutation !== undefined) {
      return `${prefix}_${this.permutation.forwardBase32(this.value(c))}`;
    }
    return `${prefix}_${toBase32(this.toNumber(c))}`;
  }

  /**
   * An ID of this tag (as {@link format} writes it) back to its counter value and region.
   * @throws IdAllocError INVALID_ARGUMENT when the text is not an ID of this shape
   */
  decode(text: string): DecodedId {
    const n = this.parse(text);
    let v: bigint;
    switch (this.shape.kind) {
      case 'plain':
        v = n;
        break;
      case 'bitreverse':
        v = reverse63(n);
        break;
      case 'permute':
        v = this.permutation!.inverse(n);
        break;
    }
    return { counter: v / this.regions, region: Number(v % this.regions) };
  }

  private parse(text: string): bigint {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    const { prefix } = this.shape;
    let n: bigint | undefined;
    if (prefix === undefined) {
      n = /^\d{1,19}$/.test(text) ? BigInt(text) : undefined;
    } else if (text.startsWith(`${prefix}_`)) {
      n = fromBase32(text.slice(prefix.length + 1));
    }
    if (n === undefined || n >= this.limit) {
      const form =
        prefix === undefined
          ? `decimal digits below 2^${domainBits(this.shape)}`
          : `${prefix}_ and 13 of ${ALPHABET}`;
      throw invalidArgument(`ID '${shown}' is not an ID of this tag: expected ${form}`);
    }
    return n;
  }
}
