/**
 * The bounded reader of the admin script (cli/bounded-input.ts): lines with their CRLF
 * stripped and the last one flagged when it has no newline, a regular file read to the
 * size it had when opened, and the refusals that name the input and the bound.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachLine, InputError, readWhole } from '../../src/cli/bounded-input.js';

const dir = mkdtempSync(join(tmpdir(), 'idalloc-bounded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lines = { pipes: true, idleMs: 5000, maxBytes: Infinity, maxLineBytes: 1024 };

describe('forEachLine', () => {
  it('strips CRLF and flags a last line without its newline', async () => {
    const file = join(dir, 'crlf.log');
    writeFileSync(file, 'a\r\nb\n\nc');
    const seen: [string, boolean][] = [];
    await forEachLine(file, lines, (l, u) => seen.push([l, u]));
    expect(seen).toEqual([
      ['a', false],
      ['b', false],
      ['', false],
      ['c', true],
    ]);
  });

  it('reads a regular file to the size it had when opened, not what is appended since', async () => {
    // Larger than what a stream reads ahead, so that the append lands before the end.
    const file = join(dir, 'growing.log');
    const before = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
    writeFileSync(file, `${before.join('\n')}\n`);
    const seen: string[] = [];
    await forEachLine(file, lines, (l) => {
      if (seen.length === 0) appendFileSync(file, 'appended while read\n');
      seen.push(l);
    });
    expect(seen).toEqual(before);
  });

  it('ends a line longer than the bound, and stdin silent past the idle bound', async () => {
    const file = join(dir, 'long.log');
    writeFileSync(file, `ok\n${'x'.repeat(5000)}`);
    await expect(forEachLine(file, lines, () => {})).rejects.toThrow(
      /^line 2 of '.*long\.log' is longer than/,
    );
    const silent = new Readable({ read() {} }); // never sends a byte
    await expect(
      forEachLine('-', { ...lines, idleMs: 50 }, () => {}, silent),
    ).rejects.toBeInstanceOf(InputError);
    expect(silent.destroyed).toBe(true);
  });
});

describe('readWhole', () => {
  it('reads a file within the bound, and refuses a larger one, a device and stdin', async () => {
    const file = join(dir, 'export.json');
    writeFileSync(file, '{"x":1}');
    const bounds = { pipes: false, idleMs: 0, maxBytes: 100 };
    expect(await readWhole(file, bounds)).toBe('{"x":1}');
    await expect(readWhole(file, { ...bounds, maxBytes: 3 })).rejects.toThrow(/more than the/);
    await expect(readWhole('/dev/null', bounds)).rejects.toThrow(
      /'\/dev\/null' is a character device, not a file/,
    );
    await expect(readWhole('-', bounds)).rejects.toThrow(/stdin\) is not accepted here/);
    await expect(readWhole(join(dir, 'missing'), bounds)).rejects.toThrow(/ENOENT/);
  });
});
