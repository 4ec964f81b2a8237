/**
 * The file of `tag export` / `tag import`: one JSON document holding every tag and every
 * tombstone with its configuration and next. IDs and other 64-bit values are decimal
 * strings. {@link parseTagFile} checks every field before anything is written, naming
 * the first value it refuses.
 */
import { MAX_NEXT } from '../store/transfer.js';
import type { WorkerRecord } from '../core/lease-port.js';
import type { TagConfig, TagExport, TagRecord } from '../core/store-ports.js';
import { MAX_DESCRIPTION, MAX_ID, MAX_SMALL, TAG_NAME_PATTERN } from '../core/tags.js';
import { DEPLOYMENT_ID_PATTERN } from '../core/deployment.js';
import { checkRegions, checkShape, PLAIN, type TagShape } from '../core/shape.js';
import { checkMaxLimit } from '../core/tags.js';

export const FILE_FORMAT = 'idalloc-tag-export';
export const FILE_VERSION = 1;

/** Where an export was read from (no secrets: no URL, no password). */
export type StoreOrigin =
  | { readonly kind: 'redis' | 'sentinel' | 'cluster'; readonly keyPrefix: string }
  | { readonly kind: 'embedded'; readonly file: string };

/** A file that cannot be imported: the message names the file, the field and the rule. */
export class TagFileError extends Error {
  override readonly name = 'TagFileError';
}

const iso = (ms: number) => new Date(ms).toISOString();

function tagEntry(record: Extract<TagRecord, { state: 'live' }>): Record<string, unknown> {
  const t: TagConfig = record.tag;
  const common = { name: t.name, mode: t.mode, description: t.description };
  if (t.mode === 'snowflake') {
    return {
      ...common,
      createdAt: iso(t.createdAt),
      ...(record.gap === undefined ? {} : { gap: record.gap.toString() }),
      ...(record.floor === undefined ? {} : { floor: record.floor.toString() }),
      // The deleted segment tag's numbers, key included (absent: plain, one region).
      ...(record.floorShape === undefined ? {} : { floorShape: { ...record.floorShape } }),
      ...(record.floorRegions === undefined ? {} : { floorRegions: record.floorRegions }),
    };
  }
  return {
    ...common,
    createdAt: iso(t.createdAt),
    next: (t.next ?? 0n).toString(),
    step: t.step,
    max: t.max.toString(),
    gap: t.gap.toString(),
    // With the key: a tag imported elsewhere (another region's store) must issue the
    // same IDs. Written for every segment tag; files without it read as plain, 1 region.
    shape: { ...t.shape },
    regions: t.regions,
  };
}

/** Most worker IDs an export may list (SNOWFLAKE_WORKER_BITS is at most 20). */
const MAX_WORKER_ID = 2 ** 20 - 1;
/** A timestamp a worker horizon may hold: at most 15 digits, as the stores keep them. */
const MAX_MS = 10 ** 15 - 1;

/**
 * The document `tag export` writes. `workers`, the snowflake worker IDs the store has a
 * lease or a horizon for, is written only when there is one (a file without it is what
 * earlier versions wrote, and still reads). `snowflakeLayout`, the layout the store records,
 * likewise: an import restores it to a store that lost it. `deployment`, the store's
 * deployment id (core/deployment.ts), which `tag import` adopts; files of earlier versions
 * have none.
 */
export function tagFile(
  exp: TagExport,
  origin: StoreOrigin,
  now: number,
  workers: readonly WorkerRecord[] = [],
  extra: { readonly layout?: string | undefined; readonly deployment?: string } = {},
): Record<string, unknown> {
  const tags: Record<string, unknown>[] = [];
  const tombstones: Record<string, unknown>[] = [];
  for (const r of exp.records) {
    if (r.state === 'live') tags.push(tagEntry(r));
    else {
      tombstones.push({
        name: r.name,
        next: r.next.toString(),
        ...(r.gap === undefined ? {} : { gap: r.gap.toString() }),
        deletedAt: iso(r.deletedAt),
        // The deleted tag's numbers, key included: a tag created again after a store move
        // must keep them. Absent (plain, one region, and files of older versions).
        ...(r.shape === undefined ? {} : { shape: { ...r.shape } }),
        ...(r.regions === undefined ? {} : { regions: r.regions }),
      });
    }
  }
  return {
    format: FILE_FORMAT,
    version: FILE_VERSION,
    exportedAt: iso(now),
    store: origin,
    ...(extra.deployment === undefined ? {} : { deployment: extra.deployment }),
    consistency: exp.consistency,
    tags,
    tombstones,
    ...(workers.length === 0
      ? {}
      : {
          workers: workers.map((w) => ({
            id: w.id,
            horizon: w.horizon,
            ...(w.holder === undefined ? {} : { holder: w.holder }),
          })),
        }),
    ...(extra.layout === undefined ? {} : { snowflakeLayout: extra.layout }),
  };
}

