/**
 * The documentation as a whole: the README stays a front door (at most 400 lines, the rest
 * in docs/), it lists every docs/*.md, and every relative link of README.md and docs/*.md
 * leads somewhere — to a file that exists and, with a `#anchor`, to a heading of that
 * file. Moving text between files breaks anchors silently on GitHub; this catches it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { docFiles, docText, procedures, readme } from '../support/readme-procedure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The lines of `text` outside fenced code blocks (a `#` in a shell block is no heading). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/**
 * GitHub's anchor for a heading: lowercase, every character but letters, digits, spaces,
 * `-` and `_` dropped, spaces made `-`.
 */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown text; a repeated heading gets `-1`, `-2` … as on GitHub. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link target of a markdown text outside code blocks: `[text](target)`, images too. */
function links(text: string): string[] {
  return prose(text).flatMap((line) =>
    [...line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
  );
}

describe('slug', () => {
  it('follows GitHub: lowercase, punctuation dropped but - and _, spaces to -', () => {
    expect(slug('HTTP client (`IdClient`)')).toBe('http-client-idclient');
    expect(slug('Every core: `WORKERS`')).toBe('every-core-workers');
    expect(slug('14. Architecture: the parts and the arrows')).toBe(
      '14-architecture-the-parts-and-the-arrows',
    );
    expect(slug('8.1 Incarnation bump — against a counter')).toBe(
      '81-incarnation-bump--against-a-counter',
    );
    expect(slug('Redis (production)')).toBe('redis-production');
    expect([...anchors('# A\n## A\n```sh\n# not a heading\n```\n')]).toEqual(['a', 'a-1']);
  });
});

describe('the documentation', () => {
  it('keeps the README a front door: at most 400 lines', () => {
    expect(readme().split('\n').length).toBeLessThanOrEqual(400);
  });

  it("lists every docs/*.md in the README's Documentation section", () => {
    const section = readme().slice(readme().indexOf('\n## Documentation'));
    const listed = new Set(links(section).map((l) => l.split('#')[0]));
    const docs = docFiles().filter((f) => f !== 'README.md');
    expect(docs.length).toBeGreaterThan(5);
    expect(docs.filter((f) => !listed.has(f))).toEqual([]);
  });

  it('has every relative link lead to a file, and every #anchor to a heading there', () => {
    const broken: string[] = [];
    for (const file of docFiles()) {
      for (const target of links(docText(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const to = path ? normalize(join(dirname(file), path)) : file;
        if (!existsSync(join(ROOT, to))) {
          broken.push(`${file}: ${target} (no file ${to})`);
        } else if (
          anchor !== undefined &&
          !(to.endsWith('.md') && anchors(docText(to)).has(anchor))
        ) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${to})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('marks each recovery procedure once, across README.md and docs/', () => {
    const names = procedures().map((p) => p.name);
    expect(names.length).toBeGreaterThanOrEqual(8);
    expect(new Set(names).size).toBe(names.length);
  });
});
