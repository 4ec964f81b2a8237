/**
 * The README's and docs/'s procedures and examples, run exactly as written: a recovery
 * procedure is a fenced ```sh block after a marker `<!-- procedure: NAME -->` in README.md
 * or any docs/*.md (docs/recovery.md today); {@link runProcedure} runs it with `sh`, in a
 * directory of the test's choosing, with `idalloc-admin` on the PATH resolving to this
 * checkout's admin script and the store settings the test passes. {@link docBlock} gives
 * the example block under a heading of a named file, so a test says where the text lives.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The documentation files, relative to the root: README.md, then docs/*.md by name. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  return ['README.md', ...docs.sort().map((f) => `docs/${f}`)];
}

/** The text of one documentation file (`file` relative to the root, e.g. `docs/api.md`). */
export function docText(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** The text of README.md. */
export function readme(): string {
  return docText('README.md');
}

/**
 * The fenced block of `file` that follows `heading` (and, within it, the text `after`),
 * without its fences.
 * @throws when the file has no such heading, text or block
 */
export function docBlock(file: string, heading: string, after = ''): string {
  const text = docText(file);
  let at = text.indexOf(heading);
  if (at < 0) throw new Error(`${file} has no '${heading}'`);
  if (after) at = text.indexOf(after, at);
  if (at < 0) throw new Error(`${file} has no '${after}' after '${heading}'`);
  const m = /```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!m) throw new Error(`no fenced block after '${heading}' / '${after}' in ${file}`);
  return m[1]!;
}

/** {@link docBlock} of README.md. */
export function readmeBlock(heading: string, after = ''): string {
  return docBlock('README.md', heading, after);
}

const MARKER = /<!-- procedure: ([a-z0-9-]+) -->/g;

/** Every procedure marked in the documentation, with the file it is in. */
export function procedures(): { name: string; file: string }[] {
  return docFiles().flatMap((file) =>
    [...docText(file).matchAll(MARKER)].map((m) => ({ name: m[1]!, file })),
  );
}

/**
 * The commands of procedure `name`, as the documentation shows them (a block indented
 * under a list item loses that indentation, as a reader copying it would).
 * @throws when no file or more than one marks such a procedure
 */
export function procedure(name: string): string {
  const marker = `<!-- procedure: ${name} -->`;
  const found = docFiles().flatMap((file) => {
    const text = docText(file);
    const at = text.indexOf(marker);
    if (at < 0) return [];
    const again = text.indexOf(marker, at + 1) >= 0;
    return again
      ? [
          { file, text, at },
          { file, text, at },
        ]
      : [{ file, text, at }];
  });
  if (found.length !== 1) {
    const where = found.map((f) => f.file).join(', ');
    throw new Error(
      `procedure '${name}' is marked ${found.length ? `more than once (${where})` : 'nowhere in README.md or docs/'}`,
    );
  }
  const { file, text, at } = found[0]!;
  const m = /^\s*\n([ \t]*)```sh\n([\s\S]*?)\n[ \t]*```/.exec(text.slice(at + marker.length));
  if (!m) throw new Error(`procedure '${name}' in ${file} is not followed by a \`\`\`sh block`);
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