/** A checked file: its records by name, and when it was taken. */
export interface TagFile {
  readonly exportedAt: string;
  readonly records: readonly TagRecord[];
  /** Snowflake worker IDs with their horizons and holders (none in older files). */
  readonly workers: readonly WorkerRecord[];
  /** The snowflake layout the exporting store recorded (none in older files). */
  readonly snowflakeLayout?: string;
  /** The exporting store's deployment id, which import adopts (none in older files). */
  readonly deployment?: string;
  /**
   * Names of entries left out, sorted: keys of another deployment whose `KEY_PREFIX` is
   * nested in the exporting one (`a:` and `a:tag:`), which exports before this check
   * listed as tags (`tag:order`). Such a name has a `:`, which no tag name has.
   */
  readonly ignored: readonly string[];
}

/** An entry named like a key of a nested deployment: left out, not refused. */
function isNestedKey(entry: Json): boolean {
  return typeof entry.name === 'string' && entry.name.includes(':');
}

type Json = Record<string, unknown>;

/** Checks one entry's fields, one value at a time, naming `where` in each refusal. */
class Fields {
  constructor(
    readonly o: Json,
    readonly where: string,
    private readonly file: string,
  ) {}

  fail(field: string, value: unknown, rule: string): never {
    const shown = JSON.stringify(value) ?? 'missing';
    const cut = shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
    throw new TagFileError(`${this.file}: ${this.where}.${field} ${cut} is not allowed: ${rule}`);
  }

  only(allowed: readonly string[]): void {
    for (const k of Object.keys(this.o)) {
      if (!allowed.includes(k))
        this.fail(k, this.o[k], `unknown field (expected ${allowed.join(', ')})`);
    }
  }

  name(): string {
    const v = this.o.name;
    if (typeof v !== 'string' || !TAG_NAME_PATTERN.test(v)) {
      this.fail(
        'name',
        v,
        'expected 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit',
      );
    }
    return v;
  }

  decimal(field: string, min: bigint, max: bigint, optional = false): bigint | undefined {
    const v = this.o[field];
    if (v === undefined && optional) return undefined;
    if (
      typeof v !== 'string' ||
      !/^(0|[1-9]\d{0,19})$/.test(v) ||
      BigInt(v) < min ||
      BigInt(v) > max
    ) {
      this.fail(field, v, `expected a string of decimal digits from ${min} to ${max}`);
    }
    return BigInt(v);
  }

  id(field: string, min: bigint, max: bigint): bigint {
    return this.decimal(field, min, max) as bigint;
  }

  step(): number {
    const v = this.o.step;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_SMALL) {
      this.fail('step', v, `expected an integer from 1 to ${MAX_SMALL}`);
    }
    return v;
  }

  description(): string {
    const v = this.o.description;
    if (typeof v !== 'string' || v.length > MAX_DESCRIPTION) {
      this.fail('description', v, `expected a string of at most ${MAX_DESCRIPTION} characters`);
    }
    return v;
  }

  int(field: string, max: number): number {
    const v = this.o[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
      this.fail(field, v, `expected an integer from 0 to ${max}`);
    }
    return v;
  }

  time(field: string): number {
    const v = this.o[field];
    const ms = typeof v === 'string' ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms) || ms < 0) this.fail(field, v, 'expected an ISO 8601 time');
    return ms;
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const GAP = BigInt(MAX_SMALL);

