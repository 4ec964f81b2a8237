/**
 * The admin script as a process (docs/admin.md `tag delete`, `tag create`): a tag that
 * issued IDs is deleted, and created again under its name with another shape — refused
 * (exit 1) naming the deleted tag's shape, never its key; the same shape is allowed and
 * starts above the floor. `tag export` writes the tombstone's shape with its key, and
 * `tag import` of that file into another store keeps the guard.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { runAdmin } from '../support/admin-process.js';
import { testPrefix } from '../support/prefix.js';

let dir: string;
const envOf = (prefix: string) => ({ REDIS_URL: inject('redisUrl'), KEY_PREFIX: prefix });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idalloc-cli-tomb-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('idalloc-admin: a tag created again over its tombstone', () => {
  it('refuses another shape after tag delete, naming the old one without the key', async () => {
    const env = envOf(testPrefix());
    const run = (...args: string[]) => runAdmin(args, env);
    expect((await run('tag', 'create', 'order', '--shape', 'permute', '--width', '40')).code).toBe(
      0,
    );
    const shown = JSON.parse((await run('tag', 'show', 'order', '--json')).stdout) as {
      shape: { key: string };
    };
    const key = shown.shape.key;
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect((await run('tag', 'bump', 'order', '--to', '500')).code).toBe(0);
    const deleted = await run('tag', 'delete', 'order', '--yes');
    expect(deleted.stdout).toContain(
      'its tombstone keeps next ID 500 and its shape (permute, width 40, 1 region(s))',
    );
    expect(deleted.stdout).not.toContain(key);

    const refused = await run('tag', 'create', 'order', '--shape', 'bitreverse');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "tag 'order' was deleted after issuing IDs as permute (width 40), 1 region(s)",
    );
    expect(refused.stderr).toContain('create it with --shape permute --width 40 --regions 1');
    expect(refused.stderr).toContain('passed with --key');
    expect(refused.stderr).not.toContain(key);
    expect((await run('tag', 'show', 'order')).code).not.toBe(0);

    // Another key: refused too; the same key starts above the floor.
    const otherKey = await run('tag', 'create', 'order', '--shape', 'permute', '--width', '40');
    expect(otherKey.code).toBe(1);
    const again = await run(
      'tag',
      'create',
      'order',
      '--shape',
      'permute',
      '--width',
      '40',
      '--key',
      key,
      '--json',
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      created: { next: '500' },
      raisedByTombstone: true,
    });
  });

  it('exports the tombstone with its shape and key; imported elsewhere the guard holds', async () => {
    const env = envOf(testPrefix());
    const run = (...args: string[]) => runAdmin(args, env);
    await run('tag', 'create', 'order', '--shape', 'bitreverse', '--regions', '2');
    await run('tag', 'bump', 'order', '--to', '77');
    await run('tag', 'delete', 'order', '--yes');
    const file = join(dir, 'tags.json');
    expect((await run('tag', 'export', '--out', file)).code).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { tombstones: unknown[] };
    expect(doc.tombstones).toEqual([
      expect.objectContaining({ name: 'order', shape: { kind: 'bitreverse' }, regions: 2 }),
    ]);

    const elsewhere = envOf(testPrefix());
    const there = (...args: string[]) => runAdmin(args, elsewhere);
    expect((await there('tag', 'import', file)).code).toBe(0);
    const refused = await there('tag', 'create', 'order');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('as bitreverse, 2 region(s)');
  });
});
