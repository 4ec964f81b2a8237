/**
 * The service's V8 flags (`SERVICE_NODE_FLAGS`, scripts/bench-tools.ts): every launcher
 * passes the same ones, and `--no-memory-reducer` does what src/bin/idalloc.ts says it is
 * there for — no idle-time memory-reducing GC, after which a Node HTTP server served each
 * request with 13–25 % more CPU (docs/benchmarks.md, check of 2026-12-06 15:00).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '../../scripts/bench-tools.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The words between `node` and the bin's path in a command line. */
function flagsBefore(command: readonly string[], script: string): string[] {
  const at = command.indexOf('node');
  const end = command.indexOf(script);
  expect(at, `'node' in ${JSON.stringify(command)}`).toBeGreaterThanOrEqual(0);
  expect(end, `'${script}' in ${JSON.stringify(command)}`).toBeGreaterThan(at);
  return command.slice(at + 1, end);
}

describe('the service V8 flags', () => {
  it('are the same in the bin shebang, npm start, the image CMD and the bench', () => {
    expect(SERVICE_NODE_FLAGS).toEqual(['--no-memory-reducer']);
    const shebang = read('src/bin/idalloc.ts').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${SERVICE_NODE_FLAGS.join(' ')}`);

    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
      .start!;
    expect(flagsBefore(start.split(/\s+/), 'dist/bin/idalloc.js')).toEqual(SERVICE_NODE_FLAGS);

    const cmd = read('Dockerfile')
      .split('\n')
      .find((l) => l.startsWith('CMD '));
    expect(cmd, 'the Dockerfile has a CMD line').toBeDefined();
    const words = JSON.parse(cmd!.slice('CMD '.length)) as string[];
    expect(flagsBefore(words, 'dist/bin/idalloc.js')).toEqual(SERVICE_NODE_FLAGS);

    // The bench starts idalloc and its baselines with them.
    const bench = read('scripts/bench.ts');
    expect(bench).toContain("[...SERVICE_NODE_FLAGS, 'dist/bin/idalloc.js']");
    expect(bench).toContain("[...SERVICE_NODE_FLAGS, 'scripts/bench-server.mjs', kind]");
  });

  // The control shows the premise still holds on this Node: with nothing idle to do but
  // drop a few vm contexts, V8 runs a memory-reducing GC within about 17 s (8 s timers).
  it('--no-memory-reducer keeps an idle process from memory-reducing GCs (the control has them)', async () => {
    const script = `
      const vm = require('node:vm');
      let keep = [];
      for (let i = 0; i < 200000; i++) keep.push({ i, s: 'x' + i });
      keep = null;
      for (let i = 0; i < 5; i++) vm.runInNewContext('1 + 1');
      setTimeout(() => {}, 25000);
    `;
    const children: ChildProcess[] = [];
    /**
     * What `--trace-gc` printed, until a memory-reducing GC shows or after 25 s; and how
     * the process ended (a flag Node refused would end it at once, printing nothing).
     */
    const reduces = (flags: readonly string[]) =>
      new Promise<{ reduced: string[]; gcs: number; code: number | null }>((resolve, reject) => {
        const child = spawn(process.execPath, [...flags, '--trace-gc', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        let out = '';
        const found = () => out.split('\n').filter((l) => l.includes('(reduce)'));
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (found().length > 0) child.kill();
        });
        child.on('error', reject);
        child.on('close', (code) =>
          resolve({
            reduced: found(),
            gcs: out.split('\n').filter((l) => / ms: /.test(l)).length,
            code,
          }),
        );
      });
    const controlled = reduces([]);
    const flaggedRun = reduces(SERVICE_NODE_FLAGS);
    // The flagged process is watched for as long as the control needed, and 5 s more.
    const control = await controlled;
    const margin = setTimeout(() => children[1]?.kill(), 5_000);
    const flagged = await flaggedRun;
    clearTimeout(margin);
    expect(control.reduced.length, 'the control process ran a memory-reducing GC').toBeGreaterThan(
      0,
    );
    // The flagged process ran (its scavenges are traced): Node took the flag.
    expect(flagged.gcs, 'the flagged process traced its GCs').toBeGreaterThan(0);
    expect([null, 0], 'the flagged process was stopped or ended by itself').toContain(flagged.code);
    expect(flagged.reduced).toEqual([]);
  }, 40_000);
});
