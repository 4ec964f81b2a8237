/**
 * The Redis store: every multi-step change is one Lua script (src/lua), every key comes
 * from the key builder, every script reply is checked for its shape before use
 * (reply-shapes.ts, worker-replies.ts). {@link RedisStore} is the one class users see;
 * its jobs live beside it: allocation in allocate.ts, one tag's administration in
 * tag-admin.ts, listings and exports in tag-listing.ts, worker leases in worker-lease.ts.
 */
import { Cluster } from 'ioredis';
import {
  checkedDeploymentId,
  newDeploymentId,
  type DeploymentIdentity,
} from '../../core/deployment.js';
import type { LayoutRegistry } from '../../core/layout-port.js';
import type { WorkerLeaseHandle, WorkerTransfer } from '../../core/lease-port.js';
import { checkBump } from '../../core/tags.js';
import { checkRegions } from '../../core/shape.js';
import type {
  BumpResult,
  CreateTagInput,
  Grant,
  HandBack,
  HandBackOutcome,
  IgnoredKeys,
  ImportResult,
  KeyedGrant,
  KeyedRequest,
  Store,
  TagChanges,
  TagConfig,
  TagExport,
  TagPage,
  TagRecord,
} from '../../core/store-ports.js';
import { recordName } from '../transfer.js';
import { allocate, allocateKeyed, type Allocation } from './allocate.js';
import type { RedisLike } from './client.js';
import { checkDurability, type DurabilityReport } from './durability.js';
import { handBack } from './handback.js';
import { createKeys, type Keys } from './keys.js';
import { importReply } from './reply-shapes.js';
import { scriptError, storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';
import { bump, createTag, deleteTag, getTag, updateTag, type TagDb } from './tag-admin.js';
import { exportTags, listTags, type TagReader } from './tag-listing.js';
import { scanKeys } from './tag-scan.js';
import { importToRedis } from './transfer.js';
import { recordLayout, RedisWorkerLeaseStore } from './worker-lease.js';
import { RedisWorkerTransfer } from './worker-transfer.js';

export { parseTag } from './tag-admin.js';

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
  /**
   * The node's region count (`REGION=i/N`: N, docs/design.md §13): allocations of a
   * segment tag stored with another count are refused WRONG_REGION.
   * @default 1
   */
  readonly regions?: number;
}

export class RedisStore implements Store, LayoutRegistry, DeploymentIdentity {
  readonly kind: Store['kind'];
  readonly keys: Keys;
  private readonly client: RedisLike;
  private readonly alloc: RedisLike;
  private readonly minReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly leaseClient: (() => RedisLike) | undefined;
  private readonly ignoredListeners: ((ignored: IgnoredKeys) => void)[] = [];
  /** What the helper modules work with: allocate.ts, tag-admin.ts, tag-listing.ts. */
  private readonly allocation: Allocation;
  private readonly db: TagDb;
  private readonly reader: TagReader;
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
    this.leaseClient = opts.leaseClient;
    this.allocation = {
      alloc: this.alloc,
      keys: this.keys,
      readyTimeoutMs: this.readyTimeoutMs,
      minReplicas: this.minReplicas,
      waitTimeoutMs: this.waitTimeoutMs,
      regions: checkRegions(opts.regions ?? 1),
    };
    this.db = { client: this.client, keys: this.keys, now: opts.now ?? Date.now };
    this.reader = {
      client: this.client,
      keys: this.keys,
      scanTimeoutMs: this.readyTimeoutMs * 5,
      reportIgnored: (ignored) => {
        for (const listener of this.ignoredListeners) listener(ignored);
      },
    };
  }

  /**
   * Runs the allocation script on the allocation connection and, with `minReplicas`,
   * serves the grant only once `WAIT` confirms it (allocate.ts).
   */
  allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    return allocate(this.allocation, tag, count, exact);
  }

  /** One handback-1.lua call on the allocation connection, never resent (handback.ts). */
  /** A grant under an Idempotency-Key, or its replay (allocate-keyed-2; allocate.ts). */
  allocateKeyed(tag: string, req: KeyedRequest): Promise<KeyedGrant> {
    return allocateKeyed(this.allocation, tag, req);
  }

  async forgetKeyed(tag: string, record: string): Promise<void> {
    await this.alloc.del(this.keys.idempotency(tag, record));
  }

  handBack(tag: string, back: HandBack): Promise<HandBackOutcome> {
    return handBack(this.allocation, tag, back);
  }

  async raiseFloor(tag: string, floor: bigint): Promise<void> {
    await bump(this.db, this.alloc, tag, 'atleast', floor);
  }

  async bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult> {
    // Inside the promise: a value refused by checkBump rejects, as every refusal does.
    return await bump(this.db, this.client, name, how, checkBump(how, value));
  }

  createTag(input: CreateTagInput): Promise<{ tag: TagConfig; raisedByTombstone: boolean }> {
    return createTag(this.db, input);
  }

  getTag(name: string): Promise<TagConfig | undefined> {
    return getTag(this.db, name);
  }

  /**
   * Every tag, in name order, or one page of them. Keys under the tag pattern that are
   * not this deployment's tags are left out and reported to {@link onIgnoredKeys}.
   */
  listTags(page?: TagPage): Promise<TagConfig[]> {
    return listTags(this.reader, page);
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
  exportTags(): Promise<TagExport> {
    return exportTags(this.reader);
  }

  /**
   * Hears, once per listing or export, of the keys under the tag pattern it left out
   * (not at all when there were none): the admin script warns of them.
   */
  onIgnoredKeys(listener: (ignored: IgnoredKeys) => void): void {
    this.ignoredListeners.push(listener);
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
      throw storeFailure(err, `the import of '${name}'`);
    }
    const imported = importReply(name, reply);
    if (!imported.ok) throw scriptError(imported.code, name);
    return imported.value;
  }

  updateTag(name: string, changes: TagChanges): Promise<TagConfig> {
    return updateTag(this.db, name, changes);
  }

  deleteTag(name: string): Promise<void> {
    return deleteTag(this.db, name);
  }

  /**
   * Hands every connection error of both clients to `listener` (ioredis prints errors
   * nobody listens to on stderr, and retries by itself either way).
   */
  onConnectionError(listener: (err: Error, connection: string) => void): void {
    this.client.on('error', (err: Error) => listener(err, 'general'));
    this.alloc.on('error', (err: Error) => listener(err, 'allocation'));
  }

  /** Hears each client's `ready` (connected, and again after every reconnect). */
  onConnectionReady(listener: (connection: string) => void): void {
    this.client.on('ready', () => listener('general'));
    this.alloc.on('ready', () => listener('allocation'));
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
   * `onError` hears that connection's errors, `onReady` that it is (again) connected.
   */
  openWorkerLeases(onError: (err: Error) => void, onReady?: () => void): WorkerLeaseHandle {
    const replication = { minReplicas: this.minReplicas, waitTimeoutMs: this.waitTimeoutMs };
    const own = this.leaseClient?.();
    if (!own) {
      return {
        leases: new RedisWorkerLeaseStore(this.client, this.keys, replication),
        close: async () => {},
      };
    }
    own.on('error', onError);
    if (onReady) own.on('ready', onReady);
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
