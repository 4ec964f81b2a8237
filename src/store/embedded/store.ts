/**
 * The embedded store (docs/design.md §11): the {@link Store} on a SQLite file under DATA_DIR, for
 * a single host without Redis. Each operation is one write transaction with the same
 * steps, checks and refusals as its Lua script in src/lua (allocate-1, bump-1, create-1,
 * update-1, delete-1), so the two stores answer alike; the contract suite in
 * test/integration/store-contract.test.ts runs against both.
 *
 * The incarnation guard (docs/design.md §8.1) has the file's incarnation in place of Redis's
 * `run_id`: a committed write survives a restart or a crash, but the file can be restored,
 * copied, renamed over or lose its write-ahead log; incarnation.ts detects that at the
 * next write and sets a new incarnation, so each tag skips its gap as after a Redis
 * restart.
 *
 * Differences from Redis, by design:
 * - one host only: SQLite's locks hold between the processes of this host (the service,
 *   several of them, the admin script), not across hosts.
 *
 * `node:sqlite` is synchronous: a transaction blocks the event loop for its duration,
 * one fsync, or up to the busy timeout while another process holds the write lock.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { checkedDeploymentId, type DeploymentIdentity } from '../../core/deployment.js';
import { ErrorCode, IdAllocError } from '../../core/errors.js';
import type { WorkerLeaseHandle, WorkerTransfer } from '../../core/lease-port.js';
import { Refusal, refusal } from '../refusals.js';
import {
  checkBump,
  checkCreateInput,
  checkMaxLimit,
  checkTagChanges,
  MAX_SMALL,
} from '../../core/tags.js';
import type {
  BumpResult,
  CreateTagInput,
  Grant,
  HandBack,
  HandBackOutcome,
  ImportResult,
  KeyedGrant,
  KeyedRequest,
  Store,
  TagChanges,
  TagConfig,
  TagExport,
  TagRecord,
} from '../../core/store-ports.js';
import { openDatabase, readSettings, type DatabaseSettings } from './database.js';
import { IdempotencyRecords } from './idempotency.js';
import { FileGuard, GuardedDatabase, type StoreLog } from './file-guard.js';
import {
  IncarnationGuard,
  readDeploymentId,
  writeDeploymentId,
  type Incarnation,
} from './incarnation.js';
import { checkRegions, PLAIN } from '../../core/shape.js';
import { shapeSignature } from '../shape-fields.js';
import {
  applyIncarnation,
  checkShapeOfDeleted,
  floorColumns,
  rowFirst,
  rowShape,
  shapeColumns,
  decValid,
  smallValid,
  newRow,
  segmentFields,
  TagRows,
  toTagConfig,
  type SegmentRow,
  type TagRow,
} from './tag-rows.js';
import { EmbeddedTransfer } from './transfer.js';
import { EmbeddedWorkerLeaseStore } from './worker-lease.js';
import { EmbeddedWorkerTransfer } from './worker-transfer.js';

export interface EmbeddedStoreOptions {
  /** `DATA_DIR`: the directory of `idalloc.db`, created if missing. */
  readonly dataDir: string;
  /** Wall clock, ms since the Unix epoch: created_at, deleted_at, lease expiry. */
  readonly now?: () => number;
  /**
   * How long an operation waits for another process's write lock before it fails
   * UNAVAILABLE. Locks are held for one commit (one fsync), so waits are short.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * Where the store reports, in one line each, the file found deleted or replaced while
   * running (once) and SQLite failures that retrying will not heal (rate-limited).
   */
  readonly log?: StoreLog;
  /**
   * The node's region count (`REGION=i/N`: N, docs/design.md §13): allocations of a
   * segment tag stored with another count are refused WRONG_REGION.
   * @default 1
   */
  readonly regions?: number;
}

/** What the service logs first when it runs on the embedded store. */
export function embeddedWarning(path: string): string {
  return (
    `embedded store (SQLite) at ${path}: it serves this host only, shared safely by the ` +
    `processes of this host; nodes on other hosts must not use a copy of it or a network ` +
    `share of it. To run on several hosts, set REDIS_URL (or REDIS_SENTINELS with ` +
    `REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES) and move the tags there with ` +
    `'idalloc-admin tag export' here and 'tag import' there (README: Recovery procedures)`
  );
}

