/**
 * `tag export` and `tag import` (README "Recovery procedures"): thin over the store's
 * exportTags / importTag, with the file written atomically and one line per tag.
 */
import { randomBytes } from 'node:crypto';
import type { TagShape } from '../core/shape.js';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { AdminOptions } from '../config/options.js';
import { isIdAllocError } from '../core/errors.js';
import { defaultGap, type OpenedStore } from '../store/open.js';
import { importTarget, recordName, recordNumberShape } from '../store/transfer.js';
import type { DeploymentIdentity } from '../core/deployment.js';
import type { ImportResult, Store, TagRecord } from '../core/store-ports.js';
import {
  nearMaxMessage,
  roomAfter,
  STORE_LOST_MS,
  StoreLost,
  untilStoreLost,
} from './import-checks.js';
import { ignoredEntriesMessage, json, warning } from './output.js';
import { InputError, readWhole, type InputBounds } from './bounded-input.js';
import { parseTagFile, tagFile, type StoreOrigin, type TagFile } from './tag-file.js';
import { workersToExport } from './worker-transfer.js';

/**
 * An export file is read whole and must be a regular file of at most 256 MiB (a million
 * tags take about 200 MiB): a FIFO may have no writer, a device no end (/dev/zero).
 */
const EXPORT_FILE_BOUNDS: InputBounds = { pipes: false, idleMs: 0, maxBytes: 256 * 1024 * 1024 };

/**
 * The text of an export file, within {@link EXPORT_FILE_BOUNDS}.
 * @throws InputError when the file is refused; the fs error when it cannot be read
 */
