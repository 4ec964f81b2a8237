/**
 * The replies of the tag scripts (allocate-1, bump-1, create-1, update-1, delete-1,
 * import-1), each checked for the shape its script's header promises before the store
 * reads a field of it. A parser answers either the typed value or the script's code (a
 * refusal, for the store to turn into {@link scriptError} with what it knows of the
 * request: the tag, the values a message names); any other shape is a bug or a damaged
 * store, thrown here as {@link badReply}.
 */
import type { BumpResult, Grant, ImportResult, KeyedGrant } from '../../core/store-ports.js';
import { readShape } from '../shape-fields.js';
import { badReply, codeOf } from './replies.js';
import type { ScriptReply } from './scripts.js';

/** A script's answer: its reply read, or the code it refused with. */
export type ScriptOutcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: number };

const ok = <T>(value: T): ScriptOutcome<T> => ({ ok: true, value });
const refused = (code: number): ScriptOutcome<never> => ({ ok: false, code });

const ID = /^\d{1,20}$/;

function isStringArray(reply: ScriptReply, length: number): reply is string[] {
  return (
    Array.isArray(reply) && reply.length === length && reply.every((v) => typeof v === 'string')
  );
}

/**
 * allocate-1: start, end, step, max, bumped, run_id, skipped, then the shape fields
 * (shape, prefix, width, key, regions); or a code.
 */
/** An allocate reply with its permute key (index 10) hidden, for an error's details. */
function withoutKey(reply: ScriptReply): ScriptReply {
  if (!Array.isArray(reply) || reply.length <= 10 || reply[10] === '') return reply;
  const copy = [...reply];
  copy[10] = '<key hidden>';
  return copy;
}

export function allocateReply(reply: ScriptReply): ScriptOutcome<Grant> {
  const code = codeOf(reply);
  if (code !== undefined) return refused(code);
  // The permute key (index 10) never reaches an error's details, and so never a log line.
  if (!isStringArray(reply, 12)) throw badReply('allocate', withoutKey(reply));
  const [start, end, step, max, bumped, runId, skipped, kind, prefix, width, key, regions] =
    reply as [string, string, string, string, string, string, string, ...string[]];
  // A damaged shape is never served as plain: that could repeat another shape's IDs.
  const shaped = readShape({ shape: kind, prefix, width, key, regions });
  if (!shaped) throw badReply("allocate (the tag's shape fields)", withoutKey(reply));
  // Every field checked before use: a NaN step would stick to the tag for good.
  if (
    !ID.test(start) ||
    !ID.test(end) ||
    !ID.test(max) ||
    !/^[1-9]\d{0,15}$/.test(step) ||
    !/^[0-9a-f]{1,64}$/.test(runId) ||
    !/^\d{1,16}$/.test(skipped)
  ) {
    throw badReply('allocate', reply);
  }
  return ok({
    start: BigInt(start),
    end: BigInt(end),
    step: Number(step),
    max: BigInt(max),
    bumped: bumped === '1',
    incarnation: runId,
    skipped: BigInt(skipped),
    shape: shaped.shape,
    regions: shaped.regions,
  });
}

/**
 * allocate-keyed-2: the 12 fields of allocate-1, then the region index the IDs are
 * formatted for and replay ('1' or '0'); or a code.
 */
export function allocateKeyedReply(reply: ScriptReply): ScriptOutcome<KeyedGrant> {
  const code = codeOf(reply);
  if (code !== undefined) return refused(code);
  if (!Array.isArray(reply) || reply.length !== 14) throw badReply('allocate-keyed', reply);
  const [region, replay] = reply.slice(12);
  if (
    typeof region !== 'string' ||
    !/^\d{1,4}$/.test(region) ||
    (replay !== '0' && replay !== '1')
  ) {
    throw badReply('allocate-keyed', reply);
  }
  const base = allocateReply(reply.slice(0, 12));
  if (!base.ok) throw badReply('allocate-keyed', reply);
  return ok({ ...base.value, region: Number(region), replay: replay === '1' });
}

/** bump-1: old next, new next, clamped; or a code. */
export function bumpReply(reply: ScriptReply): ScriptOutcome<BumpResult> {
  const code = codeOf(reply);
  if (code !== undefined) return refused(code);
  // The two IDs are checked too: BigInt of anything else would throw a bare SyntaxError.
  if (!isStringArray(reply, 3) || !ID.test(reply[0]!) || !ID.test(reply[1]!)) {
    throw badReply('bump', reply);
  }
  return ok({ previous: BigInt(reply[0]!), next: BigInt(reply[1]!), clamped: reply[2] === '1' });
}

/** create-1: next ID, raised; or a code. The value: whether a tombstone raised the start. */
export function createReply(reply: ScriptReply): ScriptOutcome<{ raisedByTombstone: boolean }> {
  const code = codeOf(reply);
  if (code !== undefined) return refused(code);
  if (!isStringArray(reply, 2)) throw badReply('create', reply);
  return ok({ raisedByTombstone: reply[1] === '1' });
}

/**
 * update-1 and delete-1: 1 when done, else the code (`what` names the script in a
 * bad-reply error). Any other number, even a positive one, is a code: an INTERNAL error.
 */
export function doneReply(what: 'update' | 'delete', reply: ScriptReply): ScriptOutcome<void> {
  const code = codeOf(reply);
  if (code === 1) return ok(undefined);
  if (code === undefined) throw badReply(what, reply);
  return refused(code);
}

const OUTCOMES = new Set(['created', 'raised', 'unchanged', 'conflict']);
const FOUND = new Set(['none', 'segment', 'snowflake', 'tombstone']);

/**
 * import-1 for the tag `name`: outcome, found, before, after ('' for none); or a code.
 * A bare string is taken as a code too (NaN when it is none: an INTERNAL error).
 */
export function importReply(name: string, reply: ScriptReply): ScriptOutcome<ImportResult> {
  if (typeof reply === 'number' || typeof reply === 'string') return refused(Number(reply));
  const [outcome, found, before, after] = reply.map(String);
  const decimal = (s: string | undefined) => s === '' || ID.test(s ?? 'x');
  if (
    reply.length !== 4 ||
    !OUTCOMES.has(outcome ?? '') ||
    !FOUND.has(found ?? '') ||
    !decimal(before) ||
    !decimal(after)
  ) {
    throw badReply(`import of '${name}'`, reply);
  }
  return ok({
    outcome: outcome as ImportResult['outcome'],
    found: found as ImportResult['found'],
    ...(before ? { before: BigInt(before) } : {}),
    ...(after ? { after: BigInt(after) } : {}),
  });
}
