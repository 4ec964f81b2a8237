/**
 * `tag export` and `tag import` of the admin script as real processes
 * (`node --import tsx src/cli/admin.ts …`) against the test Redis (each test on its own
 * key prefix) and an embedded store in a temporary DATA_DIR.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis/store.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';
import { waitUntil, withClient } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function admin(
  args: readonly string[],
  env: Record<string, string>,
  timeout = 20_000,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
      {
        cwd: ROOT,
        timeout,
        env: { ...process.env, REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '', ...env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let dir: string;
let store: RedisStore;
let env: Record<string, string>;
const run = (...args: string[]) => admin(args, env);

beforeEach(() => {
  const prefix = testPrefix();
  dir = mkdtempSync(join(tmpdir(), 'idalloc-cli-transfer-'));
  store = testStore(inject('redisUrl'), prefix);
  env = { REDIS_URL: inject('redisUrl'), KEY_PREFIX: prefix };
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tag export --move', () => {
  it('marks the store moved before it exports: every worker ID of the layout refuses a new claim, a held lease renews', async () => {
    const handle = store.openWorkerLeases(() => {});
    try {
      const claim = (token: string) => ({
        token,
        leaseMs: 30_000,
        now: Date.now(),
        aheadMs: 1000,
        marginMs: 3000,
        maxWaitMs: 10 ** 9,
      });
      const held = await handle.leases.claim(1, claim('old-node'));
      expect(held.kind).toBe('claimed');
      const file = join(dir, 'tags.json');
      const moved = await admin(['tag', 'export', '--move', '--out', file], {
        ...env,
        SNOWFLAKE_WORKER_BITS: '2',
      });
      expect(moved).toMatchObject({ code: 0, stderr: '' });
      expect(moved.stdout).toMatch(
        /\(1 leased\) to .* \(this store is marked moved: it grants no new snowflake worker ID\)\n$/,
      );
      for (const id of [0, 2, 3]) {
        expect(await handle.leases.claim(id, claim('late-node'))).toEqual({ kind: 'moved' });
      }
      const renewed = await handle.leases.renew(1, {
        token: 'old-node',
        leaseMs: 30_000,
        now: Date.now(),
        target: Date.now() + 1000,
        marginMs: 3000,
        floor: held.kind === 'claimed' ? held.floor : 0,
      });
      expect(renewed.kind).toBe('renewed');
      // Lost or released, it is not granted again either.
      expect(await handle.leases.release(1, 'old-node', Date.now())).toBe('released');
      expect(await handle.leases.claim(1, claim('old-node'))).toEqual({ kind: 'moved' });
      // Whatever it held is in the export, so the import holds it.
      expect(JSON.parse(readFileSync(file, 'utf8')).workers).toEqual([
        { id: 1, horizon: expect.any(Number), holder: expect.any(String) },
      ]);
    } finally {
      await handle.close();
    }
  });
});

/** A valid export with one segment tag, to be broken field by field. */
function exportDoc(over: Record<string, unknown> = {}, tag: Record<string, unknown> = {}) {
  return {
    format: 'idalloc-tag-export',
    version: 1,
    exportedAt: '2026-01-01T00:00:00.000Z',
    store: { kind: 'redis', keyPrefix: 'idalloc:' },
    consistency: 'per-tag',
    tags: [
      {
        name: 'order',
        mode: 'segment',
        description: '',
        createdAt: '2026-01-01T00:00:00.000Z',
        next: '5001',
        step: 1000,
        max: '9223372036854775807',
        gap: '1000',
        ...tag,
      },
    ],
    tombstones: [],
    ...over,
  };
}

