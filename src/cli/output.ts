/**
 * What the admin script prints: a human form and a `--json` form of each result. In
 * JSON every ID (and every other 64-bit value) is a string of decimal digits.
 */
import type { BumpResult, SegmentTagConfig, TagConfig } from '../core/store-ports.js';
import type { TagShape } from '../core/shape.js';

/** How long a segment tag lasts, as far as its hash can tell (`tag show`). */
export interface TagForecast {
  /** IDs from next up to max. */
  readonly idsLeft: string;
  /**
   * IDs per second since the tag was created, counting its counter from 1: the hash keeps
   * no start, so this is at most the true rate (exactly it for a tag started at 1).
   */
  readonly averageIdsPerSecond: number | null;
  /** When max is reached at that rate: the tag lasts at least until then. */
  readonly lastsAtLeastUntil: string | null;
}

export function tagForecast(t: TagConfig, now: number): TagForecast | null {
  if (t.mode !== 'segment' || t.next === undefined) return null;
  const left = t.max + 1n > t.next ? t.max + 1n - t.next : 0n;
  const ageSeconds = (now - t.createdAt) / 1000;
  const used = Number(t.next - 1n);
  const rate = t.createdAt > 0 && ageSeconds > 0 && used > 0 ? used / ageSeconds : null;
  const endMs = rate === null ? NaN : now + (Number(left) / rate) * 1000;
  return {
    idsLeft: left.toString(),
    averageIdsPerSecond: rate,
    lastsAtLeastUntil:
      Number.isFinite(endMs) && endMs <= 8.64e15 ? new Date(endMs).toISOString() : null,
  };
}

function forecastRow(f: TagForecast): string {
  if (f.averageIdsPerSecond === null) return 'no rate yet (nothing issued since creation)';
  const r = f.averageIdsPerSecond;
  const rate = r >= 100 ? String(Math.round(r)) : r.toPrecision(3);
  const until = f.lastsAtLeastUntil ?? 'beyond the year 275000';
  return `at the average rate since creation (at most ${rate} IDs/s), lasts at least until ${until}`;
}

/** `tag show`: one `field  value` line each; a segment tag's forecast when `now` is given. */
export function tagText(t: TagConfig, now?: number): string {
  const rows: [string, string][] = [
    ['name', t.name],
    ['mode', t.mode],
  ];
  if (t.mode === 'segment') {
    rows.push(
      ['next ID', t.next?.toString() ?? '(missing: the tag is damaged)'],
      ['step', String(t.step)],
      ['max', t.max.toString()],
      ['gap', t.gap.toString()],
      ...shapeRows(t),
    );
  }
  rows.push(['description', t.description], ['created', new Date(t.createdAt).toISOString()]);
  const f = now === undefined ? null : tagForecast(t, now);
  if (f !== null) rows.push(['IDs left', `${f.idsLeft} before max`], ['forecast', forecastRow(f)]);
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`.trimEnd()).join('\n') + '\n';
}

/**
 * A segment tag's shape lines for `tag show` (docs/admin.md): the shape, its prefix and
 * width where it has them, the region count and, the admin script being the only place
 * that shows it, the permute key.
 */
function shapeRows(t: SegmentTagConfig): [string, string][] {
  const { shape } = t;
  const rows: [string, string][] = [['shape', shape.kind]];
  if (shape.prefix !== undefined) rows.push(['prefix', `${shape.prefix} (IDs ${shape.prefix}_…)`]);
  if (shape.width !== undefined)
    rows.push(['width', `${shape.width} (IDs below 2^${shape.width})`]);
  if (shape.key !== undefined) rows.push(['key', `${shape.key} (secret: enumerates the IDs)`]);
  rows.push(['regions', String(t.regions)]);
  const fixed =
    t.first === undefined
      ? 'fixed (no record of the first counter value: created before shapes, or imported)'
      : t.next === t.first
        ? 'may change (no ID issued yet)'
        : 'fixed (IDs were issued)';
  rows.push(['shape is', fixed]);
  return rows;
}

/**
 * A segment tag's shape in a word or three for `tag list`: `plain`, `bitreverse`,
 * `permute(40)`, then `,prefix=ord` and `,regions=3` when it has them (never the key).
 */
export function shapeLabel(t: { readonly shape: TagShape; readonly regions: number }): string {
  const { shape } = t;
  const parts = [shape.kind === 'permute' ? `permute(${shape.width})` : shape.kind];
  if (shape.prefix !== undefined) parts.push(`prefix=${shape.prefix}`);
  if (t.regions > 1) parts.push(`regions=${t.regions}`);
  // No spaces: the table stays columns split by whitespace.
  return parts.join(',');
}

/** `tag list`: a table, one tag a row. */
export function tagTable(tags: readonly TagConfig[]): string {
  if (tags.length === 0) return 'no tags\n';
  const rows = [['NAME', 'MODE', 'NEXT', 'STEP', 'MAX', 'GAP', 'SHAPE', 'DESCRIPTION']];
  for (const t of tags) {
    const seg = t.mode === 'segment';
    rows.push([
      t.name,
      t.mode,
      seg ? (t.next?.toString() ?? '?') : '-',
      seg ? String(t.step) : '-',
      seg ? t.max.toString() : '-',
      seg ? t.gap.toString() : '-',
      seg ? shapeLabel(t) : '-',
      t.description,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `tag create`: what was created, and whether a deleted tag's tombstone raised its start. */
export function createdText(t: TagConfig, requestedStart: bigint, raised: boolean): string {
  const lines = [`created ${t.mode} tag '${t.name}'`];
  if (t.mode === 'segment') {
    lines[0] += `: next ID ${t.next?.toString() ?? '?'}, step ${t.step}, max ${t.max}, gap ${t.gap}`;
    if (t.shape.kind !== 'plain' || t.shape.prefix !== undefined || t.regions !== 1) {
      const width = t.shape.width === undefined ? '' : ` width ${t.shape.width}`;
      const prefix = t.shape.prefix === undefined ? '' : ` prefix ${t.shape.prefix}`;
      lines[0] += `, shape ${t.shape.kind}${width}${prefix}, regions ${t.regions}`;
      if (t.shape.key !== undefined) {
        lines.push(
          `key ${t.shape.key}: keep it secret (whoever holds it can enumerate the IDs); give it with --key to the same tag in another region's store`,
        );
      }
    }
  }
  if (raised) {
    lines.push(
      `note: a deleted tag named '${t.name}' had issued IDs up to ${(t.next ?? 1n) - 1n}; ` +
        `the new tag starts at ${t.next?.toString() ?? '?'} instead of ${requestedStart} so no ID is issued twice`,
    );
  }
  return lines.join('\n') + '\n';
}

