/**
 * The Redis store: every multi-step change is one Lua script (src/lua), every key comes
 * from the key builder, every script reply is checked for its shape before use.
 */
import { Cluster, type Redis } from 'ioredis';
import { ErrorCode, IdAllocError, scriptError, unavailable } from '../../errors.js';
import { MAX_ID } from '../../tags.js';
import type {
  BumpResult,
  CreateTagInput,
  Grant,
  Store,
  TagChanges,
  TagConfig,
  TagMode,
} from '../types.js';
import type { RedisLike } from './client.js';
import { createKeys, type Keys } from './keys.js';
import type { ScriptReply } from './scripts.js';

export interface RedisStoreOptions {
  /** General connection: admin work, readiness. */
  readonly client: RedisLike;
  /** Allocation connection: no offline queue, no resend (see client.ts). */
  readonly allocClient: RedisLike;
  readonly keyPrefix: string;
  readonly kind?: Store['kind'];
  /** Wall clock for created_at / deleted_at (ms since the Unix epoch). */
  readonly now?: () => number;
}

/** A reply that is not what a script's header promises. */
function badReply(what: string, reply: unknown): IdAllocError {
  return new IdAllocError(ErrorCode.INTERNAL, `unexpected reply from ${what}`, {
    reply: JSON.stringify(reply),
  });
}

function isStringArray(reply: ScriptReply, length: number): reply is string[] {
  return (
    Array.isArray(reply) && reply.length === length && reply.every((v) => typeof v === 'string')
  );
}

/**
 * A negative code as a number. With `stringNumbers` ioredis hands integer replies over
 * as strings, so both shapes are accepted.
 */
function codeOf(reply: unknown): number | undefined {
  if (typeof reply === 'number') return reply;
  if (typeof reply === 'string' && /^-?\d+$/.test(reply)) return Number(reply);
  return undefined;
}

/**
 * Errors of the connection itself (closed, timed out, not writable, failing over) mean
 * "try again"; a Lua runtime error means a bug or a damaged store.
 */
export function storeFailure(err: unknown, what: string): IdAllocError {
  if (err instanceof IdAllocError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/user_script|Error running script|ERR .*script/i.test(message)) {
    return new IdAllocError(
      ErrorCode.INTERNAL,
      `${what} failed in the store: ${message}`,
      {},
      { cause: err },
    );
  }
  return unavailable(`store unreachable during ${what}: ${message}`, 1, err);
}

export class RedisStore implements Store {
  readonly kind: Store['kind'];
  readonly keys: Keys;
  private readonly client: RedisLike;
  private readonly alloc: RedisLike;
  private readonly now: () => number;

  constructor(opts: RedisStoreOptions) {
    this.client = opts.client;
    this.alloc = opts.allocClient;
    this.keys = createKeys(opts.keyPrefix);
    this.kind = opts.kind ?? (opts.client instanceof Cluster ? 'cluster' : 'redis');
    this.now = opts.now ?? Date.now;
  }

  async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    let reply: ScriptReply;
    try {
      reply = await this.alloc.idallocAllocate(
        this.keys.tag(tag),
        String(count),
        exact ? '1' : '0',
      );
    } catch (err) {
      throw storeFailure(err, `allocation for '${tag}'`);
    }
    const code = codeOf(reply);
    if (code !== undefined) throw scriptError(code, tag, { wanted: 'segment', mode: 'snowflake' });
    if (!isStringArray(reply, 5)) throw badReply('allocate', reply);
    const [start, end, step, max, bumped] = reply as [string, string, string, string, string];
    return {
      start: BigInt(start),
      end: BigInt(end),
      step: Number(step),
      max: BigInt(max),
      bumped: bumped === '1',
    };
  }

  async raiseFloor(tag: string, floor: bigint): Promise<void> {
    await this.bump(this.alloc, tag, 'atleast', floor);
  }

  async bumpTag(name: string, how: 'to' | 'by', value: bigint): Promise<BumpResult> {
    return this.bump(this.client, name, how, value);
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
      throw scriptError(code, input.name, {
        max: input.max,
        next: 'above max (a deleted tag of this name reached it)',
      });
    }
    if (!isStringArray(reply, 2)) throw badReply('create', reply);
    const tag = await this.getTag(input.name);
    if (!tag) throw badReply('create (tag missing right after)', reply);
    return { tag, raisedByTombstone: reply[1] === '1' };
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

  async listTags(): Promise<TagConfig[]> {
    const names = new Set<string>();
    try {
      const nodes: Redis[] =
        this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.tagPattern, 'COUNT', 500);
          cursor = next;
          for (const key of keys) {
            const name = this.keys.tagName(key);
            if (name !== undefined) names.add(name);
          }
        } while (cursor !== '0');
      }
    } catch (err) {
      throw storeFailure(err, 'tag listing');
    }
    const tags: TagConfig[] = [];
    for (const name of [...names].sort()) {
      const tag = await this.getTag(name);
      if (tag) tags.push(tag);
    }
    return tags;
  }

  async updateTag(name: string, changes: TagChanges): Promise<TagConfig> {
    const args: string[] = [];
    if (changes.step !== undefined) args.push('step', String(changes.step));
    if (changes.max !== undefined) args.push('max', changes.max.toString());
    if (changes.gap !== undefined) args.push('gap', changes.gap.toString());
    if (changes.description !== undefined) args.push('description', changes.description);
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
  const mode: TagMode = f.mode === 'snowflake' ? 'snowflake' : 'segment';
  const big = (s: string | undefined, fallback: bigint) =>
    s !== undefined && /^\d{1,20}$/.test(s) ? BigInt(s) : fallback;
  return Object.freeze({
    name,
    mode,
    step: Number(f.step ?? 0),
    max: big(f.max, MAX_ID),
    gap: big(f.gap, 0n),
    description: f.description ?? '',
    createdAt: Number(f.created_at ?? 0),
    ...(mode === 'segment' && f.next !== undefined && /^\d{1,20}$/.test(f.next)
      ? { next: BigInt(f.next) }
      : {}),
  });
}
