/**
 * The Redis store: every multi-step change is one Lua script (src/lua), every key comes
 * from the key builder, every script reply is checked for its shape before use.
 */
import { Cluster, type Redis } from 'ioredis';
import {
  checkedDeploymentId,
  newDeploymentId,
  type DeploymentIdentity,
} from '../../core/deployment.js';
import type { LayoutRegistry } from '../../core/layout-port.js';
import type { WorkerLeaseHandle, WorkerTransfer } from '../../core/lease-port.js';
import { checkBump, checkCreateInput, checkTagChanges, MAX_ID } from '../../core/tags.js';
import type {
  BumpResult,
  CreateTagInput,
  Grant,
  IgnoredKeys,
  ImportResult,
  Store,
  TagChanges,
  TagConfig,
  TagExport,
  TagPage,
  TagRecord,
} from '../../core/store-ports.js';
import { recordName } from '../transfer.js';
import {
  allocationConnection,
  connectionEpoch,
  isRedirection,
  refreshSlots,
  type RedisLike,
} from './client.js';
import { checkDurability, type DurabilityReport } from './durability.js';
import { createKeys, type Keys } from './keys.js';
import { confirmReplicated } from './replication.js';
import { badReply, codeOf, scriptError, storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';
import { recordLayout, RedisWorkerLeaseStore } from './worker-lease.js';
import { RedisWorkerTransfer } from './worker-transfer.js';
import { exportFromRedis, importResult, importToRedis } from './transfer.js';
import { isWrongType, scanKeys, scanTagNames, type ScannedTags } from './tag-scan.js';

export interface RedisStoreOptions {
  /** General connection: admin work, readiness. */
  readonly client: RedisLike;
  /** Allocation connection: no offline queue, no resend (see client.ts). */
  readonly allocClient: RedisLike;
  readonly keyPrefix: string;
  readonly kind?: Store['kind'];
  /** Wall clock for created_at / deleted_at (ms since the Unix epoch). */
  readonly now?: () => number;
  /**
   * `REDIS_MIN_REPLICAS`: replicas that must acknowledge a grant (`WAIT`) before it is
   * served (docs/design.md §8.3); 0 turns the check off.
   * @default 0
   */
  readonly minReplicas?: number;
  /**
   * `REDIS_WAIT_TIMEOUT_MS`: how long `WAIT` may block.
   * @default 100
   */
  readonly waitTimeoutMs?: number;
  /**
   * How long an allocation waits for the allocation connection to be (re)connected
   * before it fails; commands are never queued while it is down.
   * @default 1000
   */
  readonly readyTimeoutMs?: number;
  /**
   * Builds the dedicated connection of the snowflake worker leases (see
   * {@link RedisStore.openWorkerLeases}); without it, leases share the general one.
   */
  readonly leaseClient?: () => RedisLike;
}

function isStringArray(reply: ScriptReply, length: number): reply is string[] {
  return (
    Array.isArray(reply) && reply.length === length && reply.every((v) => typeof v === 'string')
  );
}

export class RedisStore implements Store, LayoutRegistry, DeploymentIdentity {
  readonly kind: Store['kind'];
  readonly keys: Keys;
  private readonly client: RedisLike;
  private readonly alloc: RedisLike;
  private readonly now: () => number;
  private readonly minReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly leaseClient: (() => RedisLike) | undefined;
  private readonly ignoredListeners: ((ignored: IgnoredKeys) => void)[] = [];
  /** A Redis store serves many hosts: no notice to log first. */
  readonly warning = undefined;
  /** The snowflake layout is recorded under the key prefix, next to the tags. */
  readonly layouts: LayoutRegistry = this;

  constructor(opts: RedisStoreOptions) {
    this.client = opts.client;
    this.alloc = opts.allocClient;
    this.minReplicas = opts.minReplicas ?? 0;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 100;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 1000;
    this.keys = createKeys(opts.keyPrefix);
    this.kind = opts.kind ?? (opts.client instanceof Cluster ? 'cluster' : 'redis');
    this.now = opts.now ?? Date.now;
    this.leaseClient = opts.leaseClient;
  }

  /**
   * Runs the allocation script on the allocation connection (for a Cluster, the
   * connection to the master of the tag's slot) and, with `minReplicas`, serves the grant
   * only once `WAIT` on that same connection confirms it (docs/design.md §8.3).
   */
  async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    const key = this.keys.tag(tag);
    let conn: Redis;
    let reply: ScriptReply;
    let epochAtGrant: number;
    try {
      conn = await allocationConnection(this.alloc, key, this.readyTimeoutMs);
      try {
        reply = await conn.idallocAllocate(key, String(count), exact ? '1' : '0');
      } catch (err) {
        // A redirected command did not run: once, follow the cluster's new slot map.
        if (!(this.alloc instanceof Cluster && isRedirection(err))) throw err;
        await refreshSlots(this.alloc);
        conn = await allocationConnection(this.alloc, key, this.readyTimeoutMs);
        reply = await conn.idallocAllocate(key, String(count), exact ? '1' : '0');
      }
      epochAtGrant = connectionEpoch(conn);
    } catch (err) {
      throw storeFailure(err, `allocation for '${tag}'`);
    }
    const code = codeOf(reply);
    if (code !== undefined) throw scriptError(code, tag, { wanted: 'segment', mode: 'snowflake' });
    if (!isStringArray(reply, 7)) throw badReply('allocate', reply);
    const [start, end, step, max, bumped, runId, skipped] = reply as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // Every field checked before use: a NaN step would stick to the tag for good.
    const id = /^\d{1,20}$/;
    if (
      !id.test(start) ||
      !id.test(end) ||
      !id.test(max) ||
      !/^[1-9]\d{0,15}$/.test(step) ||
      !/^[0-9a-f]{1,64}$/.test(runId) ||
      !/^\d{1,16}$/.test(skipped)
    ) {
      throw badReply('allocate', reply);
    }
    const grant: Grant = {
      start: BigInt(start),
      end: BigInt(end),
      step: Number(step),
      max: BigInt(max),
      bumped: bumped === '1',
      incarnation: runId,
      skipped: BigInt(skipped),
    };
    if (this.minReplicas > 0) {
      // Not pipelined with the script: a NOSCRIPT there makes ioredis re-run the script
      // outside the pipeline, after the WAIT meant for it.
      const node = conn;
      await confirmReplicated({
        tag,
        grant,
        minReplicas: this.minReplicas,
        waitTimeoutMs: this.waitTimeoutMs,
        wait: (n, ms) => node.wait(n, ms),
        epochAtGrant,
        epochNow: () => connectionEpoch(node),
      });
    }
    return grant;
  }

  async raiseFloor(tag: string, floor: bigint): Promise<void> {
    await this.bump(this.alloc, tag, 'atleast', floor);
  }

  async bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult> {
    return this.bump(this.client, name, how, checkBump(how, value));
  }

  private async bump(
    client: RedisLike,
    tag: string,
    how: 'to' | 'by' | 'atleast',
    value: bigint,
  ): Promise<BumpResult> {
    let reply: ScriptReply;
    try {
      reply = await client.idallocBump(this.keys.tag(tag), how, value.toString());
    } catch (err) {
      throw storeFailure(err, `bump of '${tag}'`);
    }
    const code = codeOf(reply);
    if (code !== undefined) {
      const current = code === -5 ? await this.getTag(tag) : undefined;
      throw scriptError(code, tag, {
        wanted: 'segment',
        mode: 'snowflake',
        to: value,
        next: current?.next,
      });
    }
    if (!isStringArray(reply, 3)) throw badReply('bump', reply);
    return { previous: BigInt(reply[0]!), next: BigInt(reply[1]!), clamped: reply[2] === '1' };
  }

  async createTag(input: CreateTagInput): Promise<{ tag: TagConfig; raisedByTombstone: boolean }> {
    checkCreateInput(input);
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocCreate(
        this.keys.tag(input.name),
        input.mode,
        String(input.step),
        input.start.toString(),
        input.max.toString(),
        input.gap.toString(),
        input.description,
        String(this.now()),
      );
    } catch (err) {
      throw storeFailure(err, `create of '${input.name}'`);
    }
    const code = codeOf(reply);
    if (code !== undefined) {
      // -7: the tombstone of a deleted tag of this name already reaches max.
      const floor = code === -7 ? await this.tombstoneNext(input.name) : undefined;
      throw scriptError(code, input.name, {
        max: input.max,
        next: `${floor ?? 'above max'}, left by a deleted tag of this name`,
      });
    }
    if (!isStringArray(reply, 2)) throw badReply('create', reply);
    const tag = await this.getTag(input.name);
    if (!tag) throw badReply('create (tag missing right after)', reply);
    return { tag, raisedByTombstone: reply[1] === '1' };
  }

  /** The next ID a deleted tag's tombstone keeps, if any (for messages). */
  private async tombstoneNext(name: string): Promise<string | undefined> {
    try {
      return (await this.client.hget(this.keys.tag(name), 'next')) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async getTag(name: string): Promise<TagConfig | undefined> {
    let fields: Record<string, string>;
    try {
      fields = await this.client.hgetall(this.keys.tag(name));
    } catch (err) {
      throw storeFailure(err, `read of '${name}'`);
    }
    return parseTag(name, fields);
  }

  /**
   * Every tag, in name order, or one page of them. Keys under the tag pattern that are
   * not this deployment's tags are left out and reported to {@link onIgnoredKeys}.
   */
  async listTags(page?: TagPage): Promise<TagConfig[]> {
    const tags: TagConfig[] = [];
    const after = page?.after;
    await this.scanTags(async (names) => {
      const notHashes = new Set<string>();
      // One read per tag: a page reads only its own (10 000 tags took 1 s a listing).
      for (const name of names) {
        if (after !== undefined && name <= after) continue;
        if (page && tags.length >= page.limit) break;
        const fields = await this.readTagHash(name);
        const tag = fields && parseTag(name, fields);
        if (fields === undefined) notHashes.add(name);
        else if (tag) tags.push(tag);
      }
      return notHashes;
    });
    return tags;
  }

  /** Worker leases and horizons for `tag export` / `tag import` (worker-transfer.ts). */
  workerTransfer(): WorkerTransfer {
    return new RedisWorkerTransfer(this.client, this.keys, async () => {
      const ids = new Set<number>();
      try {
        await scanKeys(this.client, this.keys.workerPattern, this.readyTimeoutMs * 5, (key) => {
          const id = this.keys.workerId(key);
          if (id !== undefined) ids.add(id);
        });
      } catch (err) {
        throw storeFailure(err, 'a listing of snowflake worker IDs');
      }
      return [...ids].sort((a, b) => a - b);
    });
  }

  /** Every tag and tombstone, each read with one HGETALL (see transfer.ts). */
  async exportTags(): Promise<TagExport> {
    let exported: TagExport = { records: [], consistency: 'per-tag' };
    await this.scanTags(async (names) => {
      const notHashes = new Set<string>();
      exported = await exportFromRedis(names, async (name) => {
        const fields = await this.readTagHash(name);
        if (fields === undefined) notHashes.add(name);
        return fields;
      });
      return notHashes;
    });
    return exported;
  }

  /**
   * Hears, once per listing or export, of the keys under the tag pattern it left out
   * (not at all when there were none): the admin script warns of them.
   */
  onIgnoredKeys(listener: (ignored: IgnoredKeys) => void): void {
    this.ignoredListeners.push(listener);
  }

  /** One tag hash; undefined when the key holds another type (not a tag of this store). */
  private async readTagHash(name: string): Promise<Record<string, string> | undefined> {
    try {
      return await this.client.hgetall(this.keys.tag(name));
    } catch (err) {
      if (isWrongType(err)) return undefined;
      throw storeFailure(err, `read of '${name}'`);
    }
  }

  /**
   * Scans the tag names, has `read` read them (it answers the names that were not
   * hashes), then reports every key left out: those whose rest is not a tag name (see
   * {@link Keys.tagName}) and those that were not hashes.
   */
  private async scanTags(
    read: (names: readonly string[]) => Promise<ReadonlySet<string>>,
  ): Promise<void> {
    let found: ScannedTags;
    try {
      found = await scanTagNames(this.client, this.keys, this.readyTimeoutMs * 5);
    } catch (err) {
      throw storeFailure(err, 'tag listing');
    }
    const { names, foreign } = found;
    const ignored = [...foreign];
    for (const name of await read(names)) ignored.push(this.keys.tag(name));
    if (ignored.length === 0) return;
    const report = { count: ignored.length, example: ignored.sort()[0]! };
    for (const listener of this.ignoredListeners) listener(report);
  }

  /** One import-1.lua call: created, raised, unchanged or conflict, atomically. */
  async importTag(
    record: TagRecord,
    target: bigint | undefined,
    dryRun: boolean,
  ): Promise<ImportResult> {
    const name = recordName(record);
    let reply: ScriptReply;
    try {
      reply = await importToRedis(this.client, this.keys, record, target, dryRun);
    } catch (err) {
      throw storeFailure(err, `import of '${name}'`);
    }
    return importResult(name, reply);
  }

  async updateTag(name: string, changes: TagChanges): Promise<TagConfig> {
    checkTagChanges(changes);
    const args: string[] = [];
    if (changes.step !== undefined) args.push('step', String(changes.step));
    if (changes.max !== undefined) args.push('max', changes.max.toString());
    if (changes.gap !== undefined) args.push('gap', changes.gap.toString());
    if (changes.description !== undefined) args.push('description', changes.description);
    if (args.length === 0) {
      const tag = await this.getTag(name);
      if (!tag) throw scriptError(-1, name);
      return tag;
    }
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocUpdate(this.keys.tag(name), ...args);
    } catch (err) {
      throw storeFailure(err, `update of '${name}'`);
    }
    const code = codeOf(reply);
    if (code !== 1) {
      if (code === undefined) throw badReply('update', reply);
      const current = code === -7 ? await this.getTag(name) : undefined;
      throw scriptError(code, name, {
        wanted: 'segment',
        mode: 'snowflake',
        max: changes.max,
        next: current?.next,
      });
    }
    const tag = await this.getTag(name);
    if (!tag) throw scriptError(-1, name);
    return tag;
  }

  async deleteTag(name: string): Promise<void> {
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocDelete(this.keys.tag(name), String(this.now()));
    } catch (err) {
      throw storeFailure(err, `delete of '${name}'`);
    }
    const code = codeOf(reply);
    if (code !== 1) throw code === undefined ? badReply('delete', reply) : scriptError(code, name);
  }

  /**
   * Hands every connection error of both clients to `listener` (ioredis prints errors
   * nobody listens to on stderr, and retries by itself either way).
   */
  onConnectionError(listener: (err: Error) => void): void {
    this.client.on('error', listener);
    this.alloc.on('error', listener);
  }

  /**
   * The durability check of docs/design.md §8.5 on every master behind this store; the service
   * sets `idalloc_store_durable` from it and, with `REQUIRE_DURABLE_STORE=true`, refuses
   * to start unless it says durable (`StoreNotDurableError`).
   */
  checkDurability(): Promise<DurabilityReport> {
    return checkDurability(this.client, {
      tagPattern: this.keys.tagPattern,
      isTagKey: (key) => this.keys.tagName(key) !== undefined,
      minReplicas: this.minReplicas,
    });
  }

  /**
   * Records the snowflake layout this store's IDs are minted with, if none is yet, and
   * returns the one recorded (a node whose layout differs must not mint: moving the
   * epoch or the widths re-mints IDs already issued).
   */
  recordSnowflakeLayout(fingerprint: string): Promise<string> {
    return recordLayout(this.client, this.keys, fingerprint);
  }

  async readSnowflakeLayout(): Promise<string | undefined> {
    try {
      return (await this.client.get(this.keys.snowflakeLayout)) ?? undefined;
    } catch (err) {
      throw storeFailure(err, 'a read of the snowflake layout');
    }
  }

  /** The deployment's id (core/deployment.ts): the key `{prefix}deployment:id`, set if missing. */
  async deploymentId(): Promise<string> {
    try {
      await this.client.set(this.keys.deployment, newDeploymentId(), 'NX');
      const id = await this.client.get(this.keys.deployment);
      return checkedDeploymentId(id, `the Redis key ${this.keys.deployment}`);
    } catch (err) {
      throw storeFailure(err, 'the deployment id read');
    }
  }

  /** Sets the deployment's id (`tag import`); returns the one stored before. */
  async adoptDeploymentId(id: string, dryRun: boolean): Promise<string | undefined> {
    try {
      const before = await this.client.get(this.keys.deployment);
      if (!dryRun) await this.client.set(this.keys.deployment, id);
      return before ?? undefined;
    } catch (err) {
      throw storeFailure(err, 'the deployment id write');
    }
  }

  /**
   * The snowflake worker leases of this store, over a connection of their own when the
   * store was given a way to build one (renewals must not queue behind admin work).
   * `onError` hears that connection's errors.
   */
  openWorkerLeases(onError: (err: Error) => void): WorkerLeaseHandle {
    const replication = { minReplicas: this.minReplicas, waitTimeoutMs: this.waitTimeoutMs };
    const own = this.leaseClient?.();
    if (!own) {
      return {
        leases: new RedisWorkerLeaseStore(this.client, this.keys, replication),
        close: async () => {},
      };
    }
    own.on('error', onError);
    return {
      leases: new RedisWorkerLeaseStore(own, this.keys, replication),
      close: () => quit(own),
    };
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([quit(this.alloc), quit(this.client)]);
  }
}

async function quit(c: RedisLike): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}

/** A tag hash as a {@link TagConfig}, or undefined for none or a tombstone. */
export function parseTag(name: string, f: Record<string, string>): TagConfig | undefined {
  if (!f.mode || f.deleted_at !== undefined) return undefined;
  const common = {
    name,
    description: f.description ?? '',
    createdAt: Number(f.created_at ?? 0),
  };
  if (f.mode === 'snowflake') return Object.freeze({ ...common, mode: 'snowflake' });
  const big = (s: string | undefined, fallback: bigint) =>
    s !== undefined && /^\d{1,20}$/.test(s) ? BigInt(s) : fallback;
  return Object.freeze({
    ...common,
    mode: 'segment',
    step: Number(f.step ?? 0),
    max: big(f.max, MAX_ID),
    gap: big(f.gap, 0n),
    ...(f.next !== undefined && /^\d{1,20}$/.test(f.next) ? { next: BigInt(f.next) } : {}),
  });
}
