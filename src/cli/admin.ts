/**
 * The admin script (docs/design.md §3), run through bin/idalloc-admin.ts (which checks the
 * Node.js version before loading this): creates, lists, shows, updates, bumps, deletes, exports and
 * imports tags in the same store the service uses, with the same configuration (docs/design.md
 * §10). Thin by design: args.ts parses, output.ts prints, the store decides.
 *
 * `audit` (cli/audit.ts) reads grant logs instead of the store.
 *
 * Exit codes: 0 done, 1 refused or failed (what and why on stderr), 2 usage error.
 */
import { adminOptions, type AdminOptions } from '../config/options.js';
import { loadConfig } from '../config/schema.js';
import { ConfigError, IdAllocError, isIdAllocError } from '../core/errors.js';
import type { Store } from '../core/store-ports.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { defaultGap, openStore, storeLocation, type OpenedStore } from '../store/open.js';
import {
  mergeShape,
  parseCommand,
  SYNOPSIS,
  USAGE,
  UsageError,
  type AdminCommand,
} from './args.js';
import { runAudit } from './audit.js';
import { tagJsonWithKey as tagJson } from '../core/tag-json.js';
import { Shaper } from '../core/shape.js';
import {
  bumpJson,
  bumpText,
  createdText,
  ignoredKeysMessage,
  json,
  tagForecast,
  tagTable,
  tagText,
  warning,
} from './output.js';
import { parseTagFile, TagFileError, type TagFile } from './tag-file.js';
import { STORE_LOST_MS, StoreLost, untilStoreLost } from './import-checks.js';
import { withBackupStatus } from './backup-status.js';
import { ExportRefused, readExportFile, runExport, runImport } from './transfer.js';
import { importLayout, importWorkers, runReleaseImported } from './worker-transfer.js';
import { InputError } from './bounded-input.js';

/** How long the script waits for the store to answer before giving up. */
const REACH_TIMEOUT_MS = 3000;

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** A failure the script reports with exit 1. */
class Failure extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Runs one admin command; resolves to the exit code. */
async function runAdmin(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  // audit reads logs, not the store: it needs no configuration.
  if (argv[0] === 'audit') return runAudit(argv.slice(1), { ...io, stdin: process.stdin });
  let command: AdminCommand;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`idalloc-admin: ${err.message}\n\n${SYNOPSIS}`);
    return 2;
  }
  if (command.kind === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (command.kind === 'version') {
    // The package's version, as `idalloc --version` prints it.
    io.out(`idalloc-admin ${PACKAGE_VERSION}\n`);
    return 0;
  }
  if (command.kind === 'export' && command.statusFile !== undefined) {
    // Recorded whatever happens below, a store that cannot be reached included.
    return withBackupStatus(command.statusFile, io.err, (written) =>
      runCommand(command, env, io, written),
    );
  }
  return runCommand(command, env, io);
}

/** Runs a parsed command against the store; `written` is told the tags an export wrote. */
async function runCommand(
  command: Exclude<AdminCommand, { kind: 'help' } | { kind: 'version' }>,
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
  written?: (tags: number) => void,
): Promise<number> {
  const asJson = command.json;
  // The whole file is checked before any store is opened: a bad one writes nothing.
  let file: TagFile | undefined;
  if (command.kind === 'import') {
    try {
      file = parseTagFile(await readExportFile(command.file), command.file);
    } catch (err) {
      const message =
        err instanceof TagFileError || err instanceof InputError
          ? err.message
          : `cannot read ${command.file}: ${err instanceof Error ? err.message : String(err)}`;
      io.err(
        asJson
          ? json({ error: { code: 'INVALID_ARGUMENT', message } })
          : `idalloc-admin: ${message}\n`,
      );
      return 2;
    }
  }
  let store: OpenedStore | undefined;
  try {
    const options = adminOptions(loadConfig(env));
    // The embedded store's one warning an operator must see here: the file found restored
    // (a new incarnation) by this command's write. Its errors reach stderr as the
    // command's own failure (the thrown error carries the same message).
    store = openStore(options.store, {
      warn: (details, message) =>
        io.err(
          warning(asJson, 'STORE_RESTORED', message, Object.fromEntries(Object.entries(details))),
        ),
      error: () => {},
    });
    store.onIgnoredKeys?.(({ count, example }) =>
      io.err(
        warning(asJson, 'IGNORED_KEYS', ignoredKeysMessage(count, example, options.keyPrefix), {
          count,
          example,
        }),
      ),
    );
    await reach(store, options);
    if (command.kind === 'import') {
      if (!file) return 2;
      // The export's worker IDs after its tags, with the lease length as the margin.
      const transfer = store.workerTransfer();
      const step = {
        holdMs: command.workerHoldMs,
        marginMs: options.leaseMs,
        dryRun: command.dryRun,
        json: command.json,
      };
      const workers = file.workers;
      // The layout first: the snowflake tags let nodes mint again.
      const layoutDiffers = await importLayout(store.layouts, file.snowflakeLayout, command, io);
      const code = await runImport(store, options, file, command, io, () =>
        importWorkers(transfer, workers, step, io),
      );
      return layoutDiffers ? 1 : code;
    }
    return await execute(command, store, options, io, written);
  } catch (err) {
    const failure = toFailure(err);
    io.err(
      asJson
        ? json({ error: { code: failure.code, message: failure.message } })
        : `idalloc-admin: ${failure.message}\n`,
    );
    return 1;
  } finally {
    await store?.close();
  }
}

