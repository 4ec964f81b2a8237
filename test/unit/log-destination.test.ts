/**
 * The service log's destination (src/log-destination.ts): lines written whole and in
 * order; a destination that cannot be written (ENOSPC on /dev/full here, EPIPE for a dead
 * reader) is reported once, and every later line dropped and counted, never retried.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogDestination } from '../../src/log-destination.js';

describe('LogDestination', () => {
  it('writes every line, in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-dest-'));
    const fd = openSync(join(dir, 'out.log'), 'a');
    try {
      const reports: string[] = [];
      const dest = new LogDestination(fd, (l) => reports.push(l));
      for (let i = 0; i < 100; i++) dest.write(`{"n":${i}}\n`);
      dest.exit();
      const lines = readFileSync(join(dir, 'out.log'), 'utf8').trimEnd().split('\n');
      expect(lines).toEqual(Array.from({ length: 100 }, (_, i) => `{"n":${i}}`));
      expect(reports).toEqual([]);
      expect(dest.dropped).toBe(0);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says once that it cannot write, then drops lines without trying again', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const reports: string[] = [];
      const dest = new LogDestination(fd, (l) => reports.push(l));
      for (let i = 0; i < 5; i++) dest.write('{"msg":"x"}\n');
      dest.exit();
      expect(dest.broken).toBe('ENOSPC');
      expect(dest.dropped).toBe(5);
      expect(reports).toEqual([
        `idalloc: cannot write the log to fd ${fd} (ENOSPC): further log lines are dropped`,
      ]);
    } finally {
      closeSync(fd);
    }
  });
});