describe('idalloc-admin tag export', () => {
  it('writes every tag and tombstone as one JSON document, to stdout or atomically to --out', async () => {
    await store.createTag({ ...segmentTag('order', { step: 10 }), description: 'Orders' });
    await store.allocate('order', 0, false);
    await store.createTag({ ...segmentTag('events'), mode: 'snowflake' });
    await store.createTag(segmentTag('old'));
    await store.bumpTag('old', 'to', 77n);
    await store.deleteTag('old');

    const shown = await run('tag', 'export');
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(shown.stdout) as Record<string, unknown>;
    expect(doc).toEqual({
      format: 'idalloc-tag-export',
      version: 1,
      exportedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      store: { kind: 'redis', keyPrefix: env.KEY_PREFIX },
      // The deployment id stored under the prefix, made by the export (tag import adopts it).
      deployment: await store.deploymentId(),
      consistency: 'per-tag',
      tags: [
        {
          name: 'events',
          mode: 'snowflake',
          description: '',
          createdAt: expect.any(String),
          gap: '1000000000',
        },
        {
          name: 'order',
          mode: 'segment',
          description: 'Orders',
          createdAt: expect.any(String),
          next: '11',
          step: 10,
          max: '9223372036854775807',
          gap: '1000000000',
          shape: { kind: 'plain' },
          regions: 1,
        },
      ],
      tombstones: [{ name: 'old', next: '77', gap: '1000000000', deletedAt: expect.any(String) }],
    });

    const file = join(dir, 'tags.json');
    writeFileSync(file, JSON.stringify(exportDoc({ tags: [] }))); // an older, smaller export
    const written = await run('tag', 'export', '--out', file);
    expect(written).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `exported 2 tags and 1 tombstone to ${file}\n`,
    });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ tags: doc.tags });
    expect(readdirSync(dir)).toEqual(['tags.json']); // no temporary file left behind

    const asJson = await run('tag', 'export', '--out', file, '--json');
    expect(JSON.parse(asJson.stdout)).toEqual({
      exported: { file, tags: 2, tombstones: 1, exportedAt: expect.any(String) },
    });
  });

  it('fails with exit 1 when --out cannot be written, leaving no file behind', async () => {
    const r = await run('tag', 'export', '--out', join(dir, 'no-such-dir', 'tags.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write the export to .*no-such-dir.*tags\.json/);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });

  it('refuses to replace an export with one of a store that lost tags or went back, unless --force', async () => {
    await store.createTag(segmentTag('order'));
    await store.createTag(segmentTag('gone'));
    await store.bumpTag('order', 'to', 5000n);
    const file = join(dir, 'tags.json');
    expect((await run('tag', 'export', '--out', file)).code).toBe(0);
    const good = readFileSync(file, 'utf8');
    // The data is lost behind the script's back, as a FLUSHALL would, and order restarts low.
    await store.deleteTag('gone');
    await store.deleteTag('order');
    const raw = (await import('ioredis')).Redis;
    const c = new raw(inject('redisUrl'));
    await c.del(store.keys.tag('gone'), store.keys.tag('order'));
    await c.quit();
    await store.createTag(segmentTag('order'));

    const refused = await run('tag', 'export', '--out', file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /refusing to replace .*tags\.json .*'gone' is gone; next of 'order' went back from 5000 to 1\. If the store lost data, restore it: idalloc-admin tag import .*tags\.json/,
    );
    expect(readFileSync(file, 'utf8')).toBe(good);
    const forced = await run('tag', 'export', '--out', file, '--force');
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ tags: [{ next: '1' }] });
  });

  it('exports the embedded store in one read, naming its file', async () => {
    const dataDir = join(dir, 'data');
    const local = { REDIS_URL: '', DATA_DIR: dataDir };
    expect((await admin(['tag', 'create', 'order'], local)).code).toBe(0);
    expect((await admin(['tag', 'bump', 'order', '--to', '300'], local)).code).toBe(0);
    const r = await admin(['tag', 'export'], local);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({
      store: { kind: 'embedded', file: join(dataDir, 'idalloc.db') },
      consistency: 'snapshot',
      tags: [{ name: 'order', next: '300' }],
    });
  });
});

