/**
 * The rate limit of the loud line about refused requests (src/http/refusals.ts): one a
 * minute per kind — client errors, conflicts, unavailable — each with its own count.
 */
import { describe, expect, it } from 'vitest';
import { RefusalLog, refusalCode } from '../../src/http/refusals.js';

describe('RefusalLog', () => {
  it('gives warn to the first refusal of each interval, with the count left out before it', () => {
    let now = 1_000;
    const log = new RefusalLog(() => now, 60_000);
    expect(log.next(404)).toEqual({ level: 'warn', leftOut: 0 });
    for (let i = 0; i < 5; i++) expect(log.next(i % 2 ? 400 : 401)).toEqual({ level: 'debug' });
    now += 59_999;
    expect(log.next(404)).toEqual({ level: 'debug' });
    now += 1;
    expect(log.next(400)).toEqual({ level: 'warn', leftOut: 6 });
    expect(log.next(404)).toEqual({ level: 'debug' });
  });

  it('bounds 409 and 503 the same way, each kind on its own (503 at error)', () => {
    let now = 0;
    const log = new RefusalLog(() => now, 60_000);
    expect(log.next(404)).toEqual({ level: 'warn', leftOut: 0 });
    // A flood of 404s does not hide the first conflict or the first 503.
    expect(log.next(409)).toEqual({ level: 'warn', leftOut: 0 });
    expect(log.next(503)).toEqual({ level: 'error', leftOut: 0 });
    for (let i = 0; i < 1000; i++) {
      expect(log.next(409)).toEqual({ level: 'debug' });
      expect(log.next(503)).toEqual({ level: 'debug' });
    }
    now += 60_000;
    expect(log.next(503)).toEqual({ level: 'error', leftOut: 1000 });
    expect(log.next(409)).toEqual({ level: 'warn', leftOut: 1000 });
    expect(log.next(404)).toEqual({ level: 'warn', leftOut: 0 });
  });

  it("keeps a probe's 503 apart: a balancer polling a not-ready /readyz hides no outage's 503", () => {
    let now = 0;
    const log = new RefusalLog(() => now, 60_000);
    expect(log.next(503, true)).toEqual({ level: 'warn', leftOut: 0 });
    for (let i = 0; i < 100; i++) expect(log.next(503, true)).toEqual({ level: 'debug' });
    // The first 503 of an ID route is still the loud one.
    expect(log.next(503)).toEqual({ level: 'error', leftOut: 0 });
    now += 60_000;
    expect(log.next(503, true)).toEqual({ level: 'warn', leftOut: 100 });
  });
});

describe('refusalCode', () => {
  it('names 400, 401, 404, 409 and 503 answers by their error code, nothing else', () => {
    const res = (statusCode: number, code?: string) => ({
      statusCode,
      locals: code ? { error: { code } } : {},
    });
    expect(refusalCode(res(409, 'WRONG_MODE'))).toBe('WRONG_MODE');
    expect(refusalCode(res(503, 'UNAVAILABLE'))).toBe('UNAVAILABLE');
    expect(refusalCode(res(404))).toBe('HTTP_404');
    expect(refusalCode(res(500, 'INTERNAL'))).toBeUndefined();
    expect(refusalCode(res(200))).toBeUndefined();
  });
});
