/**
 * The transitive dependency checker `npm run lint` runs (issue 16): reads every TypeScript file
 * under src/ (or the root given as argument), builds the graph of its relative imports and
 * walks it from each rule's rooms in scripts/dependency-rules.ts. ESLint's
 * no-restricted-imports sees one import at a time; this sees "through another file" too.
 *
 *   node --import tsx scripts/check-deps.ts [root] [--verbose]
 *
 * Every import counts, type-only and dynamic ones included: a type import is still a
 * dependency of the design. Packages and node: built-ins are ESLint's business and skipped.
 * checkDependencies is pure (file texts in, report out) so the tests need no disk.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { dependencyRules, type DependencyRule } from './dependency-rules.js';

/** One way a rule is broken: the shortest path from a file of its rooms to a forbidden file. */
export interface Violation {
  readonly rule: string;
  readonly why: string;
  /** src-relative files; the last import in it is the one that crosses the line. */
  readonly path: readonly string[];
  /** How many more forbidden files the path's last importer imports (told, not listed). */
  readonly more: number;
}

export interface DependencyReport {
  readonly files: number;
  /** Distinct file-to-file imports inside the root. */
  readonly imports: number;
  readonly violations: readonly Violation[];
  /** Relative imports that name no file under the root: a broken graph proves nothing. */
  readonly errors: readonly string[];
  /** "rule X: room Y has no files", for --verbose while the layout is on the move. */
  readonly notes: readonly string[];
}

/** Whether `file` (src-relative) lies in `room`: a folder, a sub-folder or one file. */
export function inRoom(file: string, room: string): boolean {
  return file === room || file.startsWith(`${room}/`);
}

/**
 * The file a relative specifier names, or undefined: NodeNext code writes `./x.js` for
 * `./x.ts`; a bare `./dir` means its index. The specifier itself is tried last.
 */
function resolveImport(
  files: ReadonlyMap<string, string>,
  importer: string,
  spec: string,
): string | undefined {
  const base = posix.normalize(posix.join(posix.dirname(importer), spec));
  const stem = base.replace(/\.(js|ts|mjs|mts|cjs|cts|jsx|tsx)$/, '');
  return [
    `${stem}.ts`,
    `${stem}.mts`,
    `${stem}.cts`,
    `${stem}.tsx`,
    `${stem}.d.ts`,
    `${base}/index.ts`,
    base,
  ].find((f) => files.has(f));
}

/** A string a module specifier is written as: a literal or a template without substitutions. */
function literalText(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
    ? node.text
    : undefined;
}

/**
 * Every module specifier of a source: import and export declarations (`export * as ns`
 * included, which ts.preProcessFile misses), `import x = require()`, `import()` and
 * `require()` calls, and `typeof import()` types; with the pre-processor's list as well.
 */
export function specifiers(fileName: string, text: string): string[] {
  const found = new Set(ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName));
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): void => {
    let spec: string | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      spec = literalText(node.moduleSpecifier);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference)
    ) {
      spec = literalText(node.moduleReference.expression);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      if (isImport || isRequire) spec = literalText(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      spec = literalText(node.argument.literal);
    }
    if (spec !== undefined) found.add(spec);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found];
}