describe('idalloc-admin tag import', () => {
  it('creates, raises and leaves tags, one line each; --dry-run shows it and writes nothing', async () => {
    await store.createTag(segmentTag('low'));
    await store.createTag(segmentTag('high'));
    await store.bumpTag('high', 'to', 10n ** 12n);
    const file = join(dir, 'tags.json');
    const tags = ['low', 'high', 'order'].map((name) => ({ ...exportDoc().tags[0], name }));
    writeFileSync(file, JSON.stringify(exportDoc({ tags })));

    const dry = await run('tag', 'import', file, '--dry-run');
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout.split('\n')).toEqual([
      "segment tag 'high' already above: next ID 1000000000000 >= 6001",
      "would raise segment tag 'low': next ID 1 -> 6001",
      "would create segment tag 'order' at next ID 6001",
      'dry run, nothing written: would create 1, would raise 1, already above 1, conflicts 0, failed 0 (export of 2026-01-01T00:00:00.000Z)',
      '',
    ]);
    expect(await store.getTag('order')).toBeUndefined();
    expect((await store.getTag('low'))?.next).toBe(1n);

    const done = await run('tag', 'import', file, '--gap', '100000');
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(done.stdout.split('\n').slice(0, 3)).toEqual([
      "segment tag 'high' already above: next ID 1000000000000 >= 105001",
      "raised segment tag 'low': next ID 1 -> 105001",
      "created segment tag 'order' at next ID 105001",
    ]);
    expect(await store.allocate('order', 1, true)).toMatchObject({ start: 105001n });
    expect((await store.getTag('low'))?.next).toBe(105001n);
    expect((await store.getTag('high'))?.next).toBe(10n ** 12n);

    const again = await run('tag', 'import', file, '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({
      dryRun: false,
      results: [
        { tag: 'high', outcome: 'unchanged' },
        { tag: 'low', outcome: 'unchanged', before: '105001', target: '6001', gap: '1000' },
        { tag: 'order', outcome: 'unchanged', after: '105002' },
      ],
    });
  });

  it('reports a tag of the other mode as a conflict, leaves it, and exits 1', async () => {
    await store.createTag({ ...segmentTag('order'), mode: 'snowflake' });
    const file = join(dir, 'tags.json');
    writeFileSync(file, JSON.stringify(exportDoc()));
    const r = await run('tag', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "idalloc-admin: conflict: 'order' is a snowflake tag here but a segment tag in the export; left alone\n",
    );
    expect(await store.getTag('order')).toMatchObject({ mode: 'snowflake' });
  });

  it('refuses a bad file with exit 2 naming the value, before writing anything', async () => {
    const cases: [string, string, RegExp][] = [
      ['not json', '{"format":', /not a JSON document/],
      ['version', JSON.stringify(exportDoc({ version: 2 })), /version 2 is not allowed/],
      ['format', JSON.stringify(exportDoc({ format: 'x' })), /format "x" is not allowed/],
      [
        'name',
        JSON.stringify(exportDoc({}, { name: 'a/b' })),
        /tags\[1\]\.name "a\/b" is not allowed/,
      ],
      [
        'next',
        JSON.stringify(exportDoc({}, { next: '12x' })),
        /tags\[1\]\.next "12x" is not allowed/,
      ],
      ['next above max', JSON.stringify(exportDoc({}, { max: '10', next: '12' })), /next "12"/],
      ['gap', JSON.stringify(exportDoc({}, { gap: 5 })), /tags\[1\]\.gap 5 is not allowed/],
      ['step', JSON.stringify(exportDoc({}, { step: 0 })), /tags\[1\]\.step 0 is not allowed/],
      ['mode', JSON.stringify(exportDoc({}, { mode: 'clock' })), /mode "clock"/],
      [
        'unknown',
        JSON.stringify(exportDoc({}, { colour: 'red' })),
        /colour "red" is not allowed: unknown field/,
      ],
      [
        'twice',
        JSON.stringify(
          exportDoc({
            tombstones: [{ name: 'order', next: '1', deletedAt: '2026-01-01T00:00:00Z' }],
          }),
        ),
        /'order' appears twice/,
      ],
      [
        'tombstones',
        JSON.stringify(exportDoc({ tombstones: 3 })),
        /tombstones 3 is not allowed: expected an array/,
      ],
    ];
    // One valid tag first, so that a writer going tag by tag would have written it.
    const first = { ...exportDoc().tags[0], name: 'aaa' };
    for (const [what, text, message] of cases) {
      const file = join(dir, `${what}.json`);
      let body = text;
      try {
        const doc = JSON.parse(text) as { tags: unknown[] };
        if (Array.isArray(doc.tags)) doc.tags.unshift(first);
        body = JSON.stringify(doc);
      } catch {
        // the not-JSON case stays as it is
      }
      writeFileSync(file, body);
      const r = await run('tag', 'import', file);
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toMatch(message);
      expect(r.stderr, what).toContain(file);
      expect(r.stdout, what).toBe('');
    }
    expect(await store.listTags()).toEqual([]);
    const missing = await run('tag', 'import', join(dir, 'nope.json'), '--json');
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr)).toMatchObject({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('cannot read') },
    });
  });

  it('answers usage errors with exit 2', async () => {
    const [noFile, badGap, extra, flag] = await Promise.all([
      run('tag', 'import'),
      run('tag', 'import', 'x.json', '--gap', 'lots'),
      run('tag', 'export', 'what'),
      run('tag', 'export', '--dry-run'),
    ]);
    expect(noFile).toMatchObject({ code: 2, stderr: expect.stringMatching(/needs the file/) });
    expect(badGap).toMatchObject({ code: 2, stderr: expect.stringMatching(/--gap 'lots'/) });
    expect(extra).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unexpected argument 'what'/),
    });
    expect(flag).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/does not take --dry-run/),
    });
  });
});

