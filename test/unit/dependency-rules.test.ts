/**
 * The dependency direction `npm run lint` enforces: eslint.config.js's direct rules, each
 * broken on purpose in a file that is never written to disk, fail with a message that says
 * why, and the arrows the layout allows pass; then scripts/check-deps.ts's transitive rules
 * (scripts/dependency-rules.ts), each broken through another file in a synthetic tree of
 * the target layout (issue 16), and the real src/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { checkDependencies, inRoom, readTree } from '../../scripts/check-deps.js';
import { dependencyRules, type DependencyRule } from '../../scripts/dependency-rules.js';

const eslint = new ESLint();

/** The no-restricted-imports messages ESLint reports for `code` at `path`. */
async function refusals(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('dependency rules', () => {
  it.each([
    [
      'src/core/x.ts',
      "import type { IdAllocator } from '../allocator/types.js';",
      /src\/core is the shared vocabulary/,
    ],
    [
      'src/allocator/x.ts',
      "import type { OpenedStore } from '../store/open.js';",
      /the allocator never imports a store/,
    ],
    [
      'src/allocator/snowflake/x.ts',
      "import { Redis } from 'ioredis';",
      /the allocator never imports a store/,
    ],
    [
      'src/store/redis/x.ts',
      "import { createLayout } from '../../allocator/snowflake/layout.js';",
      /a store never imports the allocator/,
    ],
    [
      'src/store/embedded/x.ts',
      "import { RedisStore } from '../redis/store.js';",
      /do not import each other/,
    ],
    [
      'src/store/refusals-x.ts',
      "import { RedisStore } from './redis/store.js';",
      /only src\/store\/open\.ts/,
    ],
    [
      'src/http/x.ts',
      "import { openStore } from '../store/open.js';",
      /HTTP routes import no store/,
    ],
    [
      'src/client/x.ts',
      "import { Redis } from 'ioredis';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/client/x.ts',
      "import type { IdAllocator } from '../allocator/types.js';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/client/x.ts',
      "import { DatabaseSync } from 'node:sqlite';",
      /src\/client \(IdClient\) stands alone/,
    ],
    [
      'src/service/startup.ts',
      "import { RedisStore } from '../store/redis/store.js';",
      /only src\/store\/open\.ts/,
    ],
    [
      'src/cli/x.ts',
      "import { EmbeddedStore } from '../store/embedded/store.js';",
      /only src\/store\/open\.ts/,
    ],
  ])('refuses in %s: %s', async (path, code, why) => {
    const messages = await refusals(path, `${code}\nexport const unused = 1;\n`);
    expect(messages.some((m) => why.test(m))).toBe(true);
  });

  it.each([
    [
      'src/client/x.ts',
      "import { createHash } from 'node:crypto';\nimport { z } from 'zod';\nimport { silentLog } from '../core/time-and-log.js';\nimport { Range } from './buffer.js';",
    ],
    ['src/allocator/x.ts', "import type { SegmentStore } from '../core/store-ports.js';"],
    ['src/http/x.ts', "import type { TagStore } from '../core/store-ports.js';"],
    [
      'src/store/open.ts',
      "import { RedisStore } from './redis/store.js';\nimport { EmbeddedStore } from './embedded/store.js';",
    ],
    ['src/index.ts', "import { openLibraryStore } from './store/open.js';"],
  ])('allows in %s what the layout allows', async (path, code) => {
    expect(await refusals(path, `${code}\nexport const unused = 1;\n`)).toEqual([]);
  });
});

/** The rooms of the target layout (README "Project layout", docs/design.md §14); sub-rooms such as store/redis go with store. */
const rooms = [
  'core',
  'buffer',
  'grants',
  'client',
  'audit',
  'store',
  'allocator',
  'observe',
  'http',
  'config',
  'cli',
  'service',
  'bin',
  'index.ts',
];

/** A file named `name` in `room` (a file room is its own one file). */
const fileIn = (room: string, name: string): string =>
  room.endsWith('.ts') ? room : `${room}/${name}.ts`;

/** An import of `to` written in `from`, as NodeNext code writes it. */
function importOf(from: string, to: string): string {
  const up = '../'.repeat(from.split('/').length - 1) || './';
  return `import { x } from '${up}${to.replace(/\.ts$/, '.js')}';\n`;
}

const forbids = (rule: DependencyRule, file: string): boolean =>
  'only' in rule
    ? !rule.only.some((room) => inRoom(file, room))
    : rule.never.some((room) => inRoom(file, room));

/**
 * For every rule, every room it starts from and every room it forbids: a file of the room
 * that reaches the forbidden one through a file the rule allows, in another room where
 * there is one (core may reach only core, so its go-between is core's own).
 */
const cases = dependencyRules.flatMap((rule) =>
  rule.from.flatMap((from) => {
    const start = fileIn(from, 'a');
    const outside = rooms.find(
      (room) =>
        !rule.from.some((r) => inRoom(fileIn(room, 'via'), r)) &&
        !forbids(rule, fileIn(room, 'via')),
    );
    const via = fileIn(outside ?? from, 'via');
    return rooms
      .map((room) => fileIn(room, 'c'))
      .filter((target) => forbids(rule, target) && !rule.from.some((r) => inRoom(target, r)))
      .concat(
        'never' in rule ? rule.never.filter((r) => r.includes('/')).map((r) => `${r}/c.ts`) : [],
      )
      .map((target) => ({ rule, start, via, target }));
  }),
);

describe('transitive dependency rules (scripts/check-deps.ts)', () => {
  it('names only rooms of the target layout (a misspelt room would hold for ever)', () => {
    const named = dependencyRules.flatMap((rule) => [
      ...rule.from,
      ...('only' in rule ? rule.only : rule.never),
      ...(rule.except ?? []).flat(),
    ]);
    expect(named.filter((room) => !rooms.some((r) => inRoom(room, r)))).toEqual([]);
  });

  it('has a case for every rule', () => {
    expect(new Set(cases.map((c) => c.rule.name))).toEqual(
      new Set(dependencyRules.map((r) => r.name)),
    );
  });

  it.each(cases.map((c) => [c.rule.name, c.start, c.via, c.target, c] as const))(
    'rule %s: %s → %s → %s is refused, directly too, and holds without it',
    (_name, start, via, target, { rule }) => {
      const tree = (viaText: string) =>
        new Map([
          [start, importOf(start, via)],
          [via, viaText],
          [target, ''],
        ]);
      const bad = checkDependencies(tree(importOf(via, target)), [rule]);
      const path = rule.from.some((r) => inRoom(via, r)) ? [via, target] : [start, via, target];
      expect(bad.violations).toEqual([{ rule: rule.name, why: rule.why, path, more: 0 }]);
      expect(checkDependencies(tree(importOf(via, target))).violations).toContainEqual(
        bad.violations[0],
      );
      expect(checkDependencies(tree(''), [rule])).toMatchObject({ violations: [], errors: [] });
      const direct = new Map([
        [start, importOf(start, target)],
        [target, ''],
      ]);
      expect(checkDependencies(direct, [rule]).violations[0]?.path).toEqual([start, target]);
    },
  );

  const rule = dependencyRules.find((r) => r.name === 'allocator')!;
  const refusedPaths = (files: Record<string, string>, rules = [rule]) =>
    checkDependencies(new Map(Object.entries(files)), rules).violations.map((v) => v.path);

  it.each([
    ["import type { SegmentStore } from '../store/x.js';"],
    ["export type { SegmentStore } from '../store/x.js';"],
    ["export * from '../store/x.js';"],
    ["const store = await import('../store/x.js');"],
    ["type Store = typeof import('../store/x.js');"],
    ["export * as store from '../store/x.js';"],
    ["export type * as store from '../store/x.js';"],
    ["import store = require('../store/x.js');"],
    ["const store = require('../store/x.js');"],
    ['const store = await import(`../store/x.js`);'],
  ])('counts %s', (code) => {
    expect(refusedPaths({ 'allocator/a.ts': code, 'store/x.ts': '' })).toEqual([
      ['allocator/a.ts', 'store/x.ts'],
    ]);
  });

  it('resolves a directory index and ignores packages and node: built-ins', () => {
    const files = {
      'allocator/a.ts': "import { Redis } from 'ioredis';\nimport { x } from '../store/index.js';",
      'allocator/b.ts': "import { readFileSync } from 'node:fs';\nimport { y } from '../store';",
      'store/index.ts': '',
    };
    expect(refusedPaths(files)).toEqual([
      ['allocator/a.ts', 'store/index.ts'],
      ['allocator/b.ts', 'store/index.ts'],
    ]);
  });

  it.each(['#store', '/work/src/store/x.js', 'file:///src/store/x.js', 'idalloc/client'])(
    'reports %s, which it cannot place, as an error',
    (spec) => {
      const files = new Map([['allocator/a.ts', `import { x } from '${spec}';`]]);
      expect(checkDependencies(files).errors).toEqual([
        `allocator/a.ts: import '${spec}' is not relative: write it as ./ or ../`,
      ]);
    },
  );

  it('reads .mts, .cts and .tsx files as well', () => {
    const files = {
      'allocator/a.mts': "import { x } from '../store/x.mjs';",
      'store/x.mts': '',
    };
    expect(refusedPaths(files)).toEqual([['allocator/a.mts', 'store/x.mts']]);
  });

  it('reports an unresolvable relative import as an error, not a pass', () => {
    const files = new Map([['allocator/a.ts', "import { x } from '../store/gone.js';"]]);
    expect(checkDependencies(files).errors).toEqual([
      "allocator/a.ts: import '../store/gone.js' names no file",
    ]);
  });

  it('reports the shortest path, one line per importing file with a count of the rest', () => {
    const files = {
      'allocator/a.ts': "import { x } from '../core/long.js';\nimport { y } from '../core/b.js';",
      'core/long.ts': "import { x } from './b.js';",
      'core/b.ts': "import { x } from '../store/x.js';\nimport { y } from '../http/y.js';",
      'store/x.ts': '',
      'http/y.ts': '',
    };
    expect(checkDependencies(new Map(Object.entries(files)), [rule]).violations).toMatchObject([
      { path: ['allocator/a.ts', 'core/b.ts', 'http/y.ts'], more: 1 },
    ]);
  });

  it('lets a listed exception through without walking on from it', () => {
    const files = {
      'allocator/a.ts': "import { x } from '../core/b.js';",
      'core/b.ts': "import { x } from '../store/x.js';",
      'store/x.ts': "import { x } from '../http/y.js';",
      'http/y.ts': '',
    };
    const excepted = { ...rule, except: [['core/b.ts', 'store']] as const };
    expect(refusedPaths(files, [excepted])).toEqual([]);
  });

  it('holds a rule whose rooms have no files, and says so in its notes', () => {
    const report = checkDependencies(new Map([['core/a.ts', '']]));
    expect(report.violations).toEqual([]);
    expect(report.notes).toContain('rule service: room service has no files');
  });

  const src = fileURLToPath(new URL('../../src/', import.meta.url));

  it('finds every import of the real src/, and every rule holds there', () => {
    const report = checkDependencies(readTree(src));
    expect(report.errors).toEqual([]);
    expect(report.files).toBeGreaterThan(90);
    expect(report.violations).toEqual([]);
    // Every room a rule names has files now: no rule holds only because it is empty.
    expect(report.notes).toEqual([]);
  });

  it('leaves nothing in src/ but the package face and the rooms', () => {
    const loose = readdirSync(src, { withFileTypes: true }).filter((e) => e.isFile());
    expect(loose.map((e) => e.name)).toEqual(['index.ts']);
  });

  it('runs from the command line: exit 1 with the path, exit 0 with a summary', () => {
    const root = mkdtempSync(join(tmpdir(), 'check-deps-'));
    const script = fileURLToPath(new URL('../../scripts/check-deps.ts', import.meta.url));
    const write = (file: string, text: string) => {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), text);
    };
    const run = () =>
      execFileSync(process.execPath, ['--import', 'tsx', script, root], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    try {
      write('allocator/a.ts', "import { x } from '../core/b.js';");
      write('core/b.ts', "import { x } from '../store/x.js';");
      write('store/x.ts', '');
      expect(run).toThrow(
        /dependency rule allocator: the allocator works .* Path: allocator\/a\.ts → core\/b\.ts → store\/x\.ts/,
      );
      write('core/b.ts', '');
      expect(run()).toMatch(/^dependency rules: 3 files, 1 imports, \d+ rules: all hold$/m);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000); // two node processes, on a shared two-core machine
});
