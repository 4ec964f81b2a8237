import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Dependency direction (README "Project layout"): src/core is the vocabulary every part
 * imports and that imports none of them; the allocator and the stores meet only through
 * the ports in src/core; the HTTP routes see stores only through those ports; the client
 * stands alone; and one module, src/store/open.ts, assembles Redis or SQLite stores.
 * Each rule says why, so a broken arrow explains itself in `npm run lint`.
 */
const why = {
  core: 'src/core is the shared vocabulary every part imports, so it imports nothing of the project outside src/core: move what it needs into core instead.',
  allocatorStore:
    'the allocator never imports a store: it works against the ports in src/core (SegmentStore, TagStore, WorkerLeaseStore, LayoutRegistry); the composition roots hand it a store.',
  storeAllocator:
    'a store never imports the allocator: share types through src/core (store ports, lease and layout ports); the snowflake layout comparison stays in allocator/snowflake.',
  httpStore:
    'HTTP routes import no store: they see tags through the TagStore port (src/core/store-ports.ts) in their RouteContext.',
  client:
    'src/client (IdClient) stands alone: it imports only src/core, src/buffer (the double-buffer engine), node: built-ins and zod (its options schema) — nothing of the allocator, the stores, HTTP, express, ioredis, pino, prom-client or node:sqlite.',
  assembly:
    'only src/store/open.ts (the one store assembly) imports store/redis or store/embedded: open stores with openStore/openLibraryStore and use what OpenedStore exposes.',
  storeSides:
    'the Redis and the embedded store do not import each other: what both need lives in src/store (refusals.ts) or src/core.',
};

/** A no-restricted-imports rule from [regex, message] pairs and [package, message] pairs. */
function restrict(patterns, paths = []) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: paths.map(([name, message]) => ({ name, message })),
        patterns: patterns.map(([regex, message]) => ({ regex, message })),
      },
    ],
  };
}

const assemblyOnly = ['(^|/)store/(redis|embedded)(/|$)', why.assembly];
const storeLike = (message) => ['ioredis', 'node:sqlite'].map((name) => [name, message]);

const dependencyRules = [
  {
    // Everything in src that has no narrower rule below: service, config, cli, bin, observe, the package face.
    files: ['src/**/*.ts'],
    rules: restrict([assemblyOnly]),
  },
  {
    files: ['src/core/**/*.ts'],
    rules: restrict([['^\\.\\./', why.core]]),
  },
  {
    files: ['src/allocator/**/*.ts'],
    rules: restrict(
      [['(^|/)store/', why.allocatorStore], assemblyOnly],
      storeLike(why.allocatorStore),
    ),
  },
  {
    files: ['src/store/**/*.ts'],
    ignores: ['src/store/open.ts'],
    rules: restrict([
      ['(^|/)allocator/', why.storeAllocator],
      ['^\\./(redis|embedded)/', why.assembly],
    ]),
  },
  {
    files: ['src/store/redis/**/*.ts'],
    rules: restrict([
      ['(^|/)allocator/', why.storeAllocator],
      ['(^|/)embedded/', why.storeSides],
    ]),
  },
  {
    files: ['src/store/embedded/**/*.ts'],
    rules: restrict([
      ['(^|/)allocator/', why.storeAllocator],
      ['(^|/)redis/', why.storeSides],
    ]),
  },
  {
    files: ['src/store/open.ts'],
    rules: restrict([['(^|/)allocator/', why.storeAllocator]]),
  },
  {
    files: ['src/http/**/*.ts'],
    rules: restrict([['(^|/)store/', why.httpStore]], storeLike(why.httpStore)),
  },
  {
    files: ['src/client/**/*.ts'],
    rules: restrict(
      [['^(?!node:|zod$|\\./|\\.\\./(core|buffer)/)', why.client]],
      [['node:sqlite', why.client]],
    ),
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/ban-ts-comment': 'error',
      'no-console': 'off',
    },
  },
  ...dependencyRules,
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
  },
);