describe('idalloc-admin tag import: a tag left near its max', () => {
  it('warns, naming the tag, next, max and the IDs left, in text and in --json; exit 0', async () => {
    // 'low' exists here with a max lowered since the export: the import reads it again.
    await store.createTag(segmentTag('low', { step: 10, max: 6900n }));
    const file = join(dir, 'tags.json');
    const tag = (name: string, max: string) => ({ ...exportDoc().tags[0], name, step: 10, max });
    const tags = [
      tag('far', '9223372036854775807'),
      tag('full', '5500'),
      tag('low', '9223372036854775807'),
      tag('near', '6500'),
    ];
    writeFileSync(file, JSON.stringify(exportDoc({ tags })));

    const r = await run('tag', 'import', file);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      "created segment tag 'far' at next ID 6001",
      "created segment tag 'full' at next ID 5501",
      "raised segment tag 'low': next ID 1 -> 6001",
      "created segment tag 'near' at next ID 6001",
      'created 3, raised 1, already above 0, conflicts 0, failed 0, near max 3 (export of 2026-01-01T00:00:00.000Z)',
      '',
    ]);
    expect(r.stderr.split('\n')).toEqual([
      "idalloc-admin: warning: the import leaves tag 'full' near its max: next ID 5501, max 5500, no ID left: the tag is exhausted, and every request for it fails; raise its max if its IDs allow (tag update full --max N)",
      "idalloc-admin: warning: the import leaves tag 'low' near its max: next ID 6001, max 6900, 900 IDs left, fewer than 1000 (its gap, or 100 segments of its step); raise its max if its IDs allow (tag update low --max N)",
      "idalloc-admin: warning: the import leaves tag 'near' near its max: next ID 6001, max 6500, 500 IDs left, fewer than 1000 (its gap, or 100 segments of its step); raise its max if its IDs allow (tag update near --max N)",
      '',
    ]);

    const dry = await run('tag', 'import', file, '--dry-run', '--json', '--gap', '10');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      results: [
        { tag: 'far', outcome: 'unchanged' },
        { tag: 'full', outcome: 'unchanged' },
        { tag: 'low', outcome: 'unchanged' },
        { tag: 'near', outcome: 'unchanged' },
      ],
    });
    // Nothing moved on this second pass: nothing to warn of.
    expect(dry.stderr).toBe('');
  });

  it('says in --json which tags it left near max, with a warning line each on stderr', async () => {
    const file = join(dir, 'tags.json');
    const tags = [
      { ...exportDoc().tags[0], name: 'far' },
      { ...exportDoc().tags[0], name: 'near', step: 1, max: '5100' },
    ];
    writeFileSync(file, JSON.stringify(exportDoc({ tags })));
    const r = await run('tag', 'import', file, '--json', '--dry-run');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      results: [
        { tag: 'far', outcome: 'created', nearMax: false, max: '9223372036854775807' },
        {
          tag: 'near',
          outcome: 'created',
          after: '5101',
          max: '5100',
          idsLeft: '0',
          nearMax: true,
        },
      ],
    });
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      {
        warning: {
          code: 'NEAR_MAX',
          message: expect.stringMatching(
            /^the import would leave tag 'near' near its max: .*smaller --gap/,
          ),
          tag: 'near',
          next: '5101',
          max: '5100',
          idsLeft: '0',
        },
      },
    ]);
    expect(await store.getTag('near')).toBeUndefined();
  });
});

