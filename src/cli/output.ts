/**
 * What the admin script prints: a human form and a `--json` form of each result. In
 * JSON every ID (and every other 64-bit value) is a string of decimal digits.
 */
import type { BumpResult, TagConfig } from '../core/store-ports.js';

/** `tag show`: one `field  value` line each. */
export function tagText(t: TagConfig): string {
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
    );
  }
  rows.push(['description', t.description], ['created', new Date(t.createdAt).toISOString()]);
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`.trimEnd()).join('\n') + '\n';
}

/** `tag list`: a table, one tag a row. */
export function tagTable(tags: readonly TagConfig[]): string {
  if (tags.length === 0) return 'no tags\n';
  const rows = [['NAME', 'MODE', 'NEXT', 'STEP', 'MAX', 'GAP', 'DESCRIPTION']];
  for (const t of tags) {
    const seg = t.mode === 'segment';
    rows.push([
      t.name,
      t.mode,
      seg ? (t.next?.toString() ?? '?') : '-',
      seg ? String(t.step) : '-',
      seg ? t.max.toString() : '-',
      seg ? t.gap.toString() : '-',
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
