/**
 * Reading grant lines out of whatever a deployment's logs look like: pino JSON lines with
 * `msg: "grant"` among other log lines, lines prefixed by `docker compose logs` or
 * `kubectl logs --prefix`, non-JSON lines, and `GRANT_LOG` files. Anything that is not a
 * grant line is skipped; a grant line with a malformed entry is counted, never trusted.
 */
import { GRANT_MSG, type GrantLine } from '../core/grant-log.js';

/** A grant line's entry, checked and converted. */
export type ParsedGrant =
  | {
      readonly kind: 'segment' | 'batch' | 'range' | 'discarded' | 'fence' | 'remainder';
      readonly node: string;
      readonly at: number;
      readonly incarnation: string;
      readonly tag: string;
      readonly start: bigint;
      readonly end: bigint;
      readonly max: bigint | undefined;
      readonly skipped: bigint;
      readonly client: string | undefined;
    }
  | {
      readonly kind: 'worker';
      readonly node: string;
      readonly at: number;
      readonly incarnation: string;
      readonly worker: number;
      readonly floor: number;
      readonly horizon: number;
    };

export type LineResult =
  | { readonly type: 'grant'; readonly grant: ParsedGrant }
  | { readonly type: 'malformed'; readonly why: string }
  | { readonly type: 'other' };

const ID_KINDS = new Set(['segment', 'batch', 'range', 'discarded', 'fence', 'remainder']);
const DECIMAL = /^\d{1,20}$/;
const OTHER: LineResult = Object.freeze({ type: 'other' });

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function malformed(why: string): LineResult {
  return { type: 'malformed', why };
}

/** One log line: a grant, a malformed grant, or something else. */
export function parseLine(line: string): LineResult {
  // Cheap test first: most lines of a busy log are requests, not grants.
  if (!line.includes(`"${GRANT_MSG}"`)) return OTHER;
  const brace = line.indexOf('{');
  if (brace < 0) return OTHER;
  let obj: unknown;
  try {
    obj = JSON.parse(line.slice(brace));
  } catch {
    return OTHER;
  }
  if (typeof obj !== 'object' || obj === null) return OTHER;
  const o = obj as { msg?: unknown; grant?: unknown };
  if (o.msg !== GRANT_MSG) return OTHER;
  if (typeof o.grant !== 'object' || o.grant === null) return malformed('no grant object');
  return checkGrant(o.grant as Partial<Record<keyof GrantLine, unknown>>);
}

function checkGrant(g: Partial<Record<keyof GrantLine, unknown>>): LineResult {
  const node = str(g.node);
  if (node === undefined) return malformed('grant without a node');
  const atText = str(g.at);
  const at = atText === undefined ? NaN : Date.parse(atText);
  if (!Number.isFinite(at)) return malformed(`grant of node ${node} without a valid time`);
  const incarnation = str(g.incarnation) ?? '';
  if (g.kind === 'worker') {
    const { worker, floor, horizon } = g;
    if (!Number.isSafeInteger(worker) || (worker as number) < 0)
      return malformed(`worker grant of node ${node} without a valid worker ID`);
    if (!Number.isFinite(floor) || !Number.isFinite(horizon))
      return malformed(`worker grant of node ${node} without a valid floor and horizon`);
    return {
      type: 'grant',
      grant: {
        kind: 'worker',
        node,
        at,
        incarnation,
        worker: worker as number,
        floor: floor as number,
        horizon: horizon as number,
      },
    };
  }
  if (typeof g.kind !== 'string' || !ID_KINDS.has(g.kind))
    return malformed(`grant of node ${node} of unknown kind ${JSON.stringify(g.kind)}`);
  const tag = str(g.tag);
  const start = str(g.start);
  const end = str(g.end);
  if (tag === undefined || start === undefined || end === undefined)
    return malformed(`${g.kind} grant of node ${node} without tag, start and end`);
  if (!DECIMAL.test(start) || !DECIMAL.test(end) || BigInt(end) < BigInt(start))
    return malformed(`${g.kind} grant of node ${node}: ${start}..${end} is not a range`);
  const max = str(g.max);
  const skipped = str(g.skipped);
  if (
    (max !== undefined && !DECIMAL.test(max)) ||
    (skipped !== undefined && !DECIMAL.test(skipped))
  )
    return malformed(`${g.kind} grant of node ${node}: max or skipped is not a decimal`);
  return {
    type: 'grant',
    grant: {
      kind: g.kind as 'segment',
      node,
      at,
      incarnation,
      tag,
      start: BigInt(start),
      end: BigInt(end),
      max: max === undefined ? undefined : BigInt(max),
      skipped: skipped === undefined ? 0n : BigInt(skipped),
      client: str(g.client),
    },
  };
}
