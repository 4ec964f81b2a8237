import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MEANINGS, serviceHelp } from '../../src/bin/help.js';
import { nodeVersionProblem } from '../../src/bin/node-check.js';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';

describe('the bins’ Node.js check', () => {
  it.each(['22.13.0', '22.20.1', '23.0.0', '24.11.1', '30.0.0'])('accepts %s', (v) => {
    expect(nodeVersionProblem('idalloc', v)).toBeUndefined();
  });

  it.each(['22.12.0', '20.20.2', '18.0.0', 'garbage'])('refuses %s in one line', (v) => {
    expect(nodeVersionProblem('idalloc-admin', v)).toBe(
      `idalloc-admin: needs Node.js 22.13 or newer (Node 24 LTS recommended); this is Node.js ${v}`,
    );
  });
});

describe('the admin bin (`idalloc-admin`, `npm run admin`) on an old Node', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const run = async (node: string, args: string[]) => {
    try {
      const r = await promisify(execFile)(node, args, { cwd: ROOT, timeout: 50_000 });
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code?: unknown; stdout?: string; stderr?: string };
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  it('refuses an old Node in one line and exit 1, before loading the script', async () => {
    // The machine's own Node (Debian's) is the old one users meet; the bin runs from
    // source under tsx, which loads it as the build would. Where that Node is new enough,
    // the test of nodeVersionProblem above covers the rule alone.
    const old = await run('/usr/bin/node', ['-p', 'process.versions.node']);
    if (old.code !== 0 || !(Number(old.stdout.split('.')[0]) < 22)) return;
    const r = await run('/usr/bin/node', [
      '--import',
      'tsx',
      'src/bin/idalloc-admin.ts',
      'tag',
      'list',
    ]);
    expect(r.stderr).toBe(
      `idalloc-admin: needs Node.js 22.13 or newer (Node 24 LTS recommended); this is Node.js ${old.stdout.trim()}\n`,
    );
    expect(r.code).toBe(1);
  }, 60_000);
});

describe('idalloc --help', () => {
  it('explains every variable the configuration schema reads, and nothing else', () => {
    expect(Object.keys(MEANINGS).sort()).toEqual([...CONFIG_VARIABLES].sort());
    for (const meaning of Object.values(MEANINGS)) expect(meaning.length).toBeGreaterThan(5);
  });

  it('lists each variable with its default', () => {
    const help = serviceHelp();
    expect(help).toMatch(/^ {2}PORT +8080 +listen port/m);
    expect(help).toMatch(/^ {2}REDIS_URL +unset +/m);
    expect(help).toMatch(/^ {2}SNOWFLAKE_EPOCH +2024-01-01T00:00:00.000Z +/m);
  });
});