export function readExportFile(file: string): Promise<string> {
  return readWhole(file, EXPORT_FILE_BOUNDS);
}

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Where the export came from: the store kind and the key prefix, or the file. */
function originOf(store: OpenedStore, options: AdminOptions): StoreOrigin {
  if (store.kind === 'embedded') {
    return { kind: 'embedded', file: store.path ?? resolve(options.dataDir) };
  }
  return { kind: store.kind, keyPrefix: options.keyPrefix };
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same directory, fsynced,
 * then renamed over it, so a reader (or a restore) never sees half an export.
 */
export function writeAtomically(file: string, text: string): void {
  const target = resolve(file);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  try {
    // The rename itself survives a crash once the directory is on disk.
    const dir = openSync(dirname(target), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // some filesystems refuse to fsync a directory: the file is written either way
  }
}

/** The counter (or floor) a record holds, if any. */
function counterOf(record: TagRecord): bigint | undefined {
  if (record.state === 'tombstone') return record.next;
  return record.tag.mode === 'segment' ? record.tag.next : record.floor;
}

/**
 * What the store lost compared with the export already at `out`: tags (or tombstones)
 * that are gone, counters that went back. A backup taken after a FLUSHALL or an empty
 * restart would otherwise replace the one export a restore needs.
 */
function lostSince(previous: readonly TagRecord[], now: readonly TagRecord[]): string[] {
  const current = new Map(now.map((r) => [recordName(r), counterOf(r)]));
  const lost: string[] = [];
  for (const old of previous) {
    const before = counterOf(old);
    if (before === undefined) continue; // a snowflake tag without a floor may be deleted
    const name = recordName(old);
    if (!current.has(name)) lost.push(`'${name}' is gone`);
    else {
      const after = current.get(name);
      if (after === undefined || after < before) {
        lost.push(`next of '${name}' went back from ${before} to ${after ?? 'none'}`);
      }
    }
  }
  return lost;
}

/** Refuses to replace an export at `out` that holds more than the store now does. */
async function guardPrevious(out: string, records: readonly TagRecord[]): Promise<void> {
  let text: string;
  try {
    text = await readExportFile(out);
  } catch (err) {
    if (err instanceof InputError)
      throw new ExportRefused(
        `refusing to write the export: ${err.message}; to replace it anyway, pass --force`,
      );
    return; // no previous export: nothing to protect
  }
  let previous: TagFile;
  try {
    previous = parseTagFile(text, out);
  } catch (err) {
    throw new ExportRefused(
      `refusing to replace ${out}: it is not an export this script can read (${err instanceof Error ? err.message : String(err)}); move it away or pass --force`,
    );
  }
  const lost = lostSince(previous.records, records);
  if (lost.length > 0) {
    const shown = lost.length > 5 ? [...lost.slice(0, 5), `${lost.length - 5} more`] : lost;
    throw new ExportRefused(
      `refusing to replace ${out} (export of ${previous.exportedAt}): the store holds less than it — ${shown.join('; ')}. ` +
        `If the store lost data, restore it: idalloc-admin tag import ${out}. To replace the file anyway, pass --force`,
    );
  }
}

/** A refusal of `tag export` (exit 1), with a code for --json. */
export class ExportRefused extends Error {
  readonly code = 'REFUSED';
}

export async function runExport(
  store: OpenedStore,
  options: AdminOptions,
  opts: {
    out?: string;
    force: boolean;
    move?: boolean;
    json: boolean;
    /** Told the live tags written, once the file at `out` is in place (backup-status.ts). */
    written?: (tags: number) => void;
  },
  io: Io,
): Promise<number> {
  const { out, json: asJson } = opts;
  // --move: the mark first, so that every lease this store grants at all is in the export
  // (a claim after the mark is refused; docs/design.md §6 "Moving between stores").
  if (opts.move) await store.workerTransfer().markMoved(2 ** options.workerBits);
  const moved = opts.move
    ? ' (this store is marked moved: it grants no new snowflake worker ID)'
    : '';
  const exported = await store.exportTags();
  const workers = await workersToExport(store, options);
  const layout = await store.layouts?.readSnowflakeLayout();
  const deployment = await store.deploymentId();
  const doc = tagFile(exported, originOf(store, options), Date.now(), workers, {
    layout,
    deployment,
  });
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (out === undefined) {
    io.out(text);
    if (opts.move)
      io.err('idalloc-admin: this store is marked moved: it grants no new snowflake worker ID\n');
    return 0;
  }
  if (!opts.force) await guardPrevious(out, exported.records);
  try {
    writeAtomically(out, text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot write the export to ${out}: ${why}`);
  }
  const tags = exported.records.filter((r) => r.state === 'live').length;
  opts.written?.(tags);
  const tombstones = exported.records.length - tags;
  const held = workers.filter((w) => w.holder !== undefined).length;
  const summary = {
    file: out,
    tags,
    tombstones,
    exportedAt: doc.exportedAt,
    ...(opts.move ? { moved: true } : {}),
    ...(workers.length === 0 ? {} : { workers: workers.length, heldWorkers: held }),
  };
  const withWorkers =
    workers.length === 0
      ? ''
      : `, and ${workers.length} snowflake worker ID${workers.length === 1 ? '' : 's'} (${held} leased)`;
  io.out(
    asJson
      ? json({ exported: summary })
      : `exported ${tags} tag${tags === 1 ? '' : 's'} and ${tombstones} tombstone${tombstones === 1 ? '' : 's'}${withWorkers} to ${out}${moved}\n`,
  );
  return 0;
}

/** The gap a record is restored with: --gap, else its own, else the configured default. */
function gapFor(record: TagRecord, gap: bigint | undefined, options: AdminOptions): bigint {
  if (gap !== undefined) return gap;
  if (record.state === 'live') {
    if (record.tag.mode === 'segment') return record.tag.gap;
    return record.gap ?? defaultGap(options.maxStep);
  }
  return record.gap ?? defaultGap(options.maxStep);
}

/** A shape for a message, without the key. */
function describeShape(shape: TagShape, regions: number): string {
  const width = shape.width === undefined ? '' : ` of width ${shape.width}`;
  const prefix = shape.prefix === undefined ? '' : ` with prefix ${shape.prefix}`;
  return `${shape.kind} shape${width}${prefix} over ${regions} region(s)`;
}

function what(record: TagRecord): string {
  return record.state === 'tombstone' ? 'tombstone' : `${record.tag.mode} tag`;
}

/** Whether a conflict is one of modes (a snowflake tag against a segment tag). */
function modesDiffer(record: TagRecord, r: ImportResult): boolean {
  const wanted = record.state === 'tombstone' ? 'tombstone' : record.tag.mode;
  return r.found !== 'tombstone' && wanted !== 'tombstone' && r.found !== wanted;
}

/** One line of what import did (or would do) with a record. */
function line(record: TagRecord, r: ImportResult, target: bigint | undefined, dry: boolean) {
  const name = recordName(record);
  const held = r.found === 'tombstone' ? 'tombstone' : `${r.found} tag`;
  const where =
    r.found === 'tombstone' && record.state === 'live'
      ? ' (deleted here since the export: stays deleted)'
      : '';
  switch (r.outcome) {
    case 'created': {
      const at = r.after === undefined ? '' : ` at next ID ${r.after}`;
      return `${dry ? 'would create' : 'created'} ${what(record)} '${name}'${at}`;
    }
    case 'raised':
      return `${dry ? 'would raise' : 'raised'} ${held} '${name}'${where}: next ID ${r.before ?? 'none'} -> ${r.after}`;
    case 'unchanged':
      return target === undefined
        ? `${held} '${name}' already exists${where}: nothing to raise`
        : `${held} '${name}' already above${where}: next ID ${r.after ?? r.before} >= ${target}`;
    case 'conflict':
      // The same mode: the shapes or region counts differ (a shape never changes silently).
      if (record.state === 'live' && r.found === record.tag.mode && record.tag.mode === 'segment') {
        return `conflict: '${name}' has another shape or region count here than the ${describeShape(record.tag.shape, record.tag.regions)} in the export (a shape never changes: IDs could repeat); left alone`;
      }
      if (modesDiffer(record, r)) {
        return `conflict: '${name}' is a ${held} here but a ${what(record)} in the export; left alone`;
      }
      {
        // Across a delete: the counter or floor here was issued under other numbers than
        // the export's (one floor cannot guard IDs of two shapes).
        const { shape, regions } = recordNumberShape(record);
        return `conflict: the ${held} '${name}' here counts under another shape or region count than the ${describeShape(shape, regions)} of the ${what(record)} in the export (a tag of this name would repeat IDs under one of them); left alone`;
      }
  }
}

/**
 * `tag import FILE`: one atomic store call per record; a failure or a conflict does not
 * stop the others, and makes the exit code 1. A store that fails every try of a record
 * for {@link STORE_LOST_MS} stops the import (exit 1, naming the first record not done).
 */
export async function runImport(
  store: Store & DeploymentIdentity,
  options: AdminOptions,
  file: TagFile,
  opts: { gap?: bigint; dryRun: boolean; json: boolean },
  io: Io,
  /** Imports the export's worker IDs, after its tags (worker-transfer.ts). */
  importWorkers?: () => Promise<{ results: Record<string, unknown>[]; failed: number }>,
): Promise<number> {
  const results: Record<string, unknown>[] = [];
  const counts = { created: 0, raised: 0, unchanged: 0, conflict: 0, failed: 0, nearMax: 0 };
  const warn = (code: string, message: string, details: Record<string, unknown>) =>
    io.err(warning(opts.json, code, message, details));
  if (file.ignored.length > 0) {
    const count = file.ignored.length;
    const example = file.ignored[0]!;
    warn('IGNORED_ENTRIES', ignoredEntriesMessage(count, example), { count, example });
  }
  let stopped: { at: string; done: number; reason: string } | undefined;
  for (const [done, record] of file.records.entries()) {
    const name = recordName(record);
    const gap = gapFor(record, opts.gap, options);
    const target = importTarget(record, gap);
    const kind = record.state === 'tombstone' ? 'tombstone' : record.tag.mode;
    try {
      const r = await untilStoreLost(() => store.importTag(record, target, opts.dryRun));
      const room = await untilStoreLost(() => roomAfter(store, record, r, gap));
      counts[r.outcome]++;
      results.push({
        tag: name,
        kind,
        outcome: r.outcome,
        found: r.found,
        before: r.before?.toString() ?? null,
        after: r.after?.toString() ?? null,
        target: target?.toString() ?? null,
        gap: gap.toString(),
        ...(room
          ? { max: room.max.toString(), idsLeft: room.idsLeft.toString(), nearMax: room.near }
          : {}),
      });
      if (!opts.json) {
        const text = `${line(record, r, target, opts.dryRun)}\n`;
        if (r.outcome === 'conflict') io.err(`idalloc-admin: ${text}`);
        else io.out(text);
      }
      if (room?.near) {
        counts.nearMax++;
        warn('NEAR_MAX', nearMaxMessage(name, room, opts.dryRun), {
          tag: name,
          next: room.next.toString(),
          max: room.max.toString(),
          idsLeft: room.idsLeft.toString(),
        });
      }
    } catch (err) {
      if (err instanceof StoreLost) {
        stopped = { at: name, done, reason: err.message };
        break;
      }
      if (!isIdAllocError(err)) throw err;
      counts.failed++;
      results.push({ tag: name, kind, error: { code: err.code, message: err.message } });
      if (!opts.json) io.err(`idalloc-admin: import of '${name}' failed: ${err.message}\n`);
    }
  }
  const total = file.records.length;
  const stop = stopped && {
    ...stopped,
    message:
      `stopped: the store failed every try for ${STORE_LOST_MS / 1000} s (${stopped.reason}); ` +
      `${stopped.done} of ${total} tags and tombstones were imported (in name order), the first not done is '${stopped.at}'. ` +
      `Run the same import again once the store answers: what is done stays as it is`,
  };
  // The worker IDs only once every tag is in: a store lost mid-way gets none of them.
  const workers = stop ? undefined : await importWorkers?.();
  const adopted = stop ? undefined : await adoptDeployment(store, file, opts.dryRun);
  if (opts.json) {
    io.out(
      json({
        dryRun: opts.dryRun,
        exportedAt: file.exportedAt,
        results,
        ...(workers ? { workers: workers.results } : {}),
        ...(adopted ? { deployment: adopted } : {}),
        ...(stop ? { stopped: { at: stop.at, done: stop.done, notDone: total - stop.done } } : {}),
      }),
    );
    if (stop) io.err(json({ error: { code: 'UNAVAILABLE', message: stop.message } }));
  } else {
    const done = opts.dryRun ? 'dry run, nothing written: would create' : 'created';
    const near = counts.nearMax > 0 ? `, near max ${counts.nearMax}` : '';
    if (adopted?.replaced !== undefined) io.out(`${adoptedLine(adopted, opts.dryRun)}\n`);
    io.out(
      `${done} ${counts.created}, ${opts.dryRun ? 'would raise' : 'raised'} ${counts.raised}, already above ${counts.unchanged}, conflicts ${counts.conflict}, failed ${counts.failed}${near} (export of ${file.exportedAt})\n`,
    );
    if (stop) io.err(`idalloc-admin: ${stop.message}\n`);
  }
  return stop || counts.conflict + counts.failed + (workers?.failed ?? 0) > 0 ? 1 : 0;
}

/**
 * The export's deployment id, adopted by the store (docs/design.md §8.8): the nodes
 * started on it from now on name the same deployment as the exporting store's nodes,
 * so the audit compares their grants. Undefined when the file names none (older files).
 * `replaced`: the different id the store held before.
 */
async function adoptDeployment(
  store: DeploymentIdentity,
  file: TagFile,
  dryRun: boolean,
): Promise<{ id: string; replaced?: string } | undefined> {
  if (file.deployment === undefined) return undefined;
  const before = await untilStoreLost(() => store.adoptDeploymentId(file.deployment!, dryRun));
  const replaced = before !== undefined && before !== file.deployment ? before : undefined;
  return { id: file.deployment, ...(replaced === undefined ? {} : { replaced }) };
}

function adoptedLine(a: { id: string; replaced?: string }, dryRun: boolean): string {
  return (
    `${dryRun ? 'would replace' : 'replaced'} this store's deployment id ${a.replaced} with the export's ${a.id}: ` +
    `nodes started on it from now on name ${a.id} in their grant lines (restart nodes already running here)`
  );
}
