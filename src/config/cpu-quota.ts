/**
 * `WORKERS=auto`: how many worker processes the CPU this process may use can keep busy.
 * `os.availableParallelism()` counts the cores the process may run on, not the CPU time
 * its container may use: a container limited to 2 CPUs on a 32-core host would start 32
 * workers that the kernel then throttles. So the cgroup's CPU quota caps the count:
 *
 * - cgroup v2: `cpu.max` ("max 100000" = no limit, "200000 100000" = 2 CPUs);
 * - cgroup v1: `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1 = no limit).
 *
 * The process's cgroup is read from `/proc/self/cgroup`, its mount point from
 * `/proc/self/mountinfo` (or `/sys/fs/cgroup` when that cannot be read), and the limit
 * is the smallest of the cgroup and its ancestors up to the mount (a parent's limit
 * binds its children too). Anything unreadable or unexpected means "no known limit": the
 * count falls back to the available parallelism, never to an error at start.
 *
 * Every path is taken under `root`, so the tests hand it fake cgroup trees.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

/**
 * The workers `WORKERS=auto` runs: the available parallelism, capped by the cgroup's CPU
 * quota rounded up, and at least 1. Rounded up, not down: a node worker is one
 * JavaScript thread, so 1.5 CPUs need two workers to be used at all; rounding down would
 * leave up to a whole CPU of the quota idle, a price paid on every request, where
 * rounding up costs some throttling only while every worker is busy at once.
 */
export function autoWorkers(available: number, root = '/'): number {
  const limit = cgroupCpuLimit(root);
  const cap = limit === undefined ? available : Math.min(available, Math.ceil(limit));
  return Math.max(1, cap);
}

/** The CPUs the cgroup of this process may use (quota / period), or undefined for none. */
export function cgroupCpuLimit(root = '/'): number | undefined {
  const memberships = read(root, '/proc/self/cgroup');
  if (memberships === undefined) return undefined;
  const mounts = parseMountinfo(read(root, '/proc/self/mountinfo') ?? '');
  let smallest: number | undefined;
  for (const line of memberships.split('\n')) {
    // "hierarchy-id:controllers:path"; v2 is "0::/path"; the path may hold colons.
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const v2 = m[1] === '0' && m[2] === '';
    if (!v2 && !m[2]!.split(',').includes('cpu')) continue;
    const mount = mountFor(mounts, v2) ?? defaultMount(root, v2);
    if (mount === undefined) continue;
    const limit = limitAlong(root, mount, m[3]!, v2);
    if (limit !== undefined && (smallest === undefined || limit < smallest)) smallest = limit;
  }
  return smallest;
}

interface CgroupMount {
  /** The cgroup path the mount shows at its mount point (`/` unless bind-mounted deeper). */
  readonly cgroupRoot: string;
  /** Where it is mounted, as in mountinfo (not under `root` yet). */
  readonly mountPoint: string;
  readonly v2: boolean;
  /** v1: the controllers this hierarchy holds. */
  readonly controllers: readonly string[];
}

/** The cgroup mounts of mountinfo lines ("id parent maj:min root point opts … - type src superopts"). */
function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [type, , superOptions] = right.split(' ');
    if (fields.length < 5 || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    out.push({
      cgroupRoot: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      v2: type === 'cgroup2',
      controllers: (superOptions ?? '').split(','),
    });
  }
  return out;
}

/** mountinfo writes a space, tab, newline or backslash in a path as `\ooo`. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function mountFor(mounts: readonly CgroupMount[], v2: boolean): CgroupMount | undefined {
  return mounts.find((m) => m.v2 === v2 && (v2 || m.controllers.includes('cpu')));
}

/** Where cgroups are usually mounted, for when mountinfo cannot be read. */
function defaultMount(root: string, v2: boolean): CgroupMount | undefined {
  const points = v2 ? ['/sys/fs/cgroup'] : ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu'];
  // Files every hierarchy's top has (the root v2 cgroup has no cpu.max).
  const file = v2 ? 'cgroup.controllers' : 'cpu.cfs_period_us';
  const point = points.find((p) => read(root, posix.join(p, file)) !== undefined);
  return point === undefined
    ? undefined
    : { cgroupRoot: '/', mountPoint: point, v2, controllers: v2 ? [] : ['cpu'] };
}

/**
 * The smallest limit of the cgroup at `path` and its ancestors that the mount shows.
 * Without a cgroup namespace, a container's mount shows its own cgroup at the mount point
 * (`cgroupRoot` = the path): the path is taken relative to the mount's root.
 */
function limitAlong(
  root: string,
  mount: CgroupMount,
  path: string,
  v2: boolean,
): number | undefined {
  const rel = posix.relative(mount.cgroupRoot, posix.normalize(path));
  // A cgroup outside what the mount shows: look at the mount point itself only.
  const parts = rel.startsWith('..') ? [] : rel.split('/').filter((p) => p !== '');
  let smallest: number | undefined;
  for (let n = parts.length; n >= 0; n--) {
    const dir = posix.join(mount.mountPoint, ...parts.slice(0, n));
    const limit = v2 ? limitV2(root, dir) : limitV1(root, dir);
    if (limit !== undefined && (smallest === undefined || limit < smallest)) smallest = limit;
  }
  return smallest;
}

/** `cpu.max`: "max 100000" (none) or "<quota> <period>". */
function limitV2(root: string, dir: string): number | undefined {
  const text = read(root, posix.join(dir, 'cpu.max'));
  const m = text === undefined ? null : /^(\d+)\s+(\d+)\s*$/.exec(text.trim());
  return m ? ratio(Number(m[1]), Number(m[2])) : undefined;
}

/** `cpu.cfs_quota_us` (-1: none) over `cpu.cfs_period_us`. */
function limitV1(root: string, dir: string): number | undefined {
  const quota = read(root, posix.join(dir, 'cpu.cfs_quota_us'))?.trim();
  const period = read(root, posix.join(dir, 'cpu.cfs_period_us'))?.trim();
  if (quota === undefined || period === undefined) return undefined;
  if (!/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined; // -1 among them
  return ratio(Number(quota), Number(period));
}

function ratio(quota: number, period: number): number | undefined {
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/** A file's text under `root`, or undefined when it cannot be read. */
function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(posix.join(root, path), 'utf8');
  } catch {
    return undefined;
  }
}