/** A caller's bug (what a Lua script answers with an error reply): nothing is written. */
function badArgument(what: string, message: string): IdAllocError {
  return new IdAllocError(ErrorCode.INTERNAL, `${what} refused a malformed argument: ${message}`);
}

/**
 * The floor a tombstone leaves for a tag created again under its name: its next, plus
 * its gap when it was written under another incarnation (as create-1.lua reads it).
 */
function tombstoneFloor(row: TagRow, inc: Incarnation): bigint | undefined {
  if (!decValid(row.next)) return undefined;
  const floor = BigInt(row.next);
  return row.incarnation !== inc.id && smallValid(row.gap, 0) ? floor + row.gap : floor;
}

/** Errors of segment operations carry what a WRONG_MODE refusal names. */
const SEGMENT_CONTEXT = { wanted: 'segment', mode: 'snowflake' } as const;

export class EmbeddedStore implements Store, DeploymentIdentity {
  readonly kind = 'embedded' as const;
  /** Absolute path of the database file. */
  readonly path: string;
  /** The one-host notice the service logs as its first line. */
  readonly warning: string;
  private readonly db: DatabaseSync;
  private readonly guarded: GuardedDatabase;
  private readonly rows: TagRows;
  private readonly probe: StatementSync;
  private readonly now: () => number;
  private readonly leases: EmbeddedWorkerLeaseStore;
  /** No snowflake layout is recorded in the file (one host: its nodes share one config). */
  readonly layouts = undefined;
  private transfer: EmbeddedTransfer | undefined;
  private readonly regions: number;
  private readonly keyed: IdempotencyRecords;

  /** @throws ConfigError naming DATA_DIR when the store cannot be created or written there */
  constructor(opts: EmbeddedStoreOptions) {
    const { db, path, identity } = openDatabase({
      dataDir: opts.dataDir,
      busyTimeoutMs: opts.busyTimeoutMs ?? 5000,
    });
    this.db = db;
    const log = opts.log;
    const guard = new FileGuard(db, path, identity, (message) =>
      log?.error({ file: path }, message),
    );
    this.guarded = new GuardedDatabase(
      db,
      guard,
      new IncarnationGuard(db, path, identity.stamp),
      log,
    );
    this.path = path;
    this.warning = embeddedWarning(path);
    this.now = opts.now ?? Date.now;
    this.regions = checkRegions(opts.regions ?? 1);
    this.leases = new EmbeddedWorkerLeaseStore(this.guarded, this.now);
    this.rows = new TagRows(db);
    this.keyed = new IdempotencyRecords(db);
    this.probe = db.prepare('SELECT count(*) AS n FROM tags LIMIT 1');
  }

  /**
   * Nothing to check: every commit is synchronous=FULL on a local file, so an
   * acknowledged write survives a restart (the service reports the store durable).
   */
  async checkDurability(): Promise<undefined> {
    return undefined;
  }

  /** A file has no connection to lose: nothing to report. */
  onConnectionError(_listener: (err: Error, connection: string) => void): void {}

  /** Nor a connection to get back. */
  onConnectionReady(_listener: (connection: string) => void): void {}

  /** The worker leases in this file; closing the handle leaves the store open. */
  openWorkerLeases(_onError: (err: Error) => void, _onReady?: () => void): WorkerLeaseHandle {
    return { leases: this.workerLeases(), close: async () => {} };
  }

  /** The deployment's id (core/deployment.ts): the `meta` row every open makes sure of. */
  async deploymentId(): Promise<string> {
    const id = this.read('the deployment id read', () => readDeploymentId(this.db));
    return checkedDeploymentId(id, `the meta table of ${this.path}`);
  }

  /** Sets the deployment's id (`tag import`) in a guarded write; returns the one before. */
  async adoptDeploymentId(id: string, dryRun: boolean): Promise<string | undefined> {
    const read = () => {
      const before = readDeploymentId(this.db);
      return typeof before === 'string' ? before : undefined;
    };
    if (dryRun) return this.read('the deployment id read', read);
    return this.write('the deployment id write', () => {
      const before = read();
      writeDeploymentId(this.db, id);
      return before;
    });
  }

