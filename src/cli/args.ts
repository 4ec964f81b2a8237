/**
 * The admin script's command line (docs/design.md §3): `tag <command> [name] [flags]` (and `audit`,
 * parsed in cli/audit.ts) parsed with
 * node:util `parseArgs` (strict) into an {@link AdminCommand}. Everything that can be
 * judged from the command line alone is judged here, so that a bad call is a usage error
 * (exit 2) before any store is opened.
 */
import { parseArgs } from 'node:util';
import { isIdAllocError } from '../core/errors.js';
import { DEFAULT_WORKER_HOLD_MS, parseWorkerHold } from './worker-transfer.js';
import type { CreateTagInput, TagChanges, TagMode } from '../core/store-ports.js';
import { invalidArgument } from '../core/errors.js';
import {
  checkShape,
  counterLimit,
  DEFAULT_WIDTH,
  ID_BITS,
  MAX_REGIONS,
  MIN_WIDTH,
  newPermuteKey,
  PLAIN,
  SHAPE_KINDS,
  type ShapeKind,
  type TagShape,
} from '../core/shape.js';
import {
  checkBump,
  checkCreateInput,
  checkDescription,
  checkShapeAndRegions,
  checkTagChanges,
  checkTagName,
  MAX_SMALL,
  parseId,
  parseSmallInt,
} from '../core/tags.js';

/** The command synopsis, printed after a usage error. */
export const SYNOPSIS = `Usage: idalloc-admin tag <command> [options]      (or: npm run admin -- tag …)

  tag create <name> [--mode segment|snowflake] [--step 1000] [--start 1] [--max N]
                    [--gap N] [--description TEXT]
                    [--shape plain|bitreverse|permute] [--prefix ord] [--regions N]
                    [--width 16..63] [--key HEX32]   (permute: width 63, a new key)
  tag list
  tag show <name>                       with the shape, regions and the permute key
  tag update <name> [--step N] [--max N] [--gap N] [--description TEXT]
                    [--shape …] [--prefix …|''] [--width …] [--key …] [--regions N]
                                        shape and regions only before the first ID
  tag decode <name> <ID>...             each ID's counter value and region index
  tag bump <name> (--to N | --by N)     raise the next ID; never lowers it
  tag bump --all --by N                 every segment tag (after a store restore or failover)
  tag delete <name> --yes
  tag export [--out FILE [--force]]     every tag and tombstone with its next, as JSON
        [--status-file FILE.prom]       with --out: record the outcome (failed or not) for
                                        Prometheus (node_exporter textfile collector)
        [--move]                        first mark this store moved: it grants no new
                                        snowflake worker ID (held leases still renew)
  tag import FILE [--gap N] [--dry-run] restore an export: missing tags created at next + gap,
        [--worker-hold 24h]             lower ones raised; never lowers anything; snowflake
                                        worker IDs leased at the export held that long
  worker release-imported               end the holds of 'tag import' (once the exporting
                                        store's nodes are all stopped)
  audit [FILE...] [--json] [--idle-timeout S]
                                        check the grant logs of every node for IDs granted
                                        twice (no FILE or '-': stdin); exit 0 clean, 1 overlaps,
                                        3 grant lines it could not read, 4 no grant line
`;

/** `--help`: the synopsis and what applies to every command. */
export const USAGE = `${SYNOPSIS}
Every command takes --json (machine-readable output, IDs as strings).
idalloc-admin --version (or -v) prints the package version; --help (or -h) this text.
Exit codes: 0 done, 1 refused or failed, 2 usage error.
The store is the service's: REDIS_URL (or REDIS_SENTINELS + REDIS_SENTINEL_MASTER, or
REDIS_CLUSTER_NODES) and KEY_PREFIX; with none of them, the embedded store in DATA_DIR.
`;

/** A command line that cannot be run as written (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `tag create` settings; `gap` is unset when the configured default applies. */
export type CreateRequest = Omit<CreateTagInput, 'gap'> & { readonly gap?: bigint };

