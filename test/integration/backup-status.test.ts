/**
 * `idalloc-admin tag export --out FILE --status-file STATUS.prom` as a real process
 * against a Redis of its own (stopped to make a backup fail): the status file records
 * success and failure for Prometheus (docs/monitoring.md), is replaced by a rename (a
 * scrape never reads half of it), keeps the last success through failures, and a failed
 * export leaves the last good export as it was.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../support/admin-process.js';
import { RedisServer } from '../support/redis-server.js';

const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

const admin = (args: readonly string[], env: Record<string, string>) => runAdmin(args, env, 30_000);

/** The unlabelled series of a text-format file, by name. */
function series(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(idalloc_\w+) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

let redis: RedisServer;
let dir: string;
let env: Record<string, string>;
const exportFile = () => join(dir, 'tags.json');
const statusFile = () => join(dir, 'idalloc-backup.prom');
const backup = (out = exportFile()) =>
  admin(['tag', 'export', '--out', out, '--status-file', statusFile()], env);

beforeAll(async () => {
  // AOF: the data outlives the stop that makes a backup fail.
  redis = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  dir = mkdtempSync(join(tmpdir(), 'idalloc-backup-status-'));
  env = { REDIS_URL: redis.url, KEY_PREFIX: 'backup-status:' };
});
afterAll(async () => {
  await redis.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// Up to three admin processes a test: room for a loaded 2-core machine.
describe('tag export --status-file', { timeout: 90_000 }, () => {
  // One sequence: success, failures after it, success again (each step needs the last).
  let success: Record<string, number>;
  let goodExport: string;

  it('records a success: attempt = success time, ok 1, the tags exported', async () => {
    for (const name of ['order', 'invoice']) {
      expect((await admin(['tag', 'create', name], env)).code).toBe(0);
    }
    const before = Date.now() / 1000;
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(statusFile(), 'utf8');
    success = series(text);
    expect(success.idalloc_backup_last_ok).toBe(1);
    expect(success.idalloc_backup_tags).toBe(2);
    expect(success.idalloc_backup_last_success_timestamp_seconds).toBe(
      success.idalloc_backup_last_attempt_timestamp_seconds,
    );
    expect(success.idalloc_backup_last_attempt_timestamp_seconds).toBeGreaterThanOrEqual(
      Math.floor(before),
    );
    goodExport = readFileSync(exportFile(), 'utf8');
    expect(goodExport).toContain('"invoice"');
  });

  it.skipIf(!hasPromtool && process.env.CI !== 'true')(
    'is a text-format file promtool accepts (required in CI)',
    () => {
      expect(hasPromtool, 'promtool is missing: install the Debian package prometheus').toBe(true);
      const r = spawnSync('promtool', ['check', 'metrics'], {
        input: readFileSync(statusFile(), 'utf8'),
        encoding: 'utf8',
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );

  it('records an unwritable --out as a failure, keeping the last success', async () => {
    const r = await backup(join(dir, 'no-such-dir', 'tags.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot write the export');
    const failed = series(readFileSync(statusFile(), 'utf8'));
    expect(failed.idalloc_backup_last_ok).toBe(0);
    expect(failed.idalloc_backup_last_success_timestamp_seconds).toBe(
      success.idalloc_backup_last_success_timestamp_seconds,
    );
    expect(failed.idalloc_backup_tags).toBe(2);
    expect(failed.idalloc_backup_last_attempt_timestamp_seconds).toBeGreaterThanOrEqual(
      success.idalloc_backup_last_attempt_timestamp_seconds!,
    );
  });

  it('records a store that cannot be reached as a failure; the last good export is untouched', async () => {
    const inode = statSync(statusFile()).ino;
    await redis.stop();
    try {
      const r = await backup();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('cannot reach the store');
    } finally {
      await redis.start();
    }
    const failed = series(readFileSync(statusFile(), 'utf8'));
    expect(failed.idalloc_backup_last_ok).toBe(0);
    expect(failed.idalloc_backup_last_success_timestamp_seconds).toBe(
      success.idalloc_backup_last_success_timestamp_seconds,
    );
    expect(readFileSync(exportFile(), 'utf8')).toBe(goodExport);
    // Replaced by a rename, not rewritten in place: a scrape reads the old file or the new.
    expect(statSync(statusFile()).ino).not.toBe(inode);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('records the next success again', async () => {
    expect((await admin(['tag', 'create', 'user'], env)).code).toBe(0);
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const again = series(readFileSync(statusFile(), 'utf8'));
    expect(again.idalloc_backup_last_ok).toBe(1);
    expect(again.idalloc_backup_tags).toBe(3);
    expect(again.idalloc_backup_last_success_timestamp_seconds).toBeGreaterThanOrEqual(
      success.idalloc_backup_last_success_timestamp_seconds!,
    );
  });

  it('without a success before, a failure records no success series (absent() alerts on it)', async () => {
    const first = join(dir, 'first.prom');
    const r = await admin(
      ['tag', 'export', '--out', join(dir, 'nowhere', 'x.json'), '--status-file', first],
      env,
    );
    expect(r.code).toBe(1);
    const s = series(readFileSync(first, 'utf8'));
    expect(s).toEqual({
      idalloc_backup_last_attempt_timestamp_seconds: expect.any(Number) as number,
      idalloc_backup_last_ok: 0,
    });
  });

  it('is refused without --out (usage error, exit 2)', async () => {
    const r = await admin(['tag', 'export', '--status-file', statusFile()], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--status-file goes with --out FILE');
  });
});
