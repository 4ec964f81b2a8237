/**
 * The service log's destination (src/observe/log-destination.ts): lines written whole and in
 * order; a destination that cannot be written (ENOSPC on /dev/full here, EPIPE for a dead
 * reader) is reported once, and every later line dropped and counted, never retried.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogDestination } from '../../src/observe/log-destination.js';

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

  it('a broken destination refuses a grant line', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const dest = new LogDestination(fd, () => {});
      expect(dest.writeGrant(() => dest.write('{"msg":"grant"}\n'))).toBe('ENOSPC');
      expect(dest.grantFault).toBe('ENOSPC');
      dest.exit();
    } finally {
      closeSync(fd);
    }
  });

  it('with a stalled reader, drops other lines to keep grant lines, and refuses a grant line only when grant lines fill the buffer', () => {
    // A FIFO opened read-write never blocks on open; nobody reads it until the end, so
    // once the pipe's own buffer is full every write fails with EAGAIN: a stalled reader.
    const dir = mkdtempSync(join(tmpdir(), 'log-dest-'));
    const fifo = join(dir, 'out');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const dest = new LogDestination(fd, () => {});
    try {
      const line = (kind: string, n: number) =>
        `${JSON.stringify({ kind, n, pad: 'x'.repeat(64 * 1024) })}\n`;
      // Other lines fill the 4 MiB buffer; past it they are dropped.
      let n = 0;
      while (dest.dropped === 0) dest.write(line('other', n++));
      expect(n).toBeGreaterThan(60);
      const taken: number[] = [];
      let refused: string | undefined;
      for (let g = 0; g < 200 && refused === undefined; g++) {
        refused = dest.writeGrant(() => dest.write(line('grant', g)));
        if (refused === undefined) taken.push(g);
      }
      // Grant lines took the room of the other lines, then were refused once they alone
      // filled the buffer.
      expect(refused).toBe('stalled');
      expect(dest.grantFault).toBe('stalled');
      expect(taken.length).toBeGreaterThan(55);
      expect(dest.dropped).toBeGreaterThan(55);
      // The reader reads again: every grant line taken is written, in order.
      let out = '';
      const buf = Buffer.alloc(1024 * 1024);
      const readAll = () => {
        for (;;) {
          try {
            const got = readSync(reader, buf);
            if (got <= 0) return;
            out += buf.toString('utf8', 0, got);
          } catch {
            return; // EAGAIN: the pipe is empty for now
          }
        }
      };
      for (let i = 0; i < 1000 && (i === 0 || dest.grantFault !== undefined); i++) {
        readAll();
        dest.flush();
      }
      readAll();
      expect(dest.grantFault).toBeUndefined();
      const grants = out
        .split('\n')
        .filter((l) => l.includes('"kind":"grant"'))
        .map((l) => (JSON.parse(l) as { n: number }).n);
      expect(grants).toEqual(taken);
    } finally {
      dest.exit();
      closeSync(reader);
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
