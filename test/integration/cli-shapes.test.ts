/**
 * The admin script's shapes and regions, as a process (docs/admin.md): `tag create`
 * with each shape, `tag show` (text and --json, the key included: the admin script is
 * where it is shown), `tag update` before and after the first ID, `tag decode`, and an
 * export imported into another store keeping shape, key and region count.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { counterLimit, Shaper, type TagShape } from '../../src/core/shape.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { RedisStore } from '../../src/store/redis/store.js';
import { runAdmin, type AdminRun } from '../support/admin-process.js';
import { testPrefix } from '../support/prefix.js';

const KEY = '00112233445566778899aabbccddeeff';

let prefix: string;
let env: Record<string, string>;
const stores: RedisStore[] = [];
const run = (...args: string[]) => runAdmin(args, env);
const parsed = (r: AdminRun): Record<string, unknown> => {
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(r.stdout) as Record<string, unknown>;
};
/** A node's store of `regions` regions on this test's prefix. */
function node(regions: number, keyPrefix = prefix): RedisStore {
  const topology = { kind: 'redis' as const, url: inject('redisUrl') };
  const s = new RedisStore({
    client: createRedisClient(topology, 'general'),
    allocClient: createRedisClient(topology, 'allocation'),
    keyPrefix,
    regions,
  });
  stores.push(s);
  return s;
}

beforeEach(() => {
  prefix = testPrefix();
  env = { REDIS_URL: inject('redisUrl'), KEY_PREFIX: prefix };
});
afterEach(async () => {
  await Promise.allSettled(stores.splice(0).map((s) => s.close()));
});