describe('idalloc-admin with a KEY_PREFIX nested in this one', () => {
  it('lists, bumps, exports and imports its own tags only, with one warning line each', async () => {
    // The inner deployment's prefix is the outer's tag key head: every key of it matches
    // the outer's tag pattern.
    const inner = testStore(inject('redisUrl'), `${env.KEY_PREFIX}tag:`);
    try {
      await inner.createTag(segmentTag('order'));
      await inner.createTag({ ...segmentTag('events'), mode: 'snowflake' });
      await inner.createTag(segmentTag('gone'));
      await inner.deleteTag('gone');
      await inner.recordSnowflakeLayout('layout-1');
      await inner.deploymentId();
      const raw = new (await import('ioredis')).Redis(inject('redisUrl'));
      try {
        await raw.set(inner.keys.worker(3), 'holder', 'PX', 60_000);
        await raw.hset(inner.keys.workerHorizon(3), 'h', '1');
        // A key of another type under the outer's pattern, named like a tag.
        await raw.set(store.keys.tag('stray'), 'not a hash');
      } finally {
        await raw.quit();
      }
      await store.createTag(segmentTag('order', { step: 10 }));
      await store.createTag(segmentTag('alpha'));
      // order, events, gone, the layout, the deployment id, the lease, the horizon, stray
      const innerKeys = 8;
      const warningLine = new RegExp(
        `^idalloc-admin: warning: left out ${innerKeys} keys under KEY_PREFIX "${env.KEY_PREFIX}" that are not tags of this deployment, e\\.g\\. "${env.KEY_PREFIX}tag:deployment:id" \\(keys of another deployment whose KEY_PREFIX is nested in this one, or not a tag hash\\)\\n$`,
      );

      const list = await run('tag', 'list');
      expect(list.code).toBe(0);
      expect(list.stdout.split('\n').map((l) => l.split(' ')[0])).toEqual([
        'NAME',
        'alpha',
        'order',
        '',
      ]);
      expect(list.stderr).toMatch(warningLine);
      const listJson = await run('tag', 'list', '--json');
      expect(JSON.parse(listJson.stdout)).toMatchObject({
        tags: [{ name: 'alpha' }, { name: 'order' }],
      });
      expect(JSON.parse(listJson.stderr)).toEqual({
        warning: {
          code: 'IGNORED_KEYS',
          message: expect.stringContaining(`left out ${innerKeys} keys`),
          count: innerKeys,
          example: `${env.KEY_PREFIX}tag:deployment:id`,
        },
      });

      const bumped = await run('tag', 'bump', '--all', '--by', '100');
      expect(bumped.code).toBe(0);
      expect(bumped.stdout).toBe(
        "bumped tag 'alpha': next ID 1 -> 101\nbumped tag 'order': next ID 1 -> 101\n",
      );
      expect(bumped.stderr).toMatch(warningLine);
      expect((await inner.getTag('order'))?.next).toBe(1n);

      const file = join(dir, 'tags.json');
      const exported = await run('tag', 'export', '--out', file);
      expect(exported).toMatchObject({
        code: 0,
        stdout: `exported 2 tags and 0 tombstones to ${file}\n`,
      });
      expect(exported.stderr).toMatch(warningLine);
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { tags: { name: string }[] };
      expect(doc.tags.map((t) => t.name)).toEqual(['alpha', 'order']);

      // An export taken before this check listed the inner deployment's keys as tags.
      const old = exportDoc({
        tags: [
          { ...exportDoc().tags[0], name: 'tag:order', next: '900000' },
          { ...exportDoc().tags[0], name: 'beta' },
        ],
        tombstones: [{ name: 'tag:gone', next: '5', deletedAt: '2026-01-01T00:00:00.000Z' }],
      });
      const oldFile = join(dir, 'old.json');
      writeFileSync(oldFile, JSON.stringify(old));
      const imported = await run('tag', 'import', oldFile);
      expect(imported.code).toBe(0);
      expect(imported.stdout.split('\n')[0]).toBe("created segment tag 'beta' at next ID 6001");
      expect(imported.stderr).toBe(
        `idalloc-admin: warning: left out 2 entries of the file whose name is not a tag name, e.g. "tag:gone" (keys of another deployment whose KEY_PREFIX is nested in the exporting one, which an older export listed as tags)\n`,
      );
      expect((await inner.getTag('order'))?.next).toBe(1n);
      expect(await inner.getTag('gone')).toBeUndefined();
      const importedJson = await run('tag', 'import', oldFile, '--json');
      expect(JSON.parse(importedJson.stderr)).toMatchObject({
        warning: { code: 'IGNORED_ENTRIES', count: 2, example: 'tag:gone' },
      });
    } finally {
      await inner.close();
    }
  });
});

