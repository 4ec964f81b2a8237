/**
 * The rate limit of the warn line about refused requests (src/http/refusals.ts).
 */
import { describe, expect, it } from 'vitest';
import { RefusalLog } from '../../src/http/refusals.js';

describe('RefusalLog', () => {
  it('gives warn to the first refusal of each interval, with the count left out before it', () => {
    let now = 1_000;
    const log = new RefusalLog(() => now, 60_000);
    expect(log.next()).toEqual({ level: 'warn', leftOut: 0 });
    for (let i = 0; i < 5; i++) expect(log.next()).toEqual({ level: 'debug' });
    now += 59_999;
    expect(log.next()).toEqual({ level: 'debug' });
    now += 1;
    expect(log.next()).toEqual({ level: 'warn', leftOut: 6 });
    expect(log.next()).toEqual({ level: 'debug' });
  });
});