/** A parsed admin command. */
export type AdminCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'create'; readonly json: boolean; readonly input: CreateRequest }
  | { readonly kind: 'list'; readonly json: boolean }
  | { readonly kind: 'show'; readonly json: boolean; readonly name: string }
  | {
      readonly kind: 'decode';
      readonly json: boolean;
      readonly name: string;
      readonly ids: readonly string[];
    }
  | {
      readonly kind: 'update';
      readonly json: boolean;
      readonly name: string;
      /** Without the shape: that needs the tag's current one (see {@link mergeShape}). */
      readonly changes: TagChanges;
      /** The shape flags given, merged with the tag's shape before the update. */
      readonly shape?: ShapeFlags;
    }
  | {
      readonly kind: 'bump';
      readonly json: boolean;
      readonly name: string;
      readonly how: 'to' | 'by';
      readonly value: bigint;
    }
  | { readonly kind: 'bump-all'; readonly json: boolean; readonly by: bigint }
  | { readonly kind: 'delete'; readonly json: boolean; readonly name: string }
  | {
      readonly kind: 'export';
      readonly json: boolean;
      readonly out?: string;
      /** Replace `out` even when the store holds less than it. */
      readonly force: boolean;
      /** Mark the store moved first: no new snowflake worker ID claim is granted on it. */
      readonly move: boolean;
      /** Where the outcome is recorded for Prometheus (cli/backup-status.ts). */
      readonly statusFile?: string;
    }
  | {
      readonly kind: 'import';
      readonly json: boolean;
      readonly file: string;
      /** Instead of each tag's own gap. */
      readonly gap?: bigint;
      readonly dryRun: boolean;
      /** How long worker IDs leased at the export stay held (ms). */
      readonly workerHoldMs: number;
    }
  | { readonly kind: 'release-imported'; readonly json: boolean };

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  mode: { type: 'string' },
  step: { type: 'string' },
  start: { type: 'string' },
  max: { type: 'string' },
  gap: { type: 'string' },
  description: { type: 'string' },
  to: { type: 'string' },
  by: { type: 'string' },
  all: { type: 'boolean' },
  yes: { type: 'boolean' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  move: { type: 'boolean' },
  'status-file': { type: 'string' },
  'worker-hold': { type: 'string' },
  shape: { type: 'string' },
  prefix: { type: 'string' },
  width: { type: 'string' },
  key: { type: 'string' },
  regions: { type: 'string' },
} as const;