function toFailure(err: unknown): Failure {
  if (err instanceof Failure) return err;
  if (err instanceof ExportRefused) return new Failure(err.message, err.code);
  if (err instanceof ConfigError) return new Failure(err.message, 'CONFIG');
  if (isIdAllocError(err, 'WRONG_MODE')) {
    // Only segment tags have a counter: update of step/max/gap and bump.
    return new Failure(
      `${err.message} (a snowflake tag's IDs come from the clock: it has no counter, step, max or gap)`,
      err.code,
    );
  }
  if (err instanceof IdAllocError) return new Failure(err.message, err.code);
  return new Failure(err instanceof Error ? err.message : String(err), 'INTERNAL');
}

/**
 * Fails fast when the store does not answer: the general client would otherwise retry
 * in the background for as long as the process lives.
 */
async function reach(store: OpenedStore, options: AdminOptions): Promise<void> {
  let lastError: Error | undefined;
  store.onConnectionError((err) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), REACH_TIMEOUT_MS);
  });
  const answered = await Promise.race([store.ping(), timedOut]);
  clearTimeout(timer);
  if (!answered) {
    const why = lastError?.message ?? `no answer within ${REACH_TIMEOUT_MS / 1000} s`;
    throw new Failure(
      `cannot reach the store at ${storeLocation(options.store)} : ${why}`,
      'UNAVAILABLE',
    );
  }
}

async function execute(
  command: Exclude<AdminCommand, { kind: 'help' | 'version' | 'import' }>,
  store: OpenedStore,
  options: AdminOptions,
  io: Io,
  written?: (tags: number) => void,
): Promise<number> {
  const print = (human: string, machine: unknown) => io.out(command.json ? json(machine) : human);
  switch (command.kind) {
    case 'create': {
      const input = { ...command.input, gap: command.input.gap ?? defaultGap(options.maxStep) };
      const { tag, raisedByTombstone } = await store.createTag(input);
      print(createdText(tag, input.start, raisedByTombstone), {
        created: tagJson(tag),
        raisedByTombstone,
      });
      return 0;
    }
    case 'list': {
      const tags = await store.listTags();
      print(tagTable(tags), { tags: tags.map(tagJson) });
      return 0;
    }
    case 'show': {
      const tag = await store.getTag(command.name);
      if (!tag) throw new Failure(`tag '${command.name}' does not exist`, 'TAG_NOT_FOUND');
      const forecast = tagForecast(tag, Date.now());
      print(tagText(tag, Date.now()), { ...tagJson(tag), ...(forecast ? { forecast } : {}) });
      return 0;
    }
    case 'update': {
      let changes = command.changes;
      if (command.shape !== undefined) {
        // Flags not given keep the tag's own (its prefix, a permute tag's width and key).
        const current = await store.getTag(command.name);
        if (!current) throw new Failure(`tag '${command.name}' does not exist`, 'TAG_NOT_FOUND');
        if (current.mode !== 'segment') {
          throw new Failure(
            `tag '${command.name}' is a snowflake tag: its IDs are shaped by the clock, so it takes no --shape, --prefix, --width or --key`,
            'WRONG_MODE',
          );
        }
        changes = { ...changes, shape: mergeShape(command.shape, current.shape) };
      }
      const tag = await store.updateTag(command.name, changes);
      print(`updated tag '${tag.name}'\n${tagText(tag)}`, { updated: tagJson(tag) });
      return 0;
    }
    case 'decode':
      return decode(store, command, io);
    case 'bump': {
      const result = await store.bumpTag(command.name, command.how, command.value);
      print(bumpText(command.name, result), bumpJson(command.name, result));
      return 0;
    }
    case 'bump-all':
      return bumpAll(store, command.by, command.json, io);
    case 'export':
      return runExport(store, options, { ...command, ...(written ? { written } : {}) }, io);
    case 'release-imported':
      return runReleaseImported(store, options, command, io);
    case 'delete': {
      const before = await store.getTag(command.name);
      await store.deleteTag(command.name);
      const kept =
        before?.mode === 'segment' && before.next !== undefined
          ? `; its tombstone keeps next ID ${before.next} and its shape (${before.shape.kind}${before.shape.width === undefined ? '' : `, width ${before.shape.width}`}, ${before.regions} region(s)), so a tag created again under this name starts above every ID it issued and must have that shape`
          : '';
      print(`deleted tag '${command.name}'${kept}\n`, { deleted: command.name });
      return 0;
    }
  }
}