/** One bump as JSON. */
export function bumpJson(tag: string, r: BumpResult): Record<string, unknown> {
  return {
    tag,
    previous: r.previous.toString(),
    next: r.next.toString(),
    clamped: r.clamped,
  };
}

/** One bump as a line. */
export function bumpText(tag: string, r: BumpResult): string {
  if (r.next === r.previous) {
    return `tag '${tag}' unchanged: next ID stays ${r.next}${r.clamped ? ' (the tag is exhausted)' : ''}\n`;
  }
  const clamped = r.clamped
    ? ` (stopped at max + 1: the tag is now exhausted; raise its --max to issue more)`
    : '';
  return `bumped tag '${tag}': next ID ${r.previous} -> ${r.next}${clamped}\n`;
}

/** A JSON document on one line. */
export function json(value: unknown): string {
  return JSON.stringify(value) + '\n';
}

/**
 * A warning line for stderr: the command still did its work (exit code unchanged). With
 * `--json`, `{"warning":{"code","message",…details}}`.
 */
export function warning(
  asJson: boolean,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): string {
  return asJson
    ? json({ warning: { code, message, ...details } })
    : `idalloc-admin: warning: ${message}\n`;
}

/** A key or name as shown in a message: quoted, cut at 80 characters. */
function shown(text: string): string {
  const quoted = JSON.stringify(text);
  return quoted.length > 82 ? `${quoted.slice(0, 81)}…"` : quoted;
}

/** `list`, `bump --all`, `export`: keys under the tag pattern that are not tags here. */
export function ignoredKeysMessage(count: number, example: string, keyPrefix: string): string {
  return (
    `left out ${count} key${count === 1 ? '' : 's'} under KEY_PREFIX ${shown(keyPrefix)} that ${count === 1 ? 'is' : 'are'} not tags of this deployment, e.g. ${shown(example)} ` +
    `(keys of another deployment whose KEY_PREFIX is nested in this one, or not a tag hash)`
  );
}

/** `import`: entries of the file named like keys, not tags (an export with a nested prefix's keys). */
export function ignoredEntriesMessage(count: number, example: string): string {
  return (
    `left out ${count} entr${count === 1 ? 'y' : 'ies'} of the file whose name is not a tag name, e.g. ${shown(example)} ` +
    `(keys of another deployment whose KEY_PREFIX is nested in the exporting one, which an older export listed as tags)`
  );
}
