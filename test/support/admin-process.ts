/**
 * The admin script as a real process (`node --import tsx src/cli/admin.ts …`), with only
 * the store settings under test: no Sentinel or Cluster setting leaks in from the outer
 * environment. Its exit code, output and how long it took.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AdminRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export function runAdmin(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<AdminRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', 'src/cli/admin.ts', ...args],
      {
        cwd: ROOT,
        timeout: timeoutMs,
        env: { ...process.env, REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '', ...env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}