describe('idalloc-admin: shapes and regions', () => {
  it('creates a tag of each shape; show prints shape, prefix, width, regions and the key', async () => {
    const permute = parsed(
      await run(
        'tag',
        'create',
        'k',
        '--shape',
        'permute',
        '--width',
        '40',
        '--regions',
        '2',
        '--json',
      ),
    );
    const created = permute.created as { shape: TagShape; regions: number; max: string };
    expect(created.shape).toMatchObject({
      kind: 'permute',
      width: 40,
      key: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(created.regions).toBe(2);
    // No --max: the largest the shape and region count allow.
    expect(created.max).toBe(counterLimit(created.shape, 2).toString());

    const shown = parsed(await run('tag', 'show', 'k', '--json'));
    expect(shown).toMatchObject({ shape: created.shape, regions: 2 });
    const text = await run('tag', 'show', 'k');
    expect(text.stdout).toMatch(/^shape {8}permute$/m);
    expect(text.stdout).toMatch(/^width {8}40 \(IDs below 2\^40\)$/m);
    expect(text.stdout).toContain(`key          ${created.shape.key} (secret`);
    expect(text.stdout).toMatch(/^regions {6}2$/m);
    expect(text.stdout).toMatch(/^shape is {5}may change \(no ID issued yet\)$/m);

    const b = await run('tag', 'create', 'b', '--shape', 'bitreverse', '--prefix', 'ord');
    expect(b).toMatchObject({ code: 0, stderr: '' });
    expect(b.stdout).toContain('shape bitreverse prefix ord, regions 1');
    expect(parsed(await run('tag', 'show', 'b', '--json'))).toMatchObject({
      shape: { kind: 'bitreverse', prefix: 'ord' },
      regions: 1,
    });
    // A plain tag shows plain, one region.
    await run('tag', 'create', 'p');
    expect(parsed(await run('tag', 'show', 'p', '--json'))).toMatchObject({
      shape: { kind: 'plain' },
      regions: 1,
    });
    // The list has a SHAPE column, without the key.
    const list = (await run('tag', 'list')).stdout;
    expect(list).toMatch(/^b +segment +.* +bitreverse,prefix=ord$/m);
    expect(list).toMatch(/^k +segment +.* +permute\(40\),regions=2$/m);
    expect(list).toMatch(/^p +segment +.* +plain$/m);
    expect(list).not.toContain(created.shape.key!);
  });

  it('refuses bad shape flags as usage errors, naming the value', async () => {
    const cases: [string[], RegExp][] = [
      [['--shape', 'rot13'], /--shape 'rot13' is not allowed: expected plain, bitreverse, permute/],
      [['--width', '40'], /--width and --key are only for --shape permute, not plain/],
      [
        ['--shape', 'permute', '--width', '15'],
        /--width '15' is not allowed: expected an integer from 16 to 63/,
      ],
      [
        ['--shape', 'permute', '--key', 'abc'],
        /the permute key is not allowed: expected 32 lower-case hex digits/,
      ],
      [['--prefix', 'Ord'], /prefix 'Ord' is not allowed/],
      [['--regions', '0'], /--regions '0' is not allowed: expected an integer from 1 to 1024/],
      [['--mode', 'snowflake', '--shape', 'bitreverse'], /not allowed for a snowflake tag/],
    ];
    for (const [flags, message] of cases) {
      const r = await run('tag', 'create', 'x', ...flags);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await node(1).getTag('x')).toBeUndefined();
  });

  it('updates the shape before the first ID, refuses it after naming why; decode gives counter and region', async () => {
    expect(
      await run(
        'tag',
        'create',
        'order',
        '--shape',
        'permute',
        '--key',
        KEY,
        '--regions',
        '2',
        '--max',
        '1000000',
      ),
    ).toMatchObject({ code: 0 });
    // Before the first ID: --prefix alone keeps the permute width and key.
    const updated = parsed(await run('tag', 'update', 'order', '--prefix', 'ord', '--json'));
    expect(updated.updated).toMatchObject({
      shape: { kind: 'permute', width: 63, key: KEY, prefix: 'ord' },
    });

    const region1 = node(2);
    const grant = await region1.allocate('order', 3, false);
    expect(grant).toMatchObject({
      start: 1n,
      end: 3n,
      regions: 2,
      shape: { kind: 'permute', key: KEY },
    });

    const refused = await run('tag', 'update', 'order', '--shape', 'bitreverse', '--max', '1000');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "idalloc-admin: tag 'order' has issued IDs (next 4 is past its first 1): its shape and region count are fixed, since another would map new counter values onto IDs already issued\n",
    );

    // IDs as region 1 of 2 serves them: each decodes to its counter value and region.
    const shaper = new Shaper(grant.shape!, 2, 1);
    const ids = [1n, 2n, 3n].map((c) => shaper.format(c));
    const decoded = await run('tag', 'decode', 'order', ...ids);
    expect(decoded).toMatchObject({ code: 0, stderr: '' });
    expect(decoded.stdout).toBe(
      ids.map((id, k) => `${id}  counter ${k + 1}  region 1 of 2\n`).join(''),
    );
    const asJson = parsed(await run('tag', 'decode', 'order', ids[0]!, '--json'));
    expect(asJson).toEqual({
      tag: 'order',
      regions: 2,
      ids: [{ id: ids[0], counter: '1', region: 1 }],
    });
    const bad = await run('tag', 'decode', 'order', '12345');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ID '12345' is not an ID of this tag: expected ord_ and 13 of/);
  });

  it("export then import into another region's store keeps shape, key and region count", async () => {
    await run(
      'tag',
      'create',
      'order',
      '--shape',
      'permute',
      '--key',
      KEY,
      '--width',
      '48',
      '--regions',
      '2',
    );
    await node(2).allocate('order', 10, false);
    const file = join(mkdtempSync(join(tmpdir(), 'idalloc-shape-export-')), 'tags.json');
    expect(await run('tag', 'export', '--out', file)).toMatchObject({ code: 0 });

    const otherPrefix = testPrefix();
    env = { ...env, KEY_PREFIX: otherPrefix };
    const imported = await run('tag', 'import', file, '--gap', '0');
    expect(imported).toMatchObject({ code: 0 });
    expect(parsed(await run('tag', 'show', 'order', '--json'))).toMatchObject({
      shape: { kind: 'permute', width: 48, key: KEY },
      regions: 2,
      next: '11',
    });
    // Importing it where the tag has another key: a conflict, named, exit 1.
    const third = testPrefix();
    env = { ...env, KEY_PREFIX: third };
    await run('tag', 'create', 'order', '--shape', 'permute', '--width', '48', '--regions', '2');
    const conflict = await run('tag', 'import', file);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(
      "conflict: 'order' has another shape or region count here than the permute shape of width 48 over 2 region(s) in the export",
    );
    expect(conflict.stderr).not.toContain(KEY);
  });
});
