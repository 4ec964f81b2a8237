/**
 * The admin script as a real process (`node --import tsx src/cli/admin.ts …`) against the
 * test Redis, each test on its own key prefix. Independent cases run a few processes at
 * a time: each costs about half a second.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis/store.js';
import { MAX_ID } from '../../src/core/tags.js';
import { runAdmin, type AdminRun as Run } from '../support/admin-process.js';
import { testPrefix } from '../support/prefix.js';
import { freePort } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const admin = (args: readonly string[], env: Record<string, string>) => runAdmin(args, env);

/** Runs `f` over `items`, at most `limit` at a time, keeping the order. */
async function pool<T, R>(items: readonly T[], f: (t: T) => Promise<R>, limit = 4): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await f(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

let prefix: string;
let store: RedisStore;
let env: Record<string, string>;
const run = (...args: string[]) => admin(args, env);
const parsed = (r: Run): Record<string, unknown> => {
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

beforeEach(() => {
  prefix = testPrefix();
  store = testStore(inject('redisUrl'), prefix);
  env = { REDIS_URL: inject('redisUrl'), KEY_PREFIX: prefix };
});
afterEach(() => store.close());

describe('idalloc-admin', () => {
  it('creates a tag the store then allocates from, and shows and lists it', async () => {
    const created = await run('tag', 'create', 'order', '--step', '500', '--start', '500');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toBe(
      "created segment tag 'order': next ID 500, step 500, max 9223372036854775807, gap 1000000000\n",
    );
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 500n, end: 999n });

    const snow = parsed(await run('tag', 'create', 'clock', '--mode', 'snowflake', '--json'));
    expect(snow).toEqual({
      created: {
        name: 'clock',
        mode: 'snowflake',
        description: '',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
      raisedByTombstone: false,
    });

    const [listJson, listText, showJson, showText] = await Promise.all([
      run('tag', 'list', '--json'),
      run('tag', 'list'),
      run('tag', 'show', 'order', '--json'),
      run('tag', 'show', 'order'),
    ]);
    const order = {
      name: 'order',
      mode: 'segment',
      description: '',
      createdAt: expect.any(String),
      next: '1000',
      step: 500,
      max: '9223372036854775807',
      gap: '1000000000',
      shape: { kind: 'plain' },
      regions: 1,
    };
    expect(parsed(listJson)).toEqual({ tags: [snow.created, order] });
    expect(listText.stdout.split('\n')).toEqual([
      expect.stringMatching(/^NAME +MODE +NEXT +STEP +MAX +GAP +SHAPE +DESCRIPTION$/),
      expect.stringMatching(/^clock +snowflake +- +- +- +- +-$/),
      expect.stringMatching(/^order +segment +1000 +500 +9223372036854775807 +1000000000 +plain$/),
      '',
    ]);
    // show adds the forecast; at any rate a 2^63 max outlasts what a date can show.
    expect(parsed(showJson)).toEqual({
      ...order,
      forecast: {
        idsLeft: '9223372036854774808',
        averageIdsPerSecond: expect.any(Number),
        lastsAtLeastUntil: null,
      },
    });
    expect(showText.stdout).toMatch(/^name +order\nmode +segment\nnext ID +1000\nstep +500\n/);
    expect(showText.stdout).toMatch(/\nIDs left +9223372036854774808 before max\n/);
    expect(showText.stdout).toMatch(/\nforecast +at the average rate since creation .*beyond/);
  });

  it('shows how long a tag lasts at its average rate since creation', async () => {
    await store.createTag(segmentTag('order', { start: 1n, max: 1_000_000n, step: 100 }));
    // 10 000 IDs used; created_at set back one hour: 10 000 IDs/h, 990 000 left ≈ 99 h.
    await store.allocate('order', 10_000, true);
    const hourAgo = Date.now() - 3_600_000;
    const raw = new Redis(inject('redisUrl'));
    try {
      await raw.hset(store.keys.tag('order'), 'created_at', String(hourAgo));
    } finally {
      raw.disconnect();
    }
    const shown = parsed(await run('tag', 'show', 'order', '--json'));
    const f = shown.forecast as {
      idsLeft: string;
      averageIdsPerSecond: number;
      lastsAtLeastUntil: string;
    };
    expect(f.idsLeft).toBe('990000');
    expect(f.averageIdsPerSecond).toBeCloseTo(10_000 / 3600, 1);
    const hours = (Date.parse(f.lastsAtLeastUntil) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(97);
    expect(hours).toBeLessThan(100);
    const text = await run('tag', 'show', 'order');
    expect(text.stdout).toMatch(/\nIDs left +990000 before max\n/);
    expect(text.stdout).toMatch(/lasts at least until \d{4}-/);
  });

  it('updates, bumps and deletes a tag, and a tag created again starts above the old one', async () => {
    await store.createTag(segmentTag('order'));
    await store.allocate('order', 1000, false);

    const updated = parsed(
      await run(
        'tag',
        'update',
        'order',
        '--step',
        '2000',
        '--max',
        '5000000',
        '--gap',
        '10',
        '--description',
        'Orders, v2',
        '--json',
      ),
    );
    expect(updated.updated).toMatchObject({
      step: 2000,
      max: '5000000',
      gap: '10',
      description: 'Orders, v2',
      next: '1001',
    });

    expect(await run('tag', 'bump', 'order', '--by', '999')).toMatchObject({
      code: 0,
      stdout: "bumped tag 'order': next ID 1001 -> 2000\n",
    });
    expect(parsed(await run('tag', 'bump', 'order', '--to', '7000', '--json'))).toEqual({
      tag: 'order',
      previous: '2000',
      next: '7000',
      clamped: false,
    });
    expect(await store.allocate('order', 1, false)).toMatchObject({ start: 7000n, step: 2000 });
    expect((await run('tag', 'bump', 'order', '--to', '9000000')).stdout).toBe(
      "bumped tag 'order': next ID 7001 -> 5000001 (stopped at max + 1: the tag is now exhausted; raise its --max to issue more)\n",
    );

    expect(parsed(await run('tag', 'delete', 'order', '--yes', '--json'))).toEqual({
      deleted: 'order',
    });
    expect(await store.getTag('order')).toBeUndefined();
    const again = await run('tag', 'create', 'order', '--start', '1');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("created segment tag 'order': next ID 5000001");
    expect(again.stdout).toContain(
      "note: a deleted tag named 'order' had issued IDs up to 5000000; the new tag starts at 5000001 instead of 1",
    );
  });

  it('bumps every segment tag with bump --all, skipping snowflake tags and saying so', async () => {
    await store.createTag(segmentTag('a', { start: 10n }));
    await store.createTag(segmentTag('b', { start: 20n }));
    await store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });

    const text = await run('tag', 'bump', '--all', '--by', '1000');
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toBe(
      "bumped tag 'a': next ID 10 -> 1010\n" +
        "bumped tag 'b': next ID 20 -> 1020\n" +
        "skipped tag 'clock': a snowflake tag has no counter to bump\n",
    );
    expect(parsed(await run('tag', 'bump', '--all', '--by', '5', '--json'))).toEqual({
      results: [
        { tag: 'a', previous: '1010', next: '1015', clamped: false },
        { tag: 'b', previous: '1020', next: '1025', clamped: false },
        { tag: 'clock', skipped: 'snowflake' },
      ],
    });
    expect(await store.allocate('b', 1, false)).toMatchObject({ start: 1025n });
  });

  it('refuses what the store refuses with exit 1 and a message saying what and why', async () => {
    await store.createTag(segmentTag('order'));
    await store.allocate('order', 100, false);
    await store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
    await store.createTag(segmentTag('old'));
    await store.allocate('old', 500, false);
    await store.deleteTag('old');

    const cases: [string[], RegExp][] = [
      [['tag', 'create', 'order'], /^idalloc-admin: tag 'order' already exists\n$/],
      [['tag', 'show', 'ordr'], /tag 'ordr' does not exist/],
      [['tag', 'update', 'ordr', '--step', '5'], /tag 'ordr' does not exist/],
      [['tag', 'bump', 'ordr', '--by', '5'], /tag 'ordr' does not exist/],
      [['tag', 'delete', 'ordr', '--yes'], /tag 'ordr' does not exist/],
      [['tag', 'bump', 'order', '--to', '50'], /bump would lower tag 'order': its next ID is 101/],
      [
        ['tag', 'update', 'order', '--max', '99'],
        /max 99 .* below IDs already issued \(next ID is 101\)/,
      ],
      [['tag', 'update', 'clock', '--step', '5'], /'clock' is a snowflake-mode tag.*no counter/],
      [['tag', 'bump', 'clock', '--by', '5'], /'clock' is a snowflake-mode tag/],
      [['tag', 'create', 'old', '--max', '400'], /max 400 .* 501, left by a deleted tag/],
    ];
    const runs = await pool(cases, ([args]) => admin(args, env));
    runs.forEach((r, i) => {
      expect(r, cases[i]![0].join(' ')).toMatchObject({ code: 1, stdout: '' });
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).not.toContain('Usage');
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
    });
    expect(await store.getTag('order')).toMatchObject({ next: 101n, step: 1000 });

    const asJson = await run('tag', 'show', 'ordr', '--json');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr)).toEqual({
      error: { code: 'TAG_NOT_FOUND', message: "tag 'ordr' does not exist" },
    });
  });

  it('answers a usage error with exit 2, the reason and the synopsis, before touching the store', async () => {
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [['tags', 'list'], /unknown command 'tags': expected 'tag'/],
      [['tag', 'rename', 'x'], /unknown command 'tag rename'/],
      [['tag', 'list', '--bogus'], /unknown option '--bogus'/],
      [['tag', 'create', 'x', '--step'], /--step/],
      [['tag', 'create', 'x', '--step', '1e3'], /--step '1e3' is not allowed: expected an integer/],
      [['tag', 'create', 'x', '--start', '-5'], /--start is followed by a value starting with '-'/],
      [['tag', 'create', 'x', '--start=-5'], /--start '-5' is not allowed/],
      [['tag', 'create', 'bad name'], /tag name 'bad name' is not allowed/],
      [
        ['tag', 'create', 'x', '--step', '0'],
        /--step '0' is not allowed: expected an integer from 1/,
      ],
      [['tag', 'create', 'x', '--start', '10', '--max', '10'], /max 10 .* must be above start 10/],
      [['tag', 'create', 'x', '--max', String(MAX_ID + 1n)], /--max '9223372036854775808'/],
      [
        ['tag', 'create', 'x', '--gap', String(2 ** 52 + 1)],
        /--gap '4503599627370497'.* to 4503599627370496/,
      ],
      [['tag', 'create', 'x', '--step', String(2 ** 52 + 1)], /--step '4503599627370497'/],
      [
        ['tag', 'create', 'x', '--mode', 'snowflake', '--step', '5'],
        /snowflake tag takes no --step/,
      ],
      [['tag', 'create', 'x', '--mode', 'clock'], /--mode 'clock' is not allowed/],
      [['tag', 'show'], /'tag show' needs a tag name/],
      [['tag', 'list', '--yes'], /'tag list' does not take --yes/],
      [['tag', 'update', 'x'], /needs at least one of --step, --max, --gap, --description/],
      [['tag', 'bump', 'x'], /needs exactly one of --to N or --by N/],
      [['tag', 'bump', 'x', '--to', '5', '--by', '5'], /needs exactly one of --to N or --by N/],
      [['tag', 'bump', 'x', '--by', '0'], /--by '0' is not allowed/],
      [['tag', 'bump', '--all', '--to', '5'], /'tag bump --all' takes --by N, not --to/],
      [['tag', 'bump', 'x', '--all', '--by', '5'], /'tag bump --all' takes no tag name/],
      [['tag', 'delete', 'x'], /refusing to delete tag 'x' without --yes/],
    ];
    // An unreachable store: a usage error must not even try it.
    const offline = { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const runs = await pool(cases, ([args]) => admin(args, offline));
    runs.forEach((r, i) => {
      expect(r, cases[i]![0].join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).toContain('Usage: idalloc-admin tag <command>');
    });
    expect(await store.listTags()).toEqual([]);
  });

  it('prints the usage for --help with exit 0', async () => {
    const r = await run('--help');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('tag bump --all --by N');
    expect(r.stdout).toContain('Exit codes: 0 done, 1 refused or failed, 2 usage error.');
  });

  it('prints the package version for --version and -v, as idalloc --version does; --help names it', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    // No store is needed, nor reached: an unreachable one answers as well.
    const offline = { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const [long, short, help] = await Promise.all([
      admin(['--version'], offline),
      admin(['-v'], offline),
      run('--help'),
    ]);
    expect(long).toMatchObject({ code: 0, stdout: `idalloc-admin ${pkg.version}\n`, stderr: '' });
    expect(short).toMatchObject({ code: 0, stdout: `idalloc-admin ${pkg.version}\n`, stderr: '' });
    expect(help.stdout).toContain('idalloc-admin --version (or -v) prints the package version');
  });

  it('fails with exit 1 within seconds when the store cannot be reached or opened', async () => {
    const port = await freePort();
    const file = join(mkdtempSync(join(tmpdir(), 'idalloc-cli-')), 'plain-file');
    writeFileSync(file, 'not a directory');
    const notADir = join(file, 'data');
    const [down, unset, invalid] = await Promise.all([
      admin(['tag', 'list'], {
        REDIS_URL: `redis://:secret@127.0.0.1:${port}`,
        KEY_PREFIX: prefix,
      }),
      // No Redis setting: the embedded store, here under a DATA_DIR that cannot exist.
      admin(['tag', 'list'], { REDIS_URL: '', KEY_PREFIX: prefix, DATA_DIR: notADir }),
      admin(['tag', 'list'], { ...env, KEY_PREFIX: 'bad prefix' }),
    ]);
    expect(down).toMatchObject({ code: 1, stdout: '' });
    expect(down.stderr).toBe(
      `idalloc-admin: cannot reach the store at redis://:***@127.0.0.1:${port} : connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(down.ms).toBeLessThan(8000);
    expect(unset).toMatchObject({ code: 1, stdout: '' });
    expect(unset.stderr).toMatch(/DATA_DIR/);
    expect(invalid).toMatchObject({ code: 1, stdout: '' });
    expect(invalid.stderr).toMatch(/invalid configuration: KEY_PREFIX="bad prefix"/);
  });
});