  /** The settings the connection runs with: WAL, synchronous FULL (2), the busy timeout. */
  settings(): DatabaseSettings {
    return this.read('a read of the settings', () => readSettings(this.db, this.path));
  }

  /**
   * Snowflake worker leases and horizons in the same file (the `WorkerLeaseStore` of the
   * snowflake generator), on this store's connection and clock.
   */
  workerLeases(): EmbeddedWorkerLeaseStore {
    return this.leases;
  }

  /** Worker leases and horizons for `tag export` / `tag import` (worker-transfer.ts). */
  workerTransfer(): WorkerTransfer {
    return new EmbeddedWorkerTransfer(this.guarded, this.leases, this.now);
  }

  async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    const what = `allocation for '${tag}'`;
    if (count !== 0 && !(Number.isSafeInteger(count) && count >= 1 && count <= MAX_SMALL)) {
      throw badArgument(what, `count ${count} is not 0 or an integer from 1 to 2^52`);
    }
    return this.write(what, (inc) => this.grantIn(tag, count, exact, inc));
  }

  /**
   * allocate-keyed-2 in one write transaction: the record of the key read first; a live
   * one with the same params is replayed (nothing written), one with other params
   * refused; else a grant as {@link allocate}, recorded with the key in the same commit.
   */
  async allocateKeyed(tag: string, req: KeyedRequest): Promise<KeyedGrant> {
    const what = `keyed allocation for '${tag}'`;
    if (!(Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= MAX_SMALL)) {
      throw badArgument(what, `count ${req.count} is not an integer from 1 to 2^52`);
    }
    return this.write(what, (inc) => {
      const now = this.now();
      const found = this.keyed.get(tag, req.record, now);
      if (found !== undefined) {
        if (found.params !== req.params) {
          throw refusal(Refusal.IDEMPOTENCY_MISMATCH, tag, { params: req.params });
        }
        const row = this.rows.get(tag);
        const s = this.segment(tag, row, SEGMENT_CONTEXT);
        const shaped = this.shapedFor(tag, row);
        return {
          start: found.start,
          end: found.end,
          step: s.step,
          max: s.max,
          bumped: false,
          incarnation: found.incarnation,
          skipped: 0n,
          shape: shaped.shape,
          regions: shaped.regions,
          region: found.region,
          replay: true,
        };
      }
      const g = this.grantIn(tag, req.count, true, inc);
      this.keyed.add(
        tag,
        req.record,
        {
          params: req.params,
          start: g.start,
          end: g.end,
          region: req.region,
          incarnation: inc.id,
        },
        now + req.ttlMs,
        now,
      );
      return { ...g, region: req.region, replay: false };
    });
  }

  /** The tag's shape, refused when damaged or of another region count than the node's. */
  private shapedFor(tag: string, row: TagRow | undefined) {
    // Damaged shape columns are refused, never served as plain; segment() checked the row.
    const shaped = rowShape(row!);
    if (!shaped) throw refusal(Refusal.TAG_DAMAGED, tag, SEGMENT_CONTEXT);
    if (shaped.regions !== this.regions) {
      throw refusal(Refusal.WRONG_REGION, tag, {
        tagRegions: shaped.regions,
        nodeRegions: this.regions,
      });
    }
    return shaped;
  }

  /** allocate-1's steps, inside a write transaction. */
  private grantIn(tag: string, count: number, exact: boolean, inc: Incarnation): Grant {
    // Before anything moves (the incarnation guard included): a node of another region
    // count would issue IDs of another region's residues. Damaged shape columns are
    // refused, never served as plain.
    const row = this.rows.get(tag);
    this.segment(tag, row, SEGMENT_CONTEXT);
    const shaped = this.shapedFor(tag, row);
    const { s, skipped, bumped } = this.counter(tag, SEGMENT_CONTEXT, inc);
    let wanted = count === 0 ? BigInt(s.step) : BigInt(count);
    // What is left below max decides the size of the grant.
    const room = s.max + 1n - s.next;
    if (room <= 0n || (exact && room < wanted)) {
      throw refusal(Refusal.TAG_EXHAUSTED, tag, SEGMENT_CONTEXT);
    }
    if (room < wanted) wanted = room;
    this.rows.setNext(tag, s.next + wanted);
    return {
      start: s.next,
      end: s.next + wanted - 1n,
      step: s.step,
      max: s.max,
      bumped,
      incarnation: inc.id,
      skipped,
      shape: shaped.shape,
      regions: shaped.regions,
    };
  }

  /**
   * handback-1.lua (handback-keyed-2.lua with a record) in one write transaction: next
   * goes from `end + 1` down to `from` only when the row still stands right after the
   * caller's grant and both the file and the row are of the incarnation the grant came
   * from (a restored or replaced file is not); a keyed grant's record goes with it.
   */
  async handBack(tag: string, back: HandBack): Promise<HandBackOutcome> {
    const what = `hand-back for '${tag}'`;
    if (back.from < 0n || back.from > back.end || !decValid(back.end.toString())) {
      throw badArgument(what, `from ${back.from} and end ${back.end} are not IDs with from <= end`);
    }
    return this.write(what, (inc): HandBackOutcome => {
      const row = this.rows.get(tag);
      const s = this.segment(tag, row, SEGMENT_CONTEXT);
      if (inc.id !== back.incarnation || row?.incarnation !== back.incarnation) {
        return { returned: false, reason: 'incarnation', now: inc.id };
      }
      if (s.next !== back.end + 1n) return { returned: false, reason: 'moved', now: `${s.next}` };
      this.rows.setNext(tag, back.from);
      // A keyed grant's record goes with it (handback-keyed-2.lua): no replay of the returned IDs.
      if (back.record !== undefined) this.keyed.delete(tag, back.record);
      return { returned: true };
    });
  }

  async forgetKeyed(tag: string, record: string): Promise<void> {
    this.write(`forgetting a keyed grant of '${tag}'`, () => this.keyed.delete(tag, record));
  }

  async raiseFloor(tag: string, floor: bigint): Promise<void> {
    if (!decValid(floor.toString())) {
      throw badArgument(`bump of '${tag}'`, `floor ${floor} is not a decimal ID`);
    }
    await this.bump(tag, 'atleast', floor);
  }

  async bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult> {
    return this.bump(name, how, checkBump(how, value));
  }

  private async bump(tag: string, how: 'to' | 'by' | 'atleast', value: bigint) {
    return this.write(`bump of '${tag}'`, (inc): BumpResult => {
      // A counter of another incarnation first skips its gap: a bump starts from there.
      const { s } = this.counter(tag, { ...SEGMENT_CONTEXT, to: value }, inc);
      let target: bigint;
      if (how === 'by') target = s.next + value;
      else if (how === 'atleast') target = value > s.next ? value : s.next;
      else if (value < s.next) {
        throw refusal(Refusal.WOULD_LOWER, tag, {
          ...SEGMENT_CONTEXT,
          to: value,
          next: s.next,
        });
      } else target = value;
      // Past max + 1 there is nothing to protect: stop there.
      let clamped = false;
      if (target > s.max + 1n) {
        target = s.next > s.max + 1n ? s.next : s.max + 1n;
        clamped = true;
      }
      if (target !== s.next) this.rows.setNext(tag, target);
      return { previous: s.next, next: target, clamped };
    });
  }

  async createTag(input: CreateTagInput): Promise<{ tag: TagConfig; raisedByTombstone: boolean }> {
    checkCreateInput(input);
    const created = this.write(`create of '${input.name}'`, (inc) => {
      const old = this.rows.get(input.name);
      if (old && old.deleted_at === null) throw refusal(Refusal.TAG_EXISTS, input.name);
      // A tombstone remembers how far a deleted tag got: never hand those IDs out again
      // (one of another incarnation of the file first skips the gap it kept).
      const floor = old ? tombstoneFloor(old, inc) : undefined;
      let next: bigint | undefined = floor;
      let raised = false;
      // The floor's numeric shape goes with it (create-1.lua alike).
      const floorShape = old && floor !== undefined ? floorColumns(old) : {};
      if (input.mode === 'segment' && old && floor !== undefined) {
        checkShapeOfDeleted(input.name, old, input.shape ?? PLAIN, input.regions ?? 1);
      }
      if (input.mode === 'segment') {
        next = input.start;
        if (floor !== undefined && floor > input.start) {
          next = floor;
          raised = true;
        }
        if (next > input.max) {
          throw refusal(Refusal.MAX_BELOW_NEXT, input.name, {
            max: input.max,
            next: `${next}, left by a deleted tag of this name`,
          });
        }
      }
      // A snowflake tag keeps a tombstone's floor, so it outlives this tag too.
      const row = newRow(input.name, {
        mode: input.mode,
        next: next === undefined ? null : next.toString(),
        step: BigInt(input.step),
        max: input.max.toString(),
        gap: input.gap,
        description: input.description,
        created_at: BigInt(Math.floor(this.now())),
        // The current incarnation, so a new tag starts without a jump.
        incarnation: inc.id,
        ...(input.mode === 'segment'
          ? {
              ...shapeColumns(input.shape ?? PLAIN, input.regions ?? 1),
              first: next === undefined ? null : next.toString(),
            }
          : floorShape),
      });
      this.rows.put(row);
      return { row, raised };
    });
    const tag = toTagConfig(created.row);
    if (!tag) throw new IdAllocError(ErrorCode.INTERNAL, `create of '${input.name}' lost the tag`);
    return { tag, raisedByTombstone: created.raised };
  }

  async getTag(name: string): Promise<TagConfig | undefined> {
    const row = this.read(`read of '${name}'`, () => this.rows.get(name));
    return row && toTagConfig(row);
  }

  async listTags(): Promise<TagConfig[]> {
    const rows = this.read('tag listing', () => this.rows.live());
    return rows
      .map(toTagConfig)
      .filter((t): t is TagConfig => t !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async updateTag(name: string, changes: TagChanges): Promise<TagConfig> {
    checkTagChanges(changes);
    const fields = (['step', 'max', 'gap', 'description', 'shape', 'regions'] as const).filter(
      (f) => changes[f] !== undefined,
    );
    if (fields.length === 0) {
      const tag = await this.getTag(name);
      if (!tag) throw refusal(Refusal.TAG_NOT_FOUND, name);
      return tag;
    }
    const row = this.write(`update of '${name}'`, (inc) => {
      let old = this.rows.get(name);
      if (!old || old.deleted_at !== null) throw refusal(Refusal.TAG_NOT_FOUND, name);
      // As update-1.lua: a counter of another incarnation first skips its gap (with the
      // gap it had), so a new max is checked against where the counter really stands.
      const s = old.mode === 'segment' ? segmentFields(old) : undefined;
      if (s) {
        const { s: current } = applyIncarnation(this.rows, old, s, inc.id);
        old = { ...old, next: current.next.toString(), incarnation: inc.id };
      }
      const context = { ...SEGMENT_CONTEXT, max: changes.max };
      for (const field of fields) {
        // Only segment tags have a counter; their description is all a snowflake tag has.
        if (field !== 'description' && old.mode !== 'segment') {
          throw refusal(Refusal.WRONG_MODE, name, context);
        }
        // A max below what was handed out would not take those IDs back: refuse it.
        if (field === 'max' && changes.max !== undefined) {
          if (!decValid(old.next)) throw refusal(Refusal.TAG_DAMAGED, name, context);
          if (changes.max + 1n < BigInt(old.next)) {
            throw refusal(Refusal.MAX_BELOW_NEXT, name, { ...context, next: old.next });
          }
        }
      }
      let shapeChange = {};
      if (old.mode === 'segment') {
        const current = rowShape(old);
        if (!current) throw refusal(Refusal.TAG_DAMAGED, name, context);
        const shape = changes.shape ?? current.shape;
        const regions = changes.regions ?? current.regions;
        checkMaxLimit(changes.max ?? (decValid(old.max) ? BigInt(old.max) : 0n), shape, regions);
        if (shapeSignature(shape, regions) !== shapeSignature(current.shape, current.regions)) {
          // A shape that changes after the first ID could map new counter values onto
          // IDs already issued: only while next is still where the tag started.
          const first = rowFirst(old);
          if (first === undefined || old.next !== first.toString()) {
            throw refusal(Refusal.SHAPE_FIXED, name, {
              next: old.next,
              first: first ?? 'unknown (created before shapes, or imported)',
            });
          }
          shapeChange = shapeColumns(shape, regions);
        }
      }
      const updated: TagRow = {
        ...old,
        ...shapeChange,
        ...(changes.step !== undefined ? { step: BigInt(changes.step) } : {}),
        ...(changes.max !== undefined ? { max: changes.max.toString() } : {}),
        ...(changes.gap !== undefined ? { gap: changes.gap } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
      };
      this.rows.put(updated);
      return updated;
    });
    const tag = toTagConfig(row);
    if (!tag) throw refusal(Refusal.TAG_NOT_FOUND, name);
    return tag;
  }

  async deleteTag(name: string): Promise<void> {
    this.write(`delete of '${name}'`, () => {
      const old = this.rows.get(name);
      if (!old || old.deleted_at !== null) throw refusal(Refusal.TAG_NOT_FOUND, name);
      // The tombstone keeps next, so a tag created again under this name starts above;
      // and its gap and incarnation, so one of another incarnation still skips the gap.
      if (decValid(old.next)) {
        this.rows.put(
          newRow(name, {
            next: old.next,
            deleted_at: BigInt(Math.floor(this.now())),
            gap: smallValid(old.gap, 0) ? old.gap : null,
            incarnation: old.incarnation,
            // The numbers under its shape: a tag created again must keep them.
            ...floorColumns(old),
          }),
        );
      } else {
        this.rows.delete(name);
      }
    });
  }

  /** Every tag and tombstone in one read transaction (see transfer.ts). */
  async exportTags(): Promise<TagExport> {
    return this.read('tag export', () => this.transfers().exportTags());
  }

  /**
   * One record in one write transaction. A dry run only reads: no transaction, so the
   * witness and the file's generation stay as they are and no new incarnation is set —
   * it decides under the incarnation a write would find (none when the write would set
   * a new one: every row then skips its gap, as the real import would).
   */
  async importTag(
    record: TagRecord,
    target: bigint | undefined,
    dryRun: boolean,
  ): Promise<ImportResult> {
    const what = `import of '${record.state === 'tombstone' ? record.name : record.tag.name}'`;
    if (dryRun) {
      return this.read(what, () =>
        this.transfers().importTag(
          record,
          target,
          true,
          this.now(),
          this.guarded.incarnations.peek().id,
        ),
      );
    }
    return this.write(what, (inc) =>
      this.transfers().importTag(record, target, dryRun, this.now(), inc.id),
    );
  }

  private transfers(): EmbeddedTransfer {
    this.transfer ??= new EmbeddedTransfer(this.db, this.rows);
    return this.transfer;
  }

  /** True once the file at the path was found deleted or replaced: this store serves no more. */
  get fileLost(): boolean {
    return this.guarded.guard.lost;
  }

  /** Why this store serves no more (the file deleted or replaced), once that was found. */
  get fault(): string | undefined {
    return this.guarded.guard.lostReason;
  }

  async ping(): Promise<boolean> {
    try {
      this.guarded.read('a ping', () => this.probe.get());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }

  /**
   * The counter fields of a live segment tag, or the refusal the Lua scripts give:
   * TAG_NOT_FOUND (no row, or a tombstone), WRONG_MODE, INTERNAL (damaged).
   */
  private segment(
    tag: string,
    row: TagRow | undefined,
    context: Record<string, unknown>,
  ): SegmentRow {
    if (!row || row.deleted_at !== null) throw refusal(Refusal.TAG_NOT_FOUND, tag, context);
    if (row.mode !== 'segment') {
      const kind = row.mode === 'snowflake' ? Refusal.WRONG_MODE : Refusal.TAG_DAMAGED;
      throw refusal(kind, tag, context);
    }
    const s = segmentFields(row);
    if (!s) throw refusal(Refusal.TAG_DAMAGED, tag, context);
    return s;
  }

  /**
   * The counter of a live segment tag after the incarnation guard (allocate-1's order):
   * fail closed first (never a tag created here, never a damaged one trusted), then a
   * counter of another incarnation skips its gap.
   */
  private counter(tag: string, context: Record<string, unknown>, inc: Incarnation) {
    const row = this.rows.get(tag);
    return applyIncarnation(this.rows, row, this.segment(tag, row, context), inc.id);
  }

  private write<T>(what: string, fn: (incarnation: Incarnation) => T): T {
    return this.guarded.write(what, fn);
  }

  private read<T>(what: string, fn: () => T): T {
    return this.guarded.read(what, fn);
  }
}