/** An export file of `total` segment tags named tag00000…, in name order. */
function manyTags(total: number): { names: string[]; file: string } {
  const names = Array.from({ length: total }, (_, i) => `tag${String(i).padStart(5, '0')}`);
  const file = join(dir, 'tags.json');
  const tags = names.map((name) => ({ ...exportDoc().tags[0], name }));
  writeFileSync(file, JSON.stringify(exportDoc({ tags })));
  return { names, file };
}

/**
 * Kills `server` once `progressed` says the admin command got far enough, then waits for
 * the command: its result, and how long it ran after the kill.
 */
async function killMidway(
  server: RedisServer,
  command: ReturnType<typeof admin>,
  progressed: () => Promise<boolean>,
  what: string,
) {
  await waitUntil(progressed, what, 60_000, 20);
  await server.kill();
  const killedAt = Date.now();
  const r = await command;
  return { r, took: Date.now() - killedAt };
}

describe('idalloc-admin tag import: the store gone mid-import', () => {
  it('stops within seconds, exit 1, naming the first tag not done and how many were', async () => {
    const server = await RedisServer.start();
    try {
      const total = 20_000;
      const { names, file } = manyTags(total);
      const importing = admin(
        ['tag', 'import', file],
        { REDIS_URL: server.url, KEY_PREFIX: testPrefix() },
        180_000,
      );
      const count = () => withClient(server.port, async (c) => Number(await c.dbsize()));
      const { r, took } = await killMidway(
        server,
        importing,
        async () => (await count()) >= 1000,
        '1000 tags imported',
      );

      expect(r.code, r.stderr).toBe(1);
      const stop =
        /stopped: the store failed every try for 5 s \(the store did not answer the import of '(tag\d+)' \(.*\)\); (\d+) of 20000 tags and tombstones were imported \(in name order\), the first not done is '(tag\d+)'\. Run the same import again once the store answers/.exec(
          r.stderr,
        );
      expect(stop, r.stderr).not.toBeNull();
      const done = Number(stop![2]);
      expect(done).toBeGreaterThanOrEqual(1000);
      expect(done).toBeLessThan(total);
      expect(stop![3]).toBe(names[done]);
      expect(stop![1]).toBe(names[done]);
      // Every tag done has its line; nothing was tried after the stop.
      expect(r.stdout.split('\n').filter((l) => l.startsWith('created'))).toHaveLength(done + 1);
      expect(r.stdout).toContain(
        `created ${done}, raised 0, already above 0, conflicts 0, failed 0`,
      );
      expect(r.stderr).not.toMatch(/import of 'tag\d+' failed/);
      // The bound (5 s) plus one failing command (about 4 s) plus the process's exit, with
      // a wide margin for a loaded machine; before the bound it took about 4 s per tag left.
      expect(took).toBeLessThan(40_000);
    } finally {
      await server.dispose();
    }
  }, 240_000);
});
describe('idalloc-admin tag bump --all: the store gone mid-way', () => {
  it('stops within seconds, exit 1, naming the first tag not done and how many were', async () => {
    const server = await RedisServer.start();
    try {
      const total = 10_000;
      const { names, file } = manyTags(total);
      const serverEnv = { REDIS_URL: server.url, KEY_PREFIX: testPrefix() };
      const imported = await admin(['tag', 'import', file], serverEnv, 180_000);
      expect(imported.code, imported.stderr).toBe(0);
      // Tags are bumped in name order: once the 1000th has moved, kill the store.
      const watched = `${serverEnv.KEY_PREFIX}tag:${names[999]!}`;
      const nextOf = () => withClient(server.port, (c) => c.hget(watched, 'next'));
      const before = await nextOf();
      const bumping = admin(['tag', 'bump', '--all', '--by', '5'], serverEnv, 180_000);
      const { r, took } = await killMidway(
        server,
        bumping,
        async () => (await nextOf()) !== before,
        '1000 tags bumped',
      );

      expect(r.code, r.stderr).toBe(1);
      const stop =
        /stopped: the store failed every try for 5 s \(the store did not answer the bump of '(tag\d+)' \(.*\)\); (\d+) of 10000 tags were done \(in name order\), the first not done is '(tag\d+)'\. Run the same bump again once the store answers: tags done are bumped again, which skips more IDs and never repeats one\n$/.exec(
          r.stderr,
        );
      expect(stop, r.stderr).not.toBeNull();
      const done = Number(stop![2]);
      expect(done).toBeGreaterThanOrEqual(1000);
      expect(done).toBeLessThan(total);
      expect(stop![3]).toBe(names[done]);
      expect(stop![1]).toBe(names[done]);
      // Every tag done has its line; nothing was tried after the stop.
      expect(r.stdout.split('\n').filter((l) => l.startsWith('bumped tag'))).toHaveLength(done);
      expect(r.stderr).not.toMatch(/bump of 'tag\d+' failed/);
      // The bound (5 s) plus one failing command (about 4 s) plus the process's exit, with
      // a wide margin for a loaded machine; before the bound it took about 4 s per tag left.
      expect(took).toBeLessThan(40_000);
    } finally {
      await server.dispose();
    }
  }, 360_000);
});
describe('idalloc-admin: snowflake worker IDs in export and import', () => {
  it('refuses a bad workers list with exit 2 naming the value', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'worker id',
        JSON.stringify(exportDoc({ workers: [{ id: -1, horizon: 5 }] })),
        /workers\[0\]\.id -1 is not allowed: expected an integer from 0 to 1048575/,
      ],
      [
        'worker holder',
        JSON.stringify(exportDoc({ workers: [{ id: 1, horizon: 5, holder: 'XYZ' }] })),
        /workers\[0\]\.holder "XYZ" is not allowed/,
      ],
      [
        'worker twice',
        JSON.stringify(
          exportDoc({
            workers: [
              { id: 1, horizon: 5 },
              { id: 1, horizon: 6 },
            ],
          }),
        ),
        /workers\[1\]: worker ID 1 appears twice/,
      ],
    ];
    for (const [what, text, message] of cases) {
      const file = join(dir, `${what}.json`);
      writeFileSync(file, text);
      const r = await run('tag', 'import', file);
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toMatch(message);
      expect(r.stdout, what).toBe('');
    }
    expect(await store.listTags()).toEqual([]);
  });

  it('answers usage errors of the worker options and command with exit 2', async () => {
    const [hold, release, worker] = await Promise.all([
      run('tag', 'import', 'x.json', '--worker-hold', '5'),
      run('worker', 'release-imported', '--gap', '1'),
      run('worker', 'free'),
    ]);
    expect(hold).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--worker-hold '5' is not allowed: expected a duration/),
    });
    expect(release).toMatchObject({ code: 2, stderr: expect.stringMatching(/take --gap/) });
    expect(worker).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown command 'worker free'/),
    });
  });

  it('exports the leases, holds a leased worker ID in the importing store, and releases it', async () => {
    const handle = store.openWorkerLeases(() => {});
    const now = Date.now();
    const claim = { leaseMs: 30_000, now, aheadMs: 1000, marginMs: 3000, maxWaitMs: 10 ** 9 };
    expect((await handle.leases.claim(7, { ...claim, token: 'old-node' })).kind).toBe('claimed');
    await handle.close();
    const file = join(dir, 'tags.json');
    const exported = await run('tag', 'export', '--out', file);
    expect(exported).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `exported 0 tags and 0 tombstones, and 1 snowflake worker ID (1 leased) to ${file}\n`,
    });
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { workers: unknown };
    expect(doc.workers).toEqual([
      { id: 7, horizon: expect.any(Number), holder: expect.stringMatching(/^[0-9a-f]{16}$/) },
    ]);

    // Into another store, the embedded one: the way a move goes.
    const local = { REDIS_URL: '', DATA_DIR: join(dir, 'data') };
    const dry = await admin(['tag', 'import', file, '--dry-run'], local);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(/^would hold snowflake worker 7 for the exported store's node/m);
    const none = await admin(['worker', 'release-imported'], local);
    expect(none).toMatchObject({ code: 0, stdout: 'no imported worker holds\n' });

    const imported = await admin(['tag', 'import', file, '--worker-hold', '2h'], local);
    expect(imported).toMatchObject({ code: 0, stderr: '' });
    expect(imported.stdout).toMatch(
      /^held snowflake worker 7 for the exported store's node for 7200 s \(no claim here starts below \S+\); once that store's nodes are stopped: idalloc-admin worker release-imported$/m,
    );
    const again = await admin(['tag', 'import', file, '--json'], local);
    expect(JSON.parse(again.stdout)).toMatchObject({
      workers: [{ worker: 7, outcome: 'held' }],
    });

    const released = await admin(['worker', 'release-imported'], local);
    expect(released).toMatchObject({
      code: 0,
      stderr: '',
      stdout: 'released the imported hold of snowflake worker 7\n',
    });
    const after = await admin(['worker', 'release-imported', '--json'], local);
    expect(JSON.parse(after.stdout)).toEqual({ released: [], damaged: [] });
  });

  it('reports a worker ID a node of the importing store holds as a conflict, and exits 1', async () => {
    const handle = store.openWorkerLeases(() => {});
    const now = Date.now();
    const claim = { leaseMs: 30_000, now, aheadMs: 1000, marginMs: 3000, maxWaitMs: 10 ** 9 };
    expect((await handle.leases.claim(3, { ...claim, token: 'new-node' })).kind).toBe('claimed');
    await handle.close();
    const file = join(dir, 'tags.json');
    // The exported holder may have used timestamps past this holder's first one.
    const workers = [{ id: 3, horizon: now + 60_000, holder: '0123456789abcdef' }];
    writeFileSync(file, JSON.stringify(exportDoc({ workers })));
    const r = await run('tag', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^idalloc-admin: conflict: snowflake worker 3 is held by a node of this store, but a node of the exported store held it at the export/,
    );
  });
});