function parseTag(f: Fields): TagRecord {
  const name = f.name();
  const mode = f.o.mode;
  if (mode === 'snowflake') {
    f.only([
      'name',
      'mode',
      'description',
      'createdAt',
      'gap',
      'floor',
      'floorShape',
      'floorRegions',
    ]);
    const floor = f.decimal('floor', 0n, MAX_NEXT, true);
    const gap = f.decimal('gap', 0n, GAP, true);
    const kept = floorShapeOf(f, 'floorShape', 'floorRegions');
    const tag = {
      name,
      mode,
      description: f.description(),
      createdAt: f.time('createdAt'),
    } as const;
    return {
      state: 'live',
      tag,
      ...(floor === undefined ? {} : { floor }),
      ...(gap === undefined ? {} : { gap }),
      ...(kept && { floorShape: kept.shape, floorRegions: kept.regions }),
    };
  }
  if (mode !== 'segment') f.fail('mode', mode, 'expected "segment" or "snowflake"');
  f.only([
    'name',
    'mode',
    'description',
    'createdAt',
    'next',
    'step',
    'max',
    'gap',
    'shape',
    'regions',
  ]);
  const max = f.id('max', 1n, MAX_ID);
  const { shape, regions } = shapeOf(f, max);
  const tag = {
    name,
    mode,
    step: f.step(),
    max,
    gap: f.id('gap', 0n, GAP),
    description: f.description(),
    createdAt: f.time('createdAt'),
    next: f.id('next', 0n, max + 1n),
    shape,
    regions,
  } as const;
  return { state: 'live', tag };
}

/**
 * A floor's numeric shape (a tombstone's `shape`/`regions`, a snowflake entry's
 * `floorShape`/`floorRegions`): no prefix; undefined for plain, one region.
 */
function floorShapeOf(
  f: Fields,
  shapeField: string,
  regionsField: string,
): { shape: TagShape; regions: number } | undefined {
  if (f.o[shapeField] === undefined && f.o[regionsField] === undefined) return undefined;
  const o = f.o[shapeField];
  if (isObject(o) && o.prefix !== undefined) {
    f.fail(`${shapeField}.prefix`, o.prefix, 'a floor keeps no prefix (only the numbers under it)');
  }
  const kept = shapeOf(f, 0n, shapeField, regionsField);
  return kept.shape.kind === 'plain' && kept.regions === 1 ? undefined : kept;
}

/** A segment entry's shape and region count (absent in older files: plain, 1 region). */
function shapeOf(
  f: Fields,
  max: bigint,
  shapeField = 'shape',
  regionsField = 'regions',
): { shape: TagShape; regions: number } {
  const o = f.o[shapeField];
  const regions = f.o[regionsField] ?? 1;
  let shape: TagShape = PLAIN;
  if (o !== undefined) {
    if (!isObject(o)) f.fail(shapeField, o, 'expected an object {kind, prefix?, width?, key?}');
    const extra = Object.keys(o).find((k) => !['kind', 'prefix', 'width', 'key'].includes(k));
    if (extra !== undefined) f.fail(`${shapeField}.${extra}`, o[extra], 'unknown field');
    shape = o as unknown as TagShape;
  }
  try {
    checkShape(shape);
    if (typeof regions !== 'number') throw new Error('expected an integer from 1 to 1024');
    checkRegions(regions);
    checkMaxLimit(max, shape, regions);
  } catch (err) {
    f.fail(shapeField, { ...shape, key: undefined, regions }, (err as Error).message);
  }
  return { shape: Object.freeze({ ...shape }), regions: regions as number };
}

function parseWorker(f: Fields): WorkerRecord {
  f.only(['id', 'horizon', 'holder']);
  const holder = f.o.holder;
  if (holder !== undefined && (typeof holder !== 'string' || !/^[0-9a-f]{16}$/.test(holder))) {
    f.fail('holder', holder, 'expected 16 lowercase hex digits, or no holder (a free worker ID)');
  }
  return {
    id: f.int('id', MAX_WORKER_ID),
    horizon: f.int('horizon', MAX_MS),
    ...(holder === undefined ? {} : { holder }),
  };
}

function parseTombstone(f: Fields): TagRecord {
  f.only(['name', 'next', 'gap', 'deletedAt', 'shape', 'regions']);
  const gap = f.decimal('gap', 0n, GAP, true);
  const kept = floorShapeOf(f, 'shape', 'regions');
  return {
    state: 'tombstone',
    name: f.name(),
    next: f.id('next', 0n, MAX_NEXT),
    ...(gap === undefined ? {} : { gap }),
    deletedAt: f.time('deletedAt'),
    ...(kept && { shape: kept.shape, regions: kept.regions }),
  };
}

