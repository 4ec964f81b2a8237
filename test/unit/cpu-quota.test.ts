/**
 * `WORKERS=auto` and the cgroup CPU quota (config/cpu-quota.ts), against fake cgroup trees
 * in a temporary directory: v2 and v1, no limit, a fractional quota, a parent's limit,
 * a container's bind-mounted cgroup, no mountinfo, and files that cannot be read.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { autoWorkers, cgroupCpuLimit } from '../../src/config/cpu-quota.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A fake filesystem root holding `files` (path → text). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'idalloc-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const V2_MOUNT = '30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';
const V1_MOUNTS = [
  '30 22 0:27 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
  '32 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  '',
].join('\n');

/** cgroup v2, the process in /app.slice/svc. */
const v2 = (cpuMax: string, parent = 'max 100000') =>
  tree({
    '/proc/self/cgroup': '0::/app.slice/svc\n',
    '/proc/self/mountinfo': V2_MOUNT,
    '/sys/fs/cgroup/cpu.max': 'max 100000\n',
    '/sys/fs/cgroup/app.slice/cpu.max': `${parent}\n`,
    '/sys/fs/cgroup/app.slice/svc/cpu.max': `${cpuMax}\n`,
  });

/** cgroup v1, the process in /docker/abc. */
const v1 = (quota: string, period = '100000') =>
  tree({
    '/proc/self/cgroup': '5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n',
    '/proc/self/mountinfo': V1_MOUNTS,
    '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
    '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': `${quota}\n`,
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': `${period}\n`,
  });

describe('cgroup v2 (cpu.max)', () => {
  it('caps the workers at the quota, rounded up, at least 1', () => {
    expect(cgroupCpuLimit(v2('200000 100000'))).toBe(2);
    expect(autoWorkers(8, v2('200000 100000'))).toBe(2);
    expect(autoWorkers(8, v2('150000 100000'))).toBe(2); // 1.5 CPUs: two workers use them
    expect(autoWorkers(8, v2('50000 100000'))).toBe(1);
    expect(autoWorkers(8, v2('1000 100000'))).toBe(1);
  });

  it('keeps the available parallelism when the quota is above it or there is none', () => {
    expect(autoWorkers(4, v2('1600000 100000'))).toBe(4);
    expect(cgroupCpuLimit(v2('max 100000'))).toBeUndefined();
    expect(autoWorkers(4, v2('max 100000'))).toBe(4);
  });

  it("takes a parent's smaller limit: it binds the children too", () => {
    expect(cgroupCpuLimit(v2('max 100000', '300000 100000'))).toBe(3);
    expect(cgroupCpuLimit(v2('100000 100000', '300000 100000'))).toBe(1);
  });

  it('with a cgroup namespace (0::/), reads the mount point itself', () => {
    const root = tree({
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': V2_MOUNT,
      '/sys/fs/cgroup/cpu.max': '250000 100000\n',
    });
    expect(cgroupCpuLimit(root)).toBe(2.5);
    expect(autoWorkers(16, root)).toBe(3);
  });

  it('finds /sys/fs/cgroup without mountinfo', () => {
    const root = tree({
      '/proc/self/cgroup': '0::/svc\n',
      '/sys/fs/cgroup/cgroup.controllers': 'cpu memory pids\n',
      '/sys/fs/cgroup/svc/cpu.max': '200000 100000\n',
    });
    expect(autoWorkers(8, root)).toBe(2);
  });

  it('ignores a malformed cpu.max', () => {
    expect(autoWorkers(8, v2('lots 100000'))).toBe(8);
    expect(autoWorkers(8, v2('200000 0'))).toBe(8);
  });
});

describe('cgroup v1 (cpu.cfs_quota_us / cpu.cfs_period_us)', () => {
  it('caps the workers at the quota, rounded up', () => {
    expect(cgroupCpuLimit(v1('300000'))).toBe(3);
    expect(autoWorkers(8, v1('300000'))).toBe(3);
    expect(autoWorkers(8, v1('25000', '100000'))).toBe(1);
    expect(autoWorkers(8, v1('75000', '50000'))).toBe(2); // 1.5 CPUs
  });

  it('-1 is no limit', () => {
    expect(cgroupCpuLimit(v1('-1'))).toBeUndefined();
    expect(autoWorkers(6, v1('-1'))).toBe(6);
  });

  it("a container's mount showing its own cgroup at the mount point (mount root /docker/abc)", () => {
    const root = tree({
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n',
      '/proc/self/mountinfo':
        '31 30 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(autoWorkers(8, root)).toBe(2);
  });

  it('finds /sys/fs/cgroup/cpu without mountinfo', () => {
    const root = tree({
      '/proc/self/cgroup': '3:cpu:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    expect(autoWorkers(8, root)).toBe(1);
  });

  it('on a hybrid host (v1 cpu, v2 unified without cpu.max) the v1 limit holds', () => {
    const root = tree({
      '/proc/self/cgroup': '2:cpu,cpuacct:/svc\n0::/svc\n',
      '/proc/self/mountinfo':
        V1_MOUNTS + '40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n',
      '/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us': '200000\n',
      '/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_period_us': '100000\n',
    });
    expect(autoWorkers(8, root)).toBe(2);
  });
});

describe('falls back to the available parallelism', () => {
  it('without /proc/self/cgroup (not Linux, or no /proc)', () => {
    expect(cgroupCpuLimit(tree({}))).toBeUndefined();
    expect(autoWorkers(5, tree({}))).toBe(5);
  });

  it('when the cgroup files cannot be read', () => {
    const root = v2('100000 100000');
    chmodSync(join(root, '/sys/fs/cgroup/app.slice/svc/cpu.max'), 0o000);
    // root reads anything: there the quota still counts.
    const expected = process.getuid?.() === 0 ? 1 : 4;
    expect(autoWorkers(4, root)).toBe(expected);
  });

  it('when a controller is not mounted at all', () => {
    const root = tree({ '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n' });
    expect(autoWorkers(3, root)).toBe(3);
  });

  it('and never goes below one worker', () => {
    expect(autoWorkers(1, v2('max 100000'))).toBe(1);
    expect(autoWorkers(0, tree({}))).toBe(1);
  });
});
