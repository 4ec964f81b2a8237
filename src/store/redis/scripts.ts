/**
 * Loads the Lua scripts of src/lua (one per file, `<name>-<numberOfKeys>.lua`) and
 * defines each on an ioredis client as a command `idalloc<Name>`. ioredis sends EVALSHA
 * and falls back to EVAL on NOSCRIPT by itself.
 *
 * A script may pull in a shared helper file with a line `-- @include <name>`, which is
 * replaced by `src/lua/include/<name>.lua` at load time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

const LUA_DIR = new URL('../../lua/', import.meta.url);

/** A script's reply: an array of strings on success, a negative code on refusal. */
export type ScriptReply = (string | number)[] | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    idallocAllocate(
      key: string,
      count: string,
      exact: '0' | '1',
      regions?: string,
    ): Result<ScriptReply, Context>;
    /** allocate-keyed-2: tag key, record key, count, regions, params, region, ttl ms. */
    idallocAllocateKeyed(
      key: string,
      record: string,
      count: string,
      regions: string,
      params: string,
      region: string,
      ttlMs: string,
    ): Result<ScriptReply, Context>;
    idallocCreate(key: string, ...args: string[]): Result<ScriptReply, Context>;
    idallocBump(
      key: string,
      how: 'to' | 'by' | 'atleast',
      value: string,
    ): Result<ScriptReply, Context>;
    idallocUpdate(key: string, ...fieldValues: string[]): Result<ScriptReply, Context>;
    idallocDelete(key: string, deletedAt: string): Result<ScriptReply, Context>;
    idallocImport(key: string, ...args: string[]): Result<ScriptReply, Context>;
    /** Snowflake worker leases (worker-*-2.lua): lease key, horizon key, then ARGV. */
    idallocWorkerInspect(
      lease: string,
      horizon: string,
      now: string,
      margin: string,
    ): Result<ScriptReply, Context>;
    idallocWorkerClaim(
      lease: string,
      horizon: string,
      token: string,
      leaseMs: string,
      now: string,
      ahead: string,
      margin: string,
      maxWait: string,
    ): Result<ScriptReply, Context>;
    idallocWorkerRenew(
      lease: string,
      horizon: string,
      token: string,
      leaseMs: string,
      now: string,
      target: string,
      margin: string,
      heldFloor: string,
    ): Result<ScriptReply, Context>;
    idallocWorkerRelease(
      lease: string,
      horizon: string,
      token: string,
      settle: string,
    ): Result<ScriptReply, Context>;
    /** `tag export` / `tag import` of a worker ID (worker-export-2.lua, worker-import-2.lua). */
    idallocWorkerExport(
      lease: string,
      horizon: string,
      now: string,
      margin: string,
      imported: string,
    ): Result<ScriptReply, Context>;
    idallocWorkerImport(
      lease: string,
      horizon: string,
      ...args: string[]
    ): Result<ScriptReply, Context>;
  }
}

export interface LoadedScript {
  readonly command: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

function expandIncludes(source: string, file: string): string {
  return source.replace(/^-- @include ([a-z_]+)\s*$/gm, (_line, name: string) => {
    try {
      return readFileSync(new URL(`include/${name}.lua`, LUA_DIR), 'utf8');
    } catch (err) {
      throw new Error(`${file}: cannot include '${name}'`, { cause: err });
    }
  });
}

let cache: readonly LoadedScript[] | undefined;

/** Every script in src/lua, with its includes expanded (read once per process). */
export function loadScripts(): readonly LoadedScript[] {
  if (cache) return cache;
  const scripts: LoadedScript[] = [];
  for (const file of readdirSync(LUA_DIR).sort()) {
    const m = /^([a-z][a-z-]*)-(\d+)\.lua$/.exec(file);
    if (!m) continue;
    const command =
      'idalloc' + m[1]!.replace(/(^|-)([a-z])/g, (_s, _d, c: string) => c.toUpperCase());
    const lua = expandIncludes(readFileSync(new URL(file, LUA_DIR), 'utf8'), file);
    scripts.push(Object.freeze({ command, numberOfKeys: Number(m[2]), lua }));
  }
  cache = Object.freeze(scripts);
  return cache;
}

/** Defines every script on a client (a Redis or a Cluster). */
export function defineScripts(client: Redis | Cluster): void {
  for (const s of loadScripts()) {
    client.defineCommand(s.command, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
}