/** A specifier that is neither relative nor a package: the checker could not follow it. */
function unplaceable(spec: string): boolean {
  return /^(#|\/|file:)/.test(spec) || spec === 'idalloc' || spec.startsWith('idalloc/');
}

/** Each file's imports inside the root (sorted, deduplicated), and the ones that resolve to nothing. */
function importGraph(files: ReadonlyMap<string, string>): {
  graph: Map<string, string[]>;
  errors: string[];
} {
  const graph = new Map<string, string[]>();
  const errors: string[] = [];
  for (const [file, text] of files) {
    const targets = new Set<string>();
    for (const fileName of specifiers(file, text)) {
      if (unplaceable(fileName)) {
        errors.push(`${file}: import '${fileName}' is not relative: write it as ./ or ../`);
        continue;
      }
      if (!fileName.startsWith('.')) continue; // a package or node: built-in
      const target = resolveImport(files, file, fileName);
      if (target === undefined) errors.push(`${file}: import '${fileName}' names no file`);
      else targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return { graph, errors };
}

function forbids(rule: DependencyRule, file: string): boolean {
  return 'only' in rule
    ? !rule.only.some((room) => inRoom(file, room))
    : rule.never.some((room) => inRoom(file, room));
}

function excepted(rule: DependencyRule, importer: string, imported: string): boolean {
  return (rule.except ?? []).some(([a, b]) => inRoom(importer, a) && inRoom(imported, b));
}

/**
 * One breadth-first walk from all files of the rule's rooms at once. Every reached file
 * that imports a forbidden one is a violation, reported with the shortest path that leads
 * to its first such import (and a count of the others, so one file that imports a whole
 * room makes one line). The walk does not go on through forbidden files (their imports
 * are their own rules' business), nor through the rule's exceptions.
 */
function walk(rule: DependencyRule, graph: ReadonlyMap<string, readonly string[]>): Violation[] {
  const starts = [...graph.keys()].filter((f) => rule.from.some((room) => inRoom(f, room)));
  const cameFrom = new Map<string, string | undefined>(starts.map((f) => [f, undefined]));
  const pathTo = (file: string): string[] => {
    const path = [file];
    for (let at = cameFrom.get(file); at !== undefined; at = cameFrom.get(at)) path.unshift(at);
    return path;
  };
  const violations: Violation[] = [];
  const queue = [...starts];
  for (let i = 0; i < queue.length; i += 1) {
    const file = queue[i]!;
    const allowed = (graph.get(file) ?? []).filter((target) => !excepted(rule, file, target));
    const [first, ...others] = allowed.filter((target) => forbids(rule, target));
    if (first !== undefined) {
      const path = [...pathTo(file), first];
      violations.push({ rule: rule.name, why: rule.why, path, more: others.length });
    }
    for (const target of allowed) {
      if (forbids(rule, target) || cameFrom.has(target)) continue;
      cameFrom.set(target, file);
      queue.push(target);
    }
  }
  return violations;
}

/** Checks `files` (src-relative path → text) against `rules`. */
export function checkDependencies(
  files: ReadonlyMap<string, string>,
  rules: readonly DependencyRule[] = dependencyRules,
): DependencyReport {
  const { graph, errors } = importGraph(files);
  const notes = rules.flatMap((rule) =>
    rule.from
      .filter((room) => ![...files.keys()].some((f) => inRoom(f, room)))
      .map((room) => `rule ${rule.name}: room ${room} has no files`),
  );
  return {
    files: files.size,
    imports: [...graph.values()].reduce((n, targets) => n + targets.length, 0),
    violations: rules.flatMap((rule) => walk(rule, graph)),
    errors,
    notes,
  };
}

/** Every .ts file under `root`, keyed by its root-relative path with forward slashes. */
export function readTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const names = readdirSync(root, { recursive: true, encoding: 'utf8' });
  for (const name of names.filter((n) => /\.(ts|mts|cts|tsx)$/.test(n)).sort()) {
    files.set(name.split(sep).join('/'), readFileSync(resolve(root, name), 'utf8'));
  }
  return files;
}

/** One line per problem; exit code 1 when there is any. */
function main(args: readonly string[]): void {
  const verbose = args.includes('--verbose');
  const given = args.find((a) => !a.startsWith('--'));
  const root = given ? resolve(given) : fileURLToPath(new URL('../src/', import.meta.url));
  const report = checkDependencies(readTree(root));
  const near = relative(process.cwd(), root) || '.';
  const where = near.startsWith('..') ? root : near;
  if (verbose) for (const note of report.notes) console.log(note);
  for (const error of report.errors) console.error(`dependency rules: ${where}/${error}`);
  for (const v of report.violations) {
    const more = v.more > 0 ? ` (and ${v.more} more from ${v.path.at(-2)})` : '';
    console.error(`dependency rule ${v.rule}: ${v.why} Path: ${v.path.join(' → ')}${more}`);
  }
  if (report.errors.length > 0 || report.violations.length > 0) {
    const count = `${report.violations.length} violation(s), ${report.errors.length} unresolved import(s)`;
    console.error(`dependency rules in ${where}: ${count}`);
    process.exitCode = 1;
    return;
  }
  console.log(
    `dependency rules: ${report.files} files, ${report.imports} imports, ${dependencyRules.length} rules: all hold`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2));
}