/**
 * `tag decode NAME ID...`: each ID back to the counter value the store granted and the
 * region index it was issued in (the residue of c·N + i, recovered by the decode
 * itself). An ID that is not one of the tag's is reported and makes the exit code 1.
 */
async function decode(
  store: Store,
  command: Extract<AdminCommand, { kind: 'decode' }>,
  io: Io,
): Promise<number> {
  const tag = await store.getTag(command.name);
  if (!tag) throw new Failure(`tag '${command.name}' does not exist`, 'TAG_NOT_FOUND');
  if (tag.mode !== 'segment') {
    throw new Failure(
      `tag '${command.name}' is a snowflake tag: its IDs are not shaped counter values (GET /v1/decode/${command.name}/{id} takes them apart)`,
      'WRONG_MODE',
    );
  }
  const shaper = new Shaper(tag.shape, tag.regions, 0);
  const results: Record<string, unknown>[] = [];
  let failed = 0;
  for (const id of command.ids) {
    try {
      const { counter, region } = shaper.decode(id);
      results.push({ id, counter: counter.toString(), region });
      if (!command.json)
        io.out(`${id}  counter ${counter}  region ${region} of ${tag.regions}
`);
    } catch (err) {
      if (!isIdAllocError(err)) throw err;
      failed++;
      results.push({ id, error: { code: err.code, message: err.message } });
      if (!command.json)
        io.err(`idalloc-admin: ${err.message}
`);
    }
  }
  if (command.json) io.out(json({ tag: tag.name, regions: tag.regions, ids: results }));
  return failed > 0 ? 1 : 0;
}

/**
 * `tag bump --all --by N`: every segment tag, each reported; snowflake tags are skipped
 * (their IDs come from the clock). A tag that fails does not stop the others; exit 1
 * then. A store that fails every try of one tag for {@link STORE_LOST_MS} stops the run
 * (exit 1, naming the first tag not done) instead of failing every remaining tag one
 * command timeout at a time. A retried bump that ran but lost its reply bumps twice:
 * more IDs skipped, never one repeated.
 */
async function bumpAll(store: Store, by: bigint, asJson: boolean, io: Io): Promise<number> {
  const results: Record<string, unknown>[] = [];
  let failed = 0;
  let stopped: { at: string; reason: string } | undefined;
  const tags = await store.listTags();
  for (const tag of tags) {
    if (tag.mode === 'snowflake') {
      results.push({ tag: tag.name, skipped: 'snowflake' });
      if (!asJson) io.out(`skipped tag '${tag.name}': a snowflake tag has no counter to bump\n`);
      continue;
    }
    try {
      const r = await untilStoreLost(() => store.bumpTag(tag.name, 'by', by));
      results.push(bumpJson(tag.name, r));
      if (!asJson) io.out(bumpText(tag.name, r));
    } catch (err) {
      if (err instanceof StoreLost) {
        stopped = { at: tag.name, reason: err.message };
        break;
      }
      if (!isIdAllocError(err)) throw err;
      failed++;
      results.push({ tag: tag.name, error: { code: err.code, message: err.message } });
      if (!asJson) io.err(`idalloc-admin: bump of '${tag.name}' failed: ${err.message}\n`);
    }
  }
  const done = results.length;
  const message =
    stopped &&
    `stopped: the store failed every try for ${STORE_LOST_MS / 1000} s (${stopped.reason}); ` +
      `${done} of ${tags.length} tags were done (in name order), the first not done is '${stopped.at}'. ` +
      `Run the same bump again once the store answers: tags done are bumped again, which skips more IDs and never repeats one`;
  if (asJson) {
    const stop = stopped && { at: stopped.at, done, notDone: tags.length - done };
    io.out(json({ results, ...(stop ? { stopped: stop } : {}) }));
    if (message) io.err(json({ error: { code: 'UNAVAILABLE', message } }));
  } else {
    if (results.length === 0 && !stopped) io.out('no tags\n');
    if (message) io.err(`idalloc-admin: ${message}\n`);
  }
  return failed > 0 || stopped ? 1 : 0;
}

const code = await runAdmin(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
process.exitCode = code;
// Backstop: the store is closed above; nothing should keep the process alive after it.
setTimeout(() => process.exit(code), 5000).unref();