/**
 * Parses and checks the whole file: the format and version, and every field of every
 * entry; a name may appear once. @throws TagFileError naming the file, the entry, the
 * value and the rule
 */
export function parseTagFile(text: string, file: string): TagFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TagFileError(`${file}: not a JSON document (${why})`);
  }
  if (!isObject(doc)) throw new TagFileError(`${file}: expected a JSON object from 'tag export'`);
  if (doc.format !== FILE_FORMAT) {
    throw new TagFileError(
      `${file}: format ${JSON.stringify(doc.format) ?? 'missing'} is not allowed: expected "${FILE_FORMAT}" (a file written by 'tag export')`,
    );
  }
  if (doc.version !== FILE_VERSION) {
    throw new TagFileError(
      `${file}: version ${JSON.stringify(doc.version) ?? 'missing'} is not allowed: this idalloc reads version ${FILE_VERSION}`,
    );
  }
  const top: Fields = new Fields(doc, 'document', file);
  top.time('exportedAt');
  const records: TagRecord[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const [list, parse] of [
    ['tags', parseTag],
    ['tombstones', parseTombstone],
  ] as const) {
    const entries: unknown = doc[list];
    if (!Array.isArray(entries)) top.fail(list, entries, 'expected an array');
    entries.forEach((entry: unknown, i: number) => {
      const where = `${list}[${i}]`;
      if (!isObject(entry)) throw new TagFileError(`${file}: ${where} is not an object`);
      if (isNestedKey(entry)) {
        ignored.push(String(entry.name));
        return;
      }
      const record = parse(new Fields(entry, where, file));
      const name = record.state === 'tombstone' ? record.name : record.tag.name;
      if (seen.has(name)) {
        throw new TagFileError(`${file}: ${where}: the name '${name}' appears twice in the file`);
      }
      seen.add(name);
      records.push(record);
    });
  }
  const name = (r: TagRecord) => (r.state === 'tombstone' ? r.name : r.tag.name);
  records.sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
  const deployment: unknown = doc.deployment;
  if (deployment !== undefined) {
    if (typeof deployment !== 'string' || !DEPLOYMENT_ID_PATTERN.test(deployment)) {
      top.fail(
        'deployment',
        deployment,
        'expected 1 to 64 printable ASCII characters without spaces, as tag export writes it',
      );
    }
  }
  return {
    exportedAt: String(doc.exportedAt),
    records,
    workers: parseWorkers(doc, top, file),
    ...parseLayout(doc, top),
    ...(deployment === undefined ? {} : { deployment }),
    ignored: ignored.sort(),
  };
}

/** A layout as `layoutFingerprint` writes it (the epoch's year may have 6 digits). */
const LAYOUT_PATTERN =
  /^epoch=[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z bits=\d{1,2}\/\d{1,2}\/\d{1,2}$/;

/** The optional `snowflakeLayout`. */
function parseLayout(doc: Json, top: Fields): { snowflakeLayout?: string } {
  const value: unknown = doc.snowflakeLayout;
  if (value === undefined) return {};
  if (typeof value !== 'string' || !LAYOUT_PATTERN.test(value)) {
    top.fail(
      'snowflakeLayout',
      value,
      'expected a layout as tag export writes it, e.g. "epoch=2024-01-01T00:00:00.000Z bits=41/10/12"',
    );
  }
  return { snowflakeLayout: value };
}

/** The optional `workers` list: each ID once. */
function parseWorkers(doc: Json, top: Fields, file: string): WorkerRecord[] {
  const entries: unknown = doc.workers;
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) top.fail('workers', entries, 'expected an array');
  const seen = new Set<number>();
  return entries.map((entry: unknown, i: number) => {
    const where = `workers[${i}]`;
    if (!isObject(entry)) throw new TagFileError(`${file}: ${where} is not an object`);
    const worker = parseWorker(new Fields(entry, where, file));
    if (seen.has(worker.id)) {
      throw new TagFileError(`${file}: ${where}: worker ID ${worker.id} appears twice in the file`);
    }
    seen.add(worker.id);
    return worker;
  });
}
