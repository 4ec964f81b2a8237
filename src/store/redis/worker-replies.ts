/**
 * The replies of the snowflake worker scripts (worker-inspect, -claim, -renew, -release,
 * -export, -import), each checked for the shape its script's header promises. The codes
 * a lease step expects (taken, fenced, not the holder, damaged, moved) become outcomes of
 * that step; any other code is thrown as its {@link scriptError} (no request detail to
 * add: the subject is the worker ID) and any other shape as {@link badReply}.
 */
import type { WorkerImportResult, WorkerLook, WorkerState } from '../../core/lease-port.js';
import { badReply, codeOf, ScriptCode, scriptError } from './replies.js';
import type { ScriptReply } from './scripts.js';

/** A reply of `length` decimal strings, as numbers; undefined for any other shape. */
function numbers(reply: ScriptReply, length: number): number[] | undefined {
  if (!Array.isArray(reply) || reply.length !== length) return undefined;
  const out: number[] = [];
  for (const v of reply) {
    if (typeof v !== 'string' || !/^\d{1,16}$/.test(v)) return undefined;
    out.push(Number(v));
  }
  return out;
}

/** The run_id a lease script put last in a reply of `length` ('' for none), or undefined. */
function runIdOf(reply: ScriptReply, length: number): string | undefined {
  if (!Array.isArray(reply) || reply.length !== length) return undefined;
  const last = reply[length - 1];
  return typeof last === 'string' && /^[0-9a-f]{0,64}$/.test(last) ? last : undefined;
}

const subject = (workerId: number) => `worker ${workerId}`;

/** worker-inspect-2 for `id`: held (1) or free (0) with its floor; or damaged. */
export function inspectReply(id: number, reply: ScriptReply): WorkerLook {
  if (codeOf(reply) === ScriptCode.WORKER_DAMAGED) return { id, state: 'damaged' };
  const v = numbers(reply, 2);
  if (!v || v[0]! > 1) throw badReply(`worker-inspect for worker ${id}`, reply);
  return v[0] === 1 ? { id, state: 'held' } : { id, state: 'free', floor: v[1]! };
}

/** What worker-claim-2 answers ('' for a store without a run_id). */
export type ClaimReply =
  | { readonly kind: 'taken' | 'fenced' | 'damaged' | 'moved' }
  | {
      readonly kind: 'claimed';
      readonly floor: number;
      readonly horizon: number;
      readonly margin: boolean;
      readonly runId: string;
    };

const CLAIM_REFUSED: Readonly<Record<number, 'taken' | 'fenced' | 'damaged' | 'moved'>> = {
  [ScriptCode.WORKER_TAKEN]: 'taken',
  [ScriptCode.HORIZON_BEHIND]: 'fenced',
  [ScriptCode.WORKER_DAMAGED]: 'damaged',
  [ScriptCode.WORKER_MOVED]: 'moved',
};

/** worker-claim-2: floor, horizon, margin (0/1), run_id; or a refusal. */
export function claimReply(workerId: number, reply: ScriptReply): ClaimReply {
  const code = codeOf(reply);
  if (code !== undefined) {
    const kind = CLAIM_REFUSED[code];
    if (kind === undefined) throw scriptError(code, subject(workerId));
    return { kind };
  }
  const runId = runIdOf(reply, 4);
  const v = runId === undefined ? undefined : numbers((reply as string[]).slice(0, 3), 3);
  if (!v || v[2]! > 1) throw badReply(`worker-claim for worker ${workerId}`, reply);
  return { kind: 'claimed', floor: v[0]!, horizon: v[1]!, margin: v[2] === 1, runId: runId! };
}

/** What worker-renew-2 answers (`floor` 0: none). */
export type RenewReply =
  | { readonly kind: 'lost' | 'damaged' }
  | {
      readonly kind: 'renewed';
      readonly horizon: number;
      readonly floor: number;
      readonly runId: string;
    };

/** worker-renew-2: horizon, floor, run_id; or lost / damaged. */
export function renewReply(workerId: number, reply: ScriptReply): RenewReply {
  const code = codeOf(reply);
  if (code === ScriptCode.NOT_HOLDER) return { kind: 'lost' };
  if (code === ScriptCode.WORKER_DAMAGED) return { kind: 'damaged' };
  if (code !== undefined) throw scriptError(code, subject(workerId));
  const runId = runIdOf(reply, 3);
  const v = runId === undefined ? undefined : numbers((reply as string[]).slice(0, 2), 2);
  if (!v) throw badReply(`worker-renew for worker ${workerId}`, reply);
  return { kind: 'renewed', horizon: v[0]!, floor: v[1]!, runId: runId! };
}

/** worker-release-2: 1 when released; or lost / damaged. */
export function releaseReply(
  workerId: number,
  reply: ScriptReply,
): 'released' | 'lost' | 'damaged' {
  const code = codeOf(reply);
  if (code === 1) return 'released';
  if (code === ScriptCode.NOT_HOLDER) return 'lost';
  if (code === ScriptCode.WORKER_DAMAGED) return 'damaged';
  throw code === undefined
    ? badReply(`worker-release for worker ${workerId}`, reply)
    : scriptError(code, subject(workerId));
}

const MS = /^\d{1,15}$/;

/** worker-export-2 for `id`: horizon, holder, imported; undefined when gone (no keys). */
export function workerExportReply(id: number, reply: ScriptReply): WorkerState | undefined {
  if (codeOf(reply) === ScriptCode.WORKER_DAMAGED) {
    throw scriptError(ScriptCode.WORKER_DAMAGED, subject(id));
  }
  if (Array.isArray(reply) && reply.length === 0) return undefined;
  const [horizon, holder, imported] = Array.isArray(reply) ? reply.map(String) : [];
  if (
    !Array.isArray(reply) ||
    reply.length !== 3 ||
    !MS.test(horizon ?? '') ||
    !/^([0-9a-f]{16})?$/.test(holder ?? 'x') ||
    (imported !== '0' && imported !== '1')
  ) {
    throw badReply(`worker-export for worker ${id}`, reply);
  }
  return {
    id,
    horizon: Number(horizon),
    ...(holder ? { holder } : {}),
    imported: imported === '1',
  };
}

const IMPORT_OUTCOMES = new Set(['held', 'kept', 'raised', 'unchanged', 'conflict']);

/** worker-import-2 for `id`: outcome, horizon; a code is thrown as its refusal. */
export function workerImportReply(id: number, reply: ScriptReply): WorkerImportResult {
  const code = codeOf(reply);
  if (code !== undefined) throw scriptError(code, subject(id));
  const [outcome, horizon] = Array.isArray(reply) ? reply.map(String) : [];
  if (
    !Array.isArray(reply) ||
    reply.length !== 2 ||
    !IMPORT_OUTCOMES.has(outcome ?? '') ||
    !MS.test(horizon ?? '')
  ) {
    throw badReply(`worker-import for worker ${id}`, reply);
  }
  return { outcome: outcome as WorkerImportResult['outcome'], horizon: Number(horizon) };
}
