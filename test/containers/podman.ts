/**
 * podman and podman-compose for the compose stack test (stack.test.ts): whether they can
 * run here at all (one line saying why not, for a skip), and commands run with their
 * output kept, so a failing step says what podman answered.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The repository root: the Dockerfile and docker-compose.yml the test runs. */
export const ROOT = new URL('../..', import.meta.url).pathname;

/** The Node running the tests first on PATH: the stand-in node image copies it (Node 24). */
export const ENV = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
};

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Why the stack cannot run on this machine, or undefined when it can. */
export function whyNot(): string | undefined {
  if (process.platform !== 'linux') return `podman stack: ${process.platform} is not Linux`;
  if (process.getuid?.() !== 0)
    return 'podman stack: needs root (rootful podman, as .ci/run sets up)';
  for (const tool of ['podman', 'podman-compose']) {
    if (!has(tool)) return `podman stack: ${tool} is not installed (.ci/run installs it)`;
  }
  const cache = process.env.IDALLOC_IMAGE_CACHE ?? join(homedir(), '.cache/idalloc-images');
  let cached = false;
  try {
    cached = readdirSync(cache).some((f) => f.startsWith('standins-'));
  } catch {
    // no cache yet
  }
  if (!cached && !has('mmdebstrap')) {
    return 'podman stack: mmdebstrap is not installed and no stand-in images are cached';
  }
  const info = spawnSync(
    'podman',
    [
      'info',
      '--format',
      '{{.Host.OCIRuntime.Name}} {{.Host.CgroupsVersion}} {{.Host.CgroupManager}}',
    ],
    { encoding: 'utf8' },
  );
  if (info.status !== 0) {
    const line = (info.stderr || info.stdout).trim().split('\n').pop() ?? '';
    return `podman stack: podman info fails: ${line}`;
  }
  // What fails on these machines without /etc/containers/containers.conf (.ci/podman.sh).
  const [runtime, cgroups, manager] = info.stdout.trim().split(' ');
  if (runtime === 'crun' && cgroups === 'v1') {
    return 'podman stack: runtime crun on cgroups v1 fails here; .ci/podman.sh configures runc';
  }
  if (manager === 'systemd' && !existsSync('/run/systemd/system')) {
    return 'podman stack: cgroup manager systemd without systemd; .ci/podman.sh configures cgroupfs';
  }
  return undefined;
}

/** Runs a command to its end; rejects with its output when it fails. */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, {
      cwd: ROOT,
      env: opts.env ?? ENV,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const tail = (s = '') => s.trim().split('\n').slice(-20).join('\n');
    throw new Error(
      `${cmd} ${args.join(' ')} failed: ${e.message}\n${tail(e.stdout)}\n${tail(e.stderr)}`,
    );
  }
}

/** Same, never throwing: for cleanup, where a missing object is fine. */
export async function attempt(cmd: string, args: readonly string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}
