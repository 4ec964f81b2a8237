/**
 * The soak script's command line (`npm run soak -- …`): `--help` prints every option,
 * a bad option is one line and exit 2 — never a stack.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function soak(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/soak.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const OPTIONS = [
  '--topology',
  '--nodes',
  '--clients',
  '--seconds',
  '--tags',
  '--kill-every',
  '--down-ms',
  '--min-replicas',
  '--step',
  '--max-step',
  '--in-process',
  '--json',
  '--help',
];

describe('npm run soak', () => {
  it.each([['--help'], ['-h']])(
    '%s prints the usage with every option, exit 0',
    async (flag) => {
      const run = await soak([flag]);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^Usage: npm run soak -- \[options\]\n/);
      for (const option of OPTIONS)
        expect(run.stdout).toMatch(new RegExp(`\\n  (-h, )?${option} `));
    },
    40_000,
  );

  it.each([
    [['--bogus'], "soak: Unknown option '--bogus'"],
    [['--nodes'], "soak: Option '--nodes <value>' argument missing"],
    [['stray'], "soak: Unexpected argument 'stray'"],
  ])(
    '%j is one line on stderr and exit 2',
    async (args, start) => {
      const run = await soak(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(start)).toBe(true);
      expect(lines[0]).toMatch(/\(see npm run soak -- --help\)$/);
    },
    40_000,
  );
});
