/**
 * The outage log (src/observe/outage-log.ts): a line when an outage starts, a summary at
 * most every interval while it lasts, a line when it ends — however many errors the
 * client reports meanwhile (about two a second while Redis is down).
 */
import { describe, expect, it } from 'vitest';
import { OutageLog } from '../../src/observe/outage-log.js';

function harness(summaryEveryMs = 60_000) {
  let clock = 1_000_000;
  const lines: { level: 'warn' | 'info'; fields: Record<string, unknown>; msg: string }[] = [];
  const log = new OutageLog({
    subject: 'store connection',
    summaryEveryMs,
    now: () => clock,
    log: {
      warn: (fields, msg) => lines.push({ level: 'warn', fields: { ...fields }, msg }),
      info: (fields, msg) => lines.push({ level: 'info', fields: { ...fields }, msg }),
    },
  });
  return {
    log,
    lines,
    advance(ms: number) {
      clock += ms;
    },
  };
}

describe('OutageLog', () => {
  it('an outage of 3 s with two errors a second: one warn at the start, one info at the end', () => {
    const { log, lines, advance } = harness();
    for (let i = 0; i < 6; i++) {
      log.error(new Error('connect ECONNREFUSED 127.0.0.1:6390'), 'general');
      log.error(new Error('connect ECONNREFUSED 127.0.0.1:6390'), 'allocation');
      advance(500);
    }
    expect(log.inOutage).toBe(true);
    log.ready('general');
    expect(lines).toHaveLength(1); // the allocation connection is still down
    log.ready('allocation');
    expect(log.inOutage).toBe(false);
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: { connection: 'general', err: 'connect ECONNREFUSED 127.0.0.1:6390' },
        msg: 'store connection lost: reconnecting',
      },
      {
        level: 'info',
        fields: { errors: 12, downMs: 3000 },
        msg: 'store connection back after 3 s',
      },
    ]);
  });

  it('a long outage: a summary per interval, with the errors since the last line and the last error', () => {
    const { log, lines, advance } = harness(10_000);
    log.error(new Error('first'), 'general');
    for (let i = 0; i < 50; i++) {
      advance(500);
      log.error(new Error(`error ${i}`), 'general');
    }
    // 25 s: summaries at 10 s and 20 s.
    expect(lines.map((l) => l.msg)).toEqual([
      'store connection lost: reconnecting',
      'store connection still down: 20 errors in the last 10 s',
      'store connection still down: 20 errors in the last 10 s',
    ]);
    expect(lines[1]!.fields).toEqual({
      connection: 'general',
      errors: 20,
      lastError: 'error 19',
      downMs: 10_000,
    });
    log.ready('general');
    expect(lines.at(-1)).toEqual({
      level: 'info',
      fields: { errors: 51, downMs: 25_000 },
      msg: 'store connection back after 25 s',
    });
  });

  it('a ready without an outage says nothing; the next outage starts afresh', () => {
    const { log, lines, advance } = harness(10_000);
    log.ready('general');
    expect(lines).toEqual([]);
    log.error(new Error('a'));
    advance(1000);
    log.ready();
    advance(60_000);
    log.error(new Error('b'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'store connection lost: reconnecting'],
      ['info', 'store connection back after 1 s'],
      ['warn', 'store connection lost: reconnecting'],
    ]);
  });
});