describe('idalloc-admin: the snowflake layout in export and import', () => {
  const L1 = 'epoch=2024-01-01T00:00:00.000Z bits=41/10/12';
  const L2 = 'epoch=2025-01-01T00:00:00.000Z bits=41/10/12';

  it('exports the recorded layout and restores it to a store that lost it', async () => {
    await store.recordSnowflakeLayout(L1);
    const file = join(dir, 'tags.json');
    expect(await run('tag', 'export', '--out', file)).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { snowflakeLayout?: string };
    expect(doc.snowflakeLayout).toBe(L1);

    // The store loses its keys (restarted empty): the import writes the record back.
    const lost = { ...env, KEY_PREFIX: testPrefix() };
    const dry = await admin(['tag', 'import', file, '--dry-run'], lost);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(
      /^would record the snowflake layout epoch=2024-01-01T00:00:00\.000Z bits=41\/10\/12$/m,
    );
    const restored = testStore(env.REDIS_URL!, lost.KEY_PREFIX);
    try {
      expect(await restored.readSnowflakeLayout()).toBeUndefined();
      const imported = await admin(['tag', 'import', file], lost);
      expect(imported).toMatchObject({ code: 0, stderr: '' });
      expect(imported.stdout).toMatch(
        /^recorded the snowflake layout epoch=2024-01-01T00:00:00\.000Z bits=41\/10\/12$/m,
      );
      expect(await restored.readSnowflakeLayout()).toBe(L1);
      // Again: the same layout, nothing to say.
      const again = await admin(['tag', 'import', file], lost);
      expect(again).toMatchObject({ code: 0, stderr: '' });
      expect(again.stdout).not.toMatch(/snowflake layout/);
    } finally {
      await restored.close();
    }
  });

  it('names both layouts and exits 1 when the store records another one', async () => {
    await store.recordSnowflakeLayout(L2);
    const file = join(dir, 'tags.json');
    writeFileSync(file, JSON.stringify(exportDoc({ snowflakeLayout: L1 })));
    const r = await run('tag', 'import', file);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(
      `idalloc-admin: warning: this store records the snowflake layout ${L2}, the export ${L1}: nodes with the export's layout are refused here, and nodes with the store's may re-mint IDs issued before the export; stop the nodes whose configuration is wrong, and keep the layout IDs were issued with\n`,
    );
    // The tags are imported all the same; the record is left as it is.
    expect(r.stdout).toMatch(/^created segment tag 'order'/m);
    expect(await store.readSnowflakeLayout()).toBe(L2);
    const asJson = await run('tag', 'import', file, '--json');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr.split('\n')[0]!)).toEqual({
      warning: { code: 'LAYOUT_CONFLICT', message: expect.any(String), recorded: L2, exported: L1 },
    });
  });

  it('refuses a malformed snowflakeLayout with exit 2 naming the value', async () => {
    const file = join(dir, 'tags.json');
    writeFileSync(file, JSON.stringify(exportDoc({ snowflakeLayout: 'epoch=yesterday' })));
    const r = await run('tag', 'import', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /snowflakeLayout "epoch=yesterday" is not allowed: expected a layout as tag export writes it/,
    );
    expect(r.stdout).toBe('');
    expect(await store.readSnowflakeLayout()).toBeUndefined();
  });
});