type Flag = keyof typeof OPTIONS;
type Values = { [K in Flag]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

const SHAPE_FLAGS = ['shape', 'prefix', 'width', 'key'] as const;

/** The flags each command takes, besides --json and --help. */
const ALLOWED: Readonly<Record<string, readonly Flag[]>> = {
  create: ['mode', 'step', 'start', 'max', 'gap', 'description', ...SHAPE_FLAGS, 'regions'],
  list: [],
  show: [],
  decode: [],
  update: ['step', 'max', 'gap', 'description', ...SHAPE_FLAGS, 'regions'],
  bump: ['to', 'by', 'all'],
  delete: ['yes'],
  export: ['out', 'force', 'move', 'status-file'],
  import: ['gap', 'dry-run', 'worker-hold'],
};

/**
 * Parses the arguments after the script name.
 * @throws UsageError naming what is wrong (the caller prints it with {@link USAGE})
 */
export function parseCommand(argv: readonly string[]): AdminCommand {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(parseArgsMessage(err));
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [group, sub, name, ...extra] = positionals;
  if (group === undefined) throw new UsageError('no command given');
  if (group === 'worker') return buildWorker(sub, name, values);
  if (group !== 'tag') {
    throw new UsageError(`unknown command '${group}': expected 'tag', 'worker' or 'audit'`);
  }
  if (sub === undefined) throw new UsageError('no tag command given');
  const allowed = ALLOWED[sub];
  if (!allowed) {
    throw new UsageError(
      `unknown command 'tag ${sub}': expected one of ${Object.keys(ALLOWED).join(', ')}`,
    );
  }
  for (const flag of Object.keys(values) as Flag[]) {
    if (flag !== 'json' && !allowed.includes(flag)) {
      throw new UsageError(`'tag ${sub}' does not take --${flag}`);
    }
  }
  if (extra.length > 0 && sub !== 'decode') {
    throw new UsageError(`unexpected argument '${extra[0]}'`);
  }
  try {
    if (sub === 'decode') {
      if (name === undefined) throw new UsageError(`'tag decode' needs a tag name`);
      if (extra.length === 0) throw new UsageError(`'tag decode ${name}' needs at least one ID`);
      return { kind: 'decode', json: values.json === true, name: checkTagName(name), ids: extra };
    }
    return build(sub, name, values, values.json === true);
  } catch (err) {
    // Values that break a rule (range, name, form) are usage errors too.
    if (isIdAllocError(err, 'INVALID_ARGUMENT')) throw new UsageError(err.message);
    throw err;
  }
}

function build(sub: string, name: string | undefined, v: Values, json: boolean): AdminCommand {
  if (sub === 'list') {
    if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
    return { kind: 'list', json };
  }
  if (sub === 'bump' && v.all) return buildBumpAll(name, v, json);
  if (sub === 'export') {
    if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
    if (v.out === '') throw new UsageError('--out needs a file name');
    if (v.force && v.out === undefined) throw new UsageError('--force goes with --out FILE');
    const status = v['status-file'];
    if (status === '') throw new UsageError('--status-file needs a file name');
    if (status !== undefined && v.out === undefined) {
      throw new UsageError('--status-file goes with --out FILE');
    }
    return {
      kind: 'export',
      json,
      force: v.force === true,
      move: v.move === true,
      ...(v.out === undefined ? {} : { out: v.out }),
      ...(status === undefined ? {} : { statusFile: status }),
    };
  }
  if (sub === 'import') {
    if (name === undefined || name === '') {
      throw new UsageError(`'tag import' needs the file written by 'tag export'`);
    }
    const gap = v.gap === undefined ? undefined : parseGap(v.gap);
    const hold =
      v['worker-hold'] === undefined ? DEFAULT_WORKER_HOLD_MS : parseWorkerHold(v['worker-hold']);
    if (typeof hold === 'string') throw new UsageError(hold);
    return {
      kind: 'import',
      json,
      file: name,
      dryRun: v['dry-run'] === true,
      workerHoldMs: hold,
      ...(gap === undefined ? {} : { gap }),
    };
  }
  if (name === undefined) throw new UsageError(`'tag ${sub}' needs a tag name`);
  checkTagName(name);
  switch (sub) {
    case 'create':
      return { kind: 'create', json, input: buildCreate(name, v) };
    case 'show':
      return { kind: 'show', json, name };
    case 'update': {
      const shape = shapeFlags(v);
      return {
        kind: 'update',
        json,
        name,
        changes: buildUpdate(v, shape !== undefined),
        ...(shape === undefined ? {} : { shape }),
      };
    }
    case 'bump':
      return buildBump(name, v, json);
    case 'delete':
    default:
      if (!v.yes) {
        throw new UsageError(
          `refusing to delete tag '${name}' without --yes: deleting stops every node from allocating it`,
        );
      }
      return { kind: 'delete', json, name };
  }
}

function buildCreate(name: string, v: Values): CreateRequest {
  const mode: TagMode = v.mode === undefined ? 'segment' : parseMode(v.mode);
  if (mode === 'snowflake') {
    const given = (['step', 'start', 'max', 'gap'] as const).filter((f) => v[f] !== undefined);
    if (given.length > 0) {
      throw new UsageError(
        `a snowflake tag takes no --${given.join(', --')}: its IDs come from the clock, not a counter`,
      );
    }
  }
  const step = v.step === undefined ? 1000 : parseSmallInt('--step', v.step, 1, MAX_SMALL);
  const start = v.start === undefined ? 1n : parseId('--start', v.start);
  const gap = v.gap === undefined ? undefined : parseGap(v.gap);
  const description = checkDescription(v.description ?? '');
  const flags = shapeFlags(v);
  const shape = flags === undefined ? undefined : mergeShape(flags, undefined);
  const regions = parseRegions(v.regions);
  if (mode === 'snowflake') checkShapeAndRegions('snowflake', shape, regions);
  // The largest max the shape and region count allow, unless one is given.
  const max =
    v.max === undefined ? counterLimit(shape ?? PLAIN, regions ?? 1) : parseId('--max', v.max);
  const shaped = {
    ...(shape === undefined || mode === 'snowflake' ? {} : { shape }),
    ...(regions === undefined || mode === 'snowflake' ? {} : { regions }),
  };
  // The full check runs once the default gap is known; here a placeholder stands in.
  checkCreateInput({ name, mode, step, start, max, gap: gap ?? 0n, description, ...shaped });
  return {
    name,
    mode,
    step,
    start,
    max,
    description,
    ...shaped,
    ...(gap === undefined ? {} : { gap }),
  };
}

function buildUpdate(v: Values, shapeGiven: boolean): TagChanges {
  const regions = parseRegions(v.regions);
  const changes: TagChanges = {
    ...(v.step === undefined ? {} : { step: parseSmallInt('--step', v.step, 1, MAX_SMALL) }),
    ...(v.max === undefined ? {} : { max: parseId('--max', v.max) }),
    ...(v.gap === undefined ? {} : { gap: parseGap(v.gap) }),
    ...(v.description === undefined ? {} : { description: v.description }),
    ...(regions === undefined ? {} : { regions }),
  };
  if (Object.keys(changes).length === 0 && !shapeGiven) {
    throw new UsageError(
      `'tag update' needs at least one of --step, --max, --gap, --description, --shape, --prefix, --width, --key, --regions`,
    );
  }
  return checkTagChanges(changes);
}

/** The shape flags of `tag create` / `tag update`; `prefix: null` is `--prefix ''` (none). */
export interface ShapeFlags {
  readonly kind?: ShapeKind;
  readonly prefix?: string | null;
  readonly width?: number;
  readonly key?: string;
}

function shapeFlags(v: Values): ShapeFlags | undefined {
  if (SHAPE_FLAGS.every((f) => v[f] === undefined)) return undefined;
  if (v.shape !== undefined && !SHAPE_KINDS.includes(v.shape as ShapeKind)) {
    throw new UsageError(`--shape '${v.shape}' is not allowed: expected ${SHAPE_KINDS.join(', ')}`);
  }
  return {
    ...(v.shape === undefined ? {} : { kind: v.shape as ShapeKind }),
    ...(v.prefix === undefined ? {} : { prefix: v.prefix === '' ? null : v.prefix }),
    ...(v.width === undefined
      ? {}
      : { width: parseSmallInt('--width', v.width, MIN_WIDTH, ID_BITS) }),
    ...(v.key === undefined ? {} : { key: v.key.toLowerCase() }),
  };
}

function parseRegions(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseSmallInt('--regions', text, 1, MAX_REGIONS);
}

/**
 * The shape a tag gets from the flags given and the shape it has (`current`, none for
 * `tag create`): what is not given is kept; a permute shape gets width 63 and a new
 * key (newPermuteKey) unless it has or is given them; width and key go when the shape
 * is not permute any more.
 * @throws IdAllocError INVALID_ARGUMENT (checkShape) naming the value and the rule
 */
export function mergeShape(flags: ShapeFlags, current: TagShape | undefined): TagShape {
  const kind = flags.kind ?? current?.kind ?? 'plain';
  const prefix = flags.prefix === null ? undefined : (flags.prefix ?? current?.prefix);
  const wasPermute = current?.kind === 'permute';
  if (kind !== 'permute' && (flags.width !== undefined || flags.key !== undefined)) {
    throw invalidArgument(`--width and --key are only for --shape permute, not ${kind}`);
  }
  const shape: TagShape =
    kind === 'permute'
      ? {
          kind,
          width: flags.width ?? (wasPermute ? current.width : undefined) ?? DEFAULT_WIDTH,
          key: flags.key ?? (wasPermute ? current.key : undefined) ?? newPermuteKey(),
          ...(prefix === undefined ? {} : { prefix }),
        }
      : { kind, ...(prefix === undefined ? {} : { prefix }) };
  return checkShape(Object.freeze(shape));
}

function buildBump(name: string, v: Values, json: boolean): AdminCommand {
  if ((v.to === undefined) === (v.by === undefined)) {
    throw new UsageError(`'tag bump ${name}' needs exactly one of --to N or --by N`);
  }
  if (v.to !== undefined) {
    return { kind: 'bump', json, name, how: 'to', value: checkBump('to', parseId('--to', v.to)) };
  }
  return { kind: 'bump', json, name, how: 'by', value: parseBy(v.by ?? '') };
}

function buildBumpAll(name: string | undefined, v: Values, json: boolean): AdminCommand {
  if (name !== undefined) {
    throw new UsageError(`'tag bump --all' takes no tag name (got '${name}')`);
  }
  if (v.to !== undefined) throw new UsageError(`'tag bump --all' takes --by N, not --to`);
  if (v.by === undefined) throw new UsageError(`'tag bump --all' needs --by N`);
  return { kind: 'bump-all', json, by: parseBy(v.by) };
}

/** `worker release-imported`: the one worker command, taking --json only. */
function buildWorker(sub: string | undefined, extra: string | undefined, v: Values): AdminCommand {
  if (sub !== 'release-imported') {
    throw new UsageError(
      `unknown command 'worker ${sub ?? ''}'`.trimEnd() + `: expected 'worker release-imported'`,
    );
  }
  const flag = (Object.keys(v) as Flag[]).find((f) => f !== 'json');
  if (flag !== undefined) throw new UsageError(`'worker release-imported' does not take --${flag}`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return { kind: 'release-imported', json: v.json === true };
}

function parseMode(text: string): TagMode {
  if (text === 'segment' || text === 'snowflake') return text;
  throw new UsageError(`--mode '${text}' is not allowed: expected segment or snowflake`);
}

function parseGap(text: string): bigint {
  return BigInt(parseSmallInt('--gap', text, 0, MAX_SMALL));
}

function parseBy(text: string): bigint {
  return checkBump('by', BigInt(parseSmallInt('--by', text, 1, MAX_SMALL)));
}

/** node's parseArgs messages, on one line and in this script's words where clearer. */
function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const unknown = /Unknown option '([^']+)'/.exec(e.message ?? '');
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    return `unknown option '${unknown[1]}'`;
  }
  const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(e.message ?? '');
  if (ambiguous) {
    const flag = ambiguous[1]!;
    return `${flag} is followed by a value starting with '-': write it as ${flag}=VALUE if that is meant`;
  }
  return (e.message ?? String(err)).replace(/\s*\n\s*/g, ' ');
}
