/**
 * The deployment id grant lines name (docs/design.md §8.8) travels with a store move:
 * `tag export` writes the embedded store's id, `tag import` into Redis adopts it (saying
 * so when it replaces another; --dry-run writes nothing), so the audit over the old and
 * the new nodes' lines compares them and finds an overlap between them. The admin script
 * runs as a real process, on a real embedded file and the test Redis.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { GRANT_MSG, grantLine } from '../../src/core/grant-log.js';
import type { Grant } from '../../src/core/store-ports.js';
import { openStore, type OpenedStore } from '../../src/store/open.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';
import { storeSettings } from '../../src/config/options.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The admin script with only the given store settings (none inherited). */
function admin(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
      { cwd: ROOT, timeout: 30_000, env: { PATH: process.env.PATH ?? '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

const T0 = Date.parse('2026-03-01T12:00:00Z');

/** A node's grant line for a grant of the tag 'order', as the service writes it. */
function line(node: string, s: number, g: Grant, deployment: string): string {
  const at = T0 + s * 1000;
  const event = {
    kind: 'segment' as const,
    tag: 'order',
    start: g.start,
    end: g.end,
    max: g.max,
    ...(g.incarnation === undefined ? {} : { incarnation: g.incarnation }),
  };
  return JSON.stringify({
    level: 30,
    time: at,
    msg: GRANT_MSG,
    grant: grantLine(event, node, at, deployment),
  });
}

let dir: string;
let prefix: string;
const opened: OpenedStore[] = [];
const embedded = (log?: {
  error(o: object, m: string): void;
  warn(o: object, m: string): void;
}) => {
  const s = openStore(storeSettings(loadConfig({ DATA_DIR: dir })), log);
  opened.push(s);
  return s;
};
const redisEnv = () => ({ REDIS_URL: inject('redisUrl'), KEY_PREFIX: prefix });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idalloc-deployment-'));
  prefix = testPrefix();
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the deployment id across a store move', () => {
  it('embedded to Redis: the new nodes name the old deployment, and an overlap between old and new is found', async () => {
    const old = embedded();
    const oldId = await old.deploymentId();
    expect(oldId).toMatch(/^d-[0-9a-f]{16}$/);
    await old.createTag(segmentTag('order'));
    const oldGrant = await old.allocate('order', 0, false);
    await old.close();

    const file = join(dir, 'export.json');
    const exported = await admin(['tag', 'export', '--out', file], { DATA_DIR: dir });
    expect(exported.code).toBe(0);

    // A Redis node started before the import made an id of its own: import replaces it.
    const redis = testStore(inject('redisUrl'), prefix);
    opened.push(redis);
    const early = await redis.deploymentId();
    expect(early).not.toBe(oldId);
    const dry = await admin(['tag', 'import', '--dry-run', file], redisEnv());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `would replace this store's deployment id ${early} with the export's ${oldId}: nodes started on it from now on name ${oldId} in their grant lines (restart nodes already running here)\n`,
    );
    expect(await redis.deploymentId()).toBe(early);
    const imported = await admin(['tag', 'import', file], redisEnv());
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(
      `replaced this store's deployment id ${early} with the export's ${oldId}:`,
    );
    expect(await redis.deploymentId()).toBe(oldId);

    // The new nodes' lines: one real grant, and one repeating the old node's range.
    const newId = await redis.deploymentId();
    const newGrant = await redis.allocate('order', 0, false);
    const log = [line('old-1', 0, oldGrant, oldId), line('new-1', 10, newGrant, newId)];
    const clean = join(dir, 'clean.log');
    writeFileSync(clean, `${log.join('\n')}\n`);
    const fine = await admin(['audit', clean], {});
    expect(fine.stdout).toMatch(/no overlaps|no ID was granted twice/);
    expect(fine.code).toBe(0);
    const repeated = join(dir, 'repeated.log');
    writeFileSync(repeated, `${[...log, line('new-2', 11, oldGrant, newId)].join('\n')}\n`);
    const found = await admin(['audit', repeated], {});
    expect(found.stdout).toMatch(/tag order: 3 grants from 3 node\(s\).*, 1 overlaps\n/);
    expect(found.code).toBe(1);
  });

  it('Redis to embedded: the file adopts the id in a guarded write, and is then no restored file', async () => {
    const redis = testStore(inject('redisUrl'), prefix);
    opened.push(redis);
    await redis.createTag(segmentTag('order'));
    const id = await redis.deploymentId();
    const file = join(dir, 'export.json');
    expect((await admin(['tag', 'export', '--out', file], redisEnv())).code).toBe(0);

    const own = embedded();
    const ownId = await own.deploymentId();
    await own.close();
    const dry = await admin(['tag', 'import', file, '--dry-run', '--json'], { DATA_DIR: dir });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ deployment: { id, replaced: ownId } });
    const unchanged = embedded();
    expect(await unchanged.deploymentId()).toBe(ownId);
    await unchanged.close();
    const imported = await admin(['tag', 'import', file], { DATA_DIR: dir });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(
      `replaced this store's deployment id ${ownId} with the export's ${id}:`,
    );

    // Opened again: the id is the export's, and the witness names the file's last write
    // (no "not the file last written here" warning, no gap skipped).
    const warnings: string[] = [];
    const log = {
      error: (_o: object, m: string) => warnings.push(m),
      warn: (_o: object, m: string) => warnings.push(m),
    };
    const after = embedded(log);
    expect(await after.deploymentId()).toBe(id);
    const g = await after.allocate('order', 0, false);
    expect(g.skipped ?? 0n).toBe(0n);
    expect(warnings).toEqual([]);
  });

  it('an export of an older version, without the field, imports and leaves the id alone', async () => {
    const own = embedded();
    const ownId = await own.deploymentId();
    await own.close();
    const file = join(dir, 'old-export.json');
    writeFileSync(
      file,
      JSON.stringify({
        format: 'idalloc-tag-export',
        version: 1,
        exportedAt: '2026-01-01T00:00:00.000Z',
        store: { kind: 'redis', keyPrefix: 'idalloc:' },
        consistency: 'per-tag',
        tags: [],
        tombstones: [],
      }),
    );
    const imported = await admin(['tag', 'import', file], { DATA_DIR: dir });
    expect(imported.code).toBe(0);
    expect(imported.stdout).not.toMatch(/deployment id/);
    expect(await embedded().deploymentId()).toBe(ownId);
  });
});
