/**
 * Reading grant lines out of whatever a deployment's logs look like: pino JSON lines with
 * `msg: "grant"` among other log lines, lines prefixed by `docker compose logs` or
 * `kubectl logs --prefix`, non-JSON lines, and `GRANT_LOG` files. Anything that is not a
 * grant line is skipped. A line that looks like a grant line (it carries the grant marker)
 * but cannot be read — cut short, two lines glued by a short write, garbage after the
 * JSON, a field missing or out of range — is unreadable: counted and named, never trusted
 * and never skipped as if it were not there (an overlap may hide in it).
 */
import { MAX_ID } from '../core/tags.js';
import { GRANT_MSG, type GrantLine } from '../core/grant-log.js';
import { MAX_REGIONS, NO_REGION, type Region } from '../core/shape.js';

/** A grant line's entry, checked and converted. */
export type ParsedGrant = (
  | {
      readonly kind:
        'segment' | 'batch' | 'range' | 'discarded' | 'fence' | 'remainder' | 'handback';
      readonly tag: string;
      readonly start: bigint;
      readonly end: bigint;
      readonly max: bigint | undefined;
      readonly skipped: bigint;
      readonly client: string | undefined;
      /** The line's `shape` fingerprint; 'plain' for a line without one. */
      readonly shape: string;
    }
  | {
      readonly kind: 'worker';
      readonly worker: number;
      readonly floor: number;
      readonly horizon: number;
    }
) & {
  readonly node: string;
  /** '' for a line without one (older versions): one unnamed deployment. */
  readonly deployment: string;
  readonly at: number;
  readonly incarnation: string;
  /** The node's region (`region: "i/N"`); 0/1 for a line without one. */
  readonly region: Region;
};

export type LineResult =
  | { readonly type: 'grant'; readonly grant: ParsedGrant }
  | { readonly type: 'unreadable'; readonly why: string }
  | { readonly type: 'other' };

const ID_KINDS = new Set([
  'segment',
  'batch',
  'range',
  'discarded',
  'fence',
  'remainder',
  'handback',
]);
/** IDs are signed 64-bit integers: 0..2^63−1 (MAX_ID), at most 19 digits. */
const DECIMAL = /^\d{1,19}$/;
/** The largest time (Unix ms) a JavaScript Date can hold. */
const MAX_TIME = 8.64e15;
/** A shape fingerprint as core/shape.ts writes it: `bitreverse`, `permute/40/1a2b3c4d`… */
const FINGERPRINT = /^[a-z][a-z0-9/]{0,39}$/;
const REGION = /^(\d{1,4})\/(\d{1,4})$/;
const OTHER: LineResult = Object.freeze({ type: 'other' });
const MARKER = `"${GRANT_MSG}"`;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function unreadable(why: string): LineResult {
  return { type: 'unreadable', why };
}

/** A decimal ID in 0..2^63−1, or undefined. */
function id(text: string | undefined): bigint | undefined {
  if (text === undefined || !DECIMAL.test(text)) return undefined;
  const v = BigInt(text);
  return v <= MAX_ID ? v : undefined;
}

function isTime(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIME;
}

/** `text` as one JSON value, or why it is not one. */
function parseJson(text: string): { value: unknown } | { why: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    // V8 says "Unexpected non-whitespace character after JSON" when a value is followed
    // by more: two lines glued together, or garbage after the line.
    return {
      why:
        err instanceof Error && /after JSON/.test(err.message)
          ? 'more after the JSON object (two lines glued together by a short write?)'
          : 'not a whole JSON object (cut short?)',
    };
  }
}

/**
 * One log line: a grant, an unreadable grant line, or something else. `unterminated`:
 * the input's last line, with no newline after it — where a full disk cuts a line, so
 * there a cut JSON object is unreadable even when the cut took the marker with it.
 */
