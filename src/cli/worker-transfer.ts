/**
 * Snowflake worker IDs in `tag export` / `tag import`, and `worker release-imported`
 * (README "Moving from the embedded store to Redis", docs/design.md §6 "Moving between
 * stores"): the export lists every worker ID with its horizon and, when leased, a
 * fingerprint of its holder; the import holds each leased one for the exporting store's
 * nodes (an imported hold) and raises the horizons of the others; the release ends the
 * holds once the nodes of the old store are stopped.
 */
import type { AdminOptions } from '../config/options.js';
import { isIdAllocError } from '../core/errors.js';
import type { WorkerImportResult, WorkerRecord, WorkerTransfer } from '../core/lease-port.js';
import type { LayoutRegistry } from '../core/layout-port.js';
import type { OpenedStore } from '../store/open.js';
import { json, warning } from './output.js';

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** `--worker-hold` unless given: long enough for any rolling restart to finish. */
export const DEFAULT_WORKER_HOLD_MS = 24 * 3600_000;
const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };
const MIN_HOLD_MS = 60_000;
const MAX_HOLD_MS = 30 * 86_400_000;

/**
 * `--worker-hold` as ms: a number and a unit (s, m, h, d), from 1 minute to 30 days.
 * @returns a message naming the value and what is allowed, when it is not
 */
export function parseWorkerHold(text: string): number | string {
  const m = /^(\d{1,7})([smhd])$/.exec(text);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!(ms >= MIN_HOLD_MS && ms <= MAX_HOLD_MS)) {
    return `--worker-hold '${text}' is not allowed: expected a duration from 1m to 30d, a number and one of s, m, h, d (e.g. 24h)`;
  }
  return ms;
}

/** The worker IDs `tag export` writes: each with its horizon, and its holder when leased. */
export async function workersToExport(
  store: OpenedStore,
  options: AdminOptions,
): Promise<WorkerRecord[]> {
  const states = await store.workerTransfer().exportWorkers(Date.now(), options.leaseMs);
  return states.map(({ imported: _imported, ...record }) => record);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One line of what the import did (or would do) with a worker ID. */
function workerLine(w: WorkerRecord, r: WorkerImportResult, holdMs: number, dry: boolean): string {
  const id = `snowflake worker ${w.id}`;
  switch (r.outcome) {
    case 'held':
      return `${dry ? 'would hold' : 'held'} ${id} for the exported store's node for ${holdMs / 1000} s (no claim here starts below ${iso(r.horizon)}); once that store's nodes are stopped: idalloc-admin worker release-imported`;
    case 'kept':
      return `${id} is still held here by the node that held it at the export: left to it`;
    case 'raised':
      return `${dry ? 'would raise' : 'raised'} the horizon of ${id} to ${iso(r.horizon)}`;
    case 'unchanged':
      return `${id} already fenced at or above the export's horizon`;
    case 'conflict':
      return `conflict: ${id} is held by a node of this store, but ${w.holder === undefined ? 'was used on the exported store up to ' + iso(w.horizon) : 'a node of the exported store held it at the export'}: both may mint the same IDs; stop this store's node holding it, then import again`;
  }
}

/**
 * Imports every worker ID of an export, after its tags. A failure or a conflict does not
 * stop the others and counts as failed (exit 1).
 */
export async function importWorkers(
  transfer: WorkerTransfer,
  workers: readonly WorkerRecord[],
  opts: { holdMs: number; marginMs: number; dryRun: boolean; json: boolean },
  io: Io,
): Promise<{ results: Record<string, unknown>[]; failed: number }> {
  const results: Record<string, unknown>[] = [];
  let failed = 0;
  for (const w of workers) {
    try {
      const r = await transfer.importWorker(w, { ...opts, now: Date.now() });
      results.push({ worker: w.id, outcome: r.outcome, horizon: iso(r.horizon) });
      if (r.outcome === 'conflict') failed++;
      if (!opts.json) {
        const text = `${workerLine(w, r, opts.holdMs, opts.dryRun)}\n`;
        if (r.outcome === 'conflict') io.err(`idalloc-admin: ${text}`);
        else io.out(text);
      }
    } catch (err) {
      if (!isIdAllocError(err)) throw err;
      failed++;
      results.push({ worker: w.id, error: { code: err.code, message: err.message } });
      if (!opts.json) {
        io.err(`idalloc-admin: import of snowflake worker ${w.id} failed: ${err.message}\n`);
      }
    }
  }
  return { results, failed };
}

/**
 * `worker release-imported`: ends every imported hold, settling each horizon a margin
 * (SNOWFLAKE_LEASE_MS) above now, so that a node whose clock runs ahead of this one's
 * by less than that still never shares a timestamp with the old store's last holder.
 * Only once every node of the old store is stopped: until then it still mints.
 */
export async function runReleaseImported(
  store: OpenedStore,
  options: AdminOptions,
  opts: { json: boolean },
  io: Io,
): Promise<number> {
  const transfer = store.workerTransfer();
  const now = Date.now();
  const states = await transfer.exportWorkers(now, options.leaseMs);
  const released: number[] = [];
  const damaged: number[] = [];
  for (const s of states.filter((w) => w.imported)) {
    const r = await transfer.releaseImported(s.id, now + options.leaseMs);
    // 'lost': the hold lapsed or was released meanwhile, which is what was asked.
    if (r === 'released') released.push(s.id);
    if (r === 'damaged') damaged.push(s.id);
  }
  for (const id of damaged) {
    io.err(
      `idalloc-admin: snowflake worker ${id} is damaged in the store (its horizon is not what idalloc writes): its hold was left\n`,
    );
  }
  if (opts.json) io.out(json({ released, damaged }));
  else if (released.length === 0) io.out('no imported worker holds\n');
  else {
    io.out(
      `released the imported hold${released.length === 1 ? '' : 's'} of snowflake worker${released.length === 1 ? '' : 's'} ${released.join(', ')}\n`,
    );
  }
  return damaged.length > 0 ? 1 : 0;
}

/**
 * The export's snowflake layout, restored before its tags (the snowflake tags let nodes
 * mint again): recorded when the store holds none (it lost the record with its keys);
 * left as it is when it holds the same; when it holds another, a warning naming both
 * (a node of that layout claimed first after the loss; nodes of the export's layout are
 * refused) and exit 1. A dry run writes nothing.
 * @returns true when the store records another layout
 */
export async function importLayout(
  layouts: LayoutRegistry | undefined,
  exported: string | undefined,
  opts: { dryRun: boolean; json: boolean },
  io: Io,
): Promise<boolean> {
  if (!layouts || exported === undefined) return false;
  const before = await layouts.readSnowflakeLayout();
  const recorded =
    before ?? (opts.dryRun ? exported : await layouts.recordSnowflakeLayout(exported));
  if (recorded !== exported) {
    const message = `this store records the snowflake layout ${recorded}, the export ${exported}: nodes with the export's layout are refused here, and nodes with the store's may re-mint IDs issued before the export; stop the nodes whose configuration is wrong, and keep the layout IDs were issued with`;
    io.err(warning(opts.json, 'LAYOUT_CONFLICT', message, { recorded, exported }));
    return true;
  }
  if (before === undefined && !opts.json) {
    io.out(`${opts.dryRun ? 'would record' : 'recorded'} the snowflake layout ${exported}\n`);
  }
  return false;
}
