/**
 * The transitive dependency rules of src/ (issue 16), as data: scripts/check-deps.ts walks
 * every import path from a rule's rooms and fails `npm run lint` when one reaches a room the
 * rule forbids. eslint.config.js keeps the direct rules with their own messages; these add
 * "directly or through another file". Each `why` says what to do instead, so a broken rule
 * explains itself.
 *
 * A room is a top-level folder of src/ (`core`, `store`, …), a sub-folder where a rule needs
 * one (`store/redis`), or a single file (`index.ts`, the package face). A rule whose rooms
 * have no files simply holds, so the rules can name the target layout before it exists.
 */

/** What a rule's rooms may reach: only the listed rooms, or anything but the listed rooms. */
export type Reach = { readonly only: readonly string[] } | { readonly never: readonly string[] };

export type DependencyRule = Reach & {
  /** A short name, shown with every violation and in --verbose. */
  readonly name: string;
  /** The rooms whose files every walk starts from. */
  readonly from: readonly string[];
  /**
   * Imports the rule lets through and does not walk on, as [importer, imported]; each side
   * is a file or a room (src-relative). Keep this empty unless a knot is being untied.
   */
  readonly except?: readonly (readonly [string, string])[];
  /** Why the rule exists and what to do instead of the forbidden import. */
  readonly why: string;
};

/** The parts below the service: none of them may reach src/config (issue 16). */
const belowTheService = [
  'core',
  'buffer',
  'grants',
  'allocator',
  'store',
  'client',
  'audit',
  'http',
  'observe',
  'index.ts',
];

export const dependencyRules: readonly DependencyRule[] = [
  {
    name: 'core',
    from: ['core'],
    only: ['core'],
    why: 'src/core is the vocabulary every part imports, so nothing it reaches lies outside src/core: move the type or port it needs into core and let the outer part implement it.',
  },
  {
    name: 'buffer',
    from: ['buffer'],
    only: ['buffer', 'core'],
    why: 'the double-buffer engine (src/buffer) reaches only itself and src/core: take what else it needs (a fetch function, a clock, a log) through its options.',
  },
  {
    name: 'grants',
    from: ['grants'],
    only: ['grants', 'core'],
    why: 'the grant log writers (src/grants) reach only themselves and the grant-line vocabulary in src/core: whoever opens a writer passes it the path, stream and log.',
  },
  {
    name: 'client',
    from: ['client'],
    only: ['client', 'core', 'buffer'],
    why: 'src/client (IdClient) ships on its own as idalloc/client, so it reaches only src/client, src/core and src/buffer: put what it shares with the server into core.',
  },
  {
    name: 'audit',
    from: ['audit'],
    only: ['audit', 'core'],
    why: 'the audit (src/audit) judges grant lines and reaches only itself and src/core: the cli reads its input and prints its findings.',
  },
  {
    name: 'allocator',
    from: ['allocator'],
    never: ['store', 'http', 'service', 'cli', 'bin', 'config', 'observe'],
    why: 'the allocator works against the ports in src/core (store, lease and layout ports, time-and-log): the service hands it a store, typed options and a log, so it reaches no store, http, service, cli, bin, config or observe.',
  },
  {
    name: 'store',
    from: ['store'],
    never: ['allocator', 'http', 'service', 'cli', 'bin', 'config', 'observe'],
    why: 'a store shares types with the allocator only through the ports in src/core and gets typed options and a log from its opener, so it reaches no allocator, http, service, cli, bin, config or observe.',
  },
  {
    name: 'store/redis',
    from: ['store/redis'],
    never: ['store/embedded'],
    why: 'the Redis store does not reach the embedded one: what both need lives in src/store (refusals.ts) or src/core, and only store/open.ts picks a side.',
  },
  {
    name: 'store/embedded',
    from: ['store/embedded'],
    never: ['store/redis'],
    why: 'the embedded store does not reach the Redis one: what both need lives in src/store (refusals.ts) or src/core, and only store/open.ts picks a side.',
  },
  {
    name: 'http',
    from: ['http'],
    never: ['store', 'service', 'cli', 'bin', 'config'],
    why: 'the HTTP service sees tags and stores through the ports in its RouteContext and gets typed options from the service, so it reaches no store, service, cli, bin or config.',
  },
  {
    name: 'observe',
    from: ['observe'],
    never: ['service', 'http', 'cli', 'bin', 'config', 'store'],
    why: 'logging and metrics (src/observe) are used by the service and http, never the other way round: they take plain values and options, so they reach no service, http, cli, bin, config or store.',
  },
  {
    name: 'config',
    from: ['config'],
    only: ['config', 'core'],
    why: 'src/config is the edge that turns env into typed options and may use only core vocabulary besides itself: the service passes the options on, so config reaches no other part.',
  },
  {
    name: 'cli',
    from: ['cli'],
    never: ['service', 'http', 'allocator'],
    why: 'the admin script (src/cli) works on stores and the audit, never on the running node: it reaches no service, http or allocator; share what it needs through src/core or src/store.',
  },
  {
    name: 'service',
    from: ['service'],
    never: ['cli', 'bin'],
    why: 'the service is what bin starts, so it never reaches cli or bin: move what both need down into src/core (or the service itself).',
  },
  {
    name: 'index',
    from: ['index.ts'],
    never: ['service', 'http', 'cli', 'bin', 'config'],
    why: 'the package face (src/index.ts) is what library users import: createAllocator takes typed options, not env, so it reaches no service, http, cli, bin or config.',
  },
  {
    name: 'config users',
    from: belowTheService,
    never: ['config'],
    why: 'no part below the service imports src/config: the service (or cli, bin) reads env through config/options.ts and passes typed options down; take them as a parameter instead.',
  },
];