export function parseLine(line: string, unterminated = false): LineResult {
  const brace = line.indexOf('{');
  // Cheap test first: most lines of a busy log are requests, not grants.
  if (!line.includes(MARKER)) {
    if (unterminated && brace >= 0 && 'why' in parseJson(line.slice(brace))) {
      return unreadable('the last line is cut short (no newline at its end)');
    }
    return OTHER;
  }
  if (brace < 0) return unreadable('no JSON object on the line');
  const parsed = parseJson(line.slice(brace));
  if ('why' in parsed) {
    return unreadable(
      unterminated && parsed.why.startsWith('not a whole')
        ? 'the last line is cut short (no newline at its end)'
        : parsed.why,
    );
  }
  const obj = parsed.value;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return OTHER;
  const o = obj as { msg?: unknown; grant?: unknown };
  if (o.msg !== GRANT_MSG) {
    // A line of another kind that merely mentions "grant" (a tag of that name) is not
    // one; a grant object under another message is a grant line damaged.
    return 'grant' in o ? unreadable(`a grant object without "msg":"${GRANT_MSG}"`) : OTHER;
  }
  if (typeof o.grant !== 'object' || o.grant === null) return unreadable('no grant object');
  return checkGrant(o.grant as Partial<Record<keyof GrantLine, unknown>>);
}

function checkGrant(g: Partial<Record<keyof GrantLine, unknown>>): LineResult {
  const node = str(g.node);
  if (node === undefined) return unreadable('grant without a node');
  const atText = str(g.at);
  const at = atText === undefined ? NaN : Date.parse(atText);
  if (!Number.isFinite(at)) return unreadable(`grant of node ${node} without a valid time`);
  if (g.deployment !== undefined && str(g.deployment) === undefined)
    return unreadable(`grant of node ${node}: deployment is not a name`);
  const region = regionOf(g.region);
  if (region === undefined)
    return unreadable(
      `grant of node ${node}: region ${JSON.stringify(g.region)} is not i/N (0 ≤ i < N ≤ ${MAX_REGIONS})`,
    );
  const common = {
    node,
    at,
    deployment: str(g.deployment) ?? '',
    incarnation: str(g.incarnation) ?? '',
    region,
  };
  if (g.kind === 'worker') {
    const { worker, floor, horizon } = g;
    if (!Number.isSafeInteger(worker) || (worker as number) < 0)
      return unreadable(`worker grant of node ${node} without a valid worker ID`);
    if (!isTime(floor) || !isTime(horizon) || floor > horizon)
      return unreadable(
        `worker grant of node ${node}: floor ${String(floor)} and horizon ${String(horizon)} are not times (Unix ms, 0..${MAX_TIME}, floor first)`,
      );
    return {
      type: 'grant',
      grant: { ...common, kind: 'worker', worker: worker as number, floor, horizon },
    };
  }
  if (typeof g.kind !== 'string' || !ID_KINDS.has(g.kind))
    return unreadable(`grant of node ${node} of unknown kind ${JSON.stringify(g.kind)}`);
  const tag = str(g.tag);
  const startText = str(g.start);
  const endText = str(g.end);
  if (tag === undefined || startText === undefined || endText === undefined)
    return unreadable(`${g.kind} grant of node ${node} without tag, start and end`);
  const start = id(startText);
  const end = id(endText);
  if (start === undefined || end === undefined || end < start)
    return unreadable(
      `${g.kind} grant of node ${node}: ${startText}..${endText} is not a range of IDs (0..${MAX_ID})`,
    );
  const maxText = str(g.max);
  const skippedText = str(g.skipped);
  const max = id(maxText);
  const skipped = id(skippedText);
  if (
    (maxText !== undefined && max === undefined) ||
    (skippedText !== undefined && skipped === undefined)
  )
    return unreadable(
      `${g.kind} grant of node ${node}: max or skipped is not a decimal in 0..${MAX_ID}`,
    );
  if (g.shape !== undefined && (typeof g.shape !== 'string' || !FINGERPRINT.test(g.shape)))
    return unreadable(
      `${g.kind} grant of node ${node}: shape ${JSON.stringify(g.shape).slice(0, 60)} is not a shape fingerprint`,
    );
  return {
    type: 'grant',
    grant: {
      ...common,
      kind: g.kind as 'segment',
      tag,
      start,
      end,
      max,
      skipped: skipped ?? 0n,
      client: str(g.client),
      shape: (g.shape as string | undefined) ?? 'plain',
    },
  };
}

/** A line's `region`: 0/1 when absent, undefined when it is not `i/N`. */
function regionOf(v: unknown): Region | undefined {
  if (v === undefined) return NO_REGION;
  const m = typeof v === 'string' ? REGION.exec(v) : null;
  if (m === null) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && count <= MAX_REGIONS && index < count ? { index, count } : undefined;
}
