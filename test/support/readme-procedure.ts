/**
 * The README's recovery procedures, run exactly as written: each is a fenced ```sh block
 * after a marker `<!-- procedure: NAME -->`; {@link runProcedure} runs it with `sh`, in a
 * directory of the test's choosing, with `idalloc-admin` on the PATH resolving to this
 * checkout's admin script and the store settings the test passes.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The text of README.md. */
export function readme(): string {
  return readFileSync(join(ROOT, 'README.md'), 'utf8');
}

/**
 * The fenced block that follows `heading` (and, within it, the text `after`), without its
 * fences.
 * @throws when the README has no such heading, text or block
 */
export function readmeBlock(heading: string, after = ''): string {
  const text = readme();
  let at = text.indexOf(heading);
  if (at < 0) throw new Error(`README.md has no '${heading}'`);
  if (after) at = text.indexOf(after, at);
  if (at < 0) throw new Error(`README.md has no '${after}' after '${heading}'`);
  const m = /```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!m) throw new Error(`no fenced block after '${heading}' / '${after}'`);
  return m[1]!;
}

/**
 * The commands of procedure `name`, as the README shows them (a block indented under a
 * list item loses that indentation, as a reader copying it would).
 * @throws when the README has no such procedure, or more than one
 */
export function procedure(name: string): string {
  const marker = `<!-- procedure: ${name} -->`;
  const text = readme();
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0) {
    throw new Error(`README.md has ${at < 0 ? 'no' : 'more than one'} procedure '${name}'`);
  }
  const m = /^\s*\n([ \t]*)```sh\n([\s\S]*?)\n[ \t]*```/.exec(text.slice(at + marker.length));
  if (!m) throw new Error(`procedure '${name}' is not followed by a \`\`\`sh block`);
  const indent = m[1]!;
  return m[2]!
    .split('\n')
    .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
    .join('\n');
}

/**
 * Puts `idalloc-admin` — this checkout's src/cli/admin.ts under tsx — into a `.bin`
 * directory under `dir` (removed with it), and returns that directory.
 */
function adminBin(dir: string): string {
  const bin = join(dir, '.bin');
  mkdirSync(bin, { recursive: true });
  const tsx = import.meta.resolve('tsx');
  const script = join(ROOT, 'src/cli/admin.ts');
  const shim = join(bin, 'idalloc-admin');
  writeFileSync(
    shim,
    `#!/bin/sh\nexec '${process.execPath}' --disable-warning=ExperimentalWarning --import '${tsx}' '${script}' "$@"\n`,
  );
  chmodSync(shim, 0o755);
  return bin;
}

export interface ProcedureRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs procedure `name` with `sh -e` in `cwd` (a test's temporary directory: the shim
 * goes there too), with only PATH, HOME and `env` in its environment (no setting of the
 * developer's leaks in).
 */
export function runProcedure(
  name: string,
  cwd: string,
  env: Record<string, string>,
): Promise<ProcedureRun> {
  const commands = procedure(name);
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-e', '-c', commands],
      {
        cwd,
        timeout: 60_000,
        env: {
          PATH: `${adminBin(cwd)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          HOME: process.env.HOME ?? cwd,
          ...env,
        },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
