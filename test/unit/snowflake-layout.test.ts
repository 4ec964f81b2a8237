import { describe, expect, it } from 'vitest';
import {
  createLayout,
  decodeSnowflake,
  encodeSnowflake,
  runOutWarning,
} from '../../src/allocator/snowflake/layout.js';
import { snowflakeSettings } from '../../src/config/options.js';
import { loadConfig } from '../../src/config/schema.js';

const EPOCH = Date.UTC(2024, 0, 1);
const NOW = Date.UTC(2025, 0, 1);

describe('snowflake layout', () => {
  it('defaults to 41 ms bits from 2024-01-01 | 10 worker | 12 sequence, running out in 2093', () => {
    const l = createLayout();
    expect(l).toMatchObject({
      epochMs: EPOCH,
      timestampBits: 41,
      workerBits: 10,
      sequenceBits: 12,
      workerCount: 1024,
      maxSequence: 4095,
      runsOutAt: '2093-09-06T15:47:35.552Z',
      maxId: 2n ** 63n - 1n,
    });
    expect(l.lastTimestampMs).toBe(Date.parse('2093-09-06T15:47:35.551Z'));
  });

  it('packs timestamp | worker | sequence exactly, with BigInt', () => {
    const l = createLayout();
    expect(encodeSnowflake(l, EPOCH, 0, 0)).toBe(0n);
    expect(encodeSnowflake(l, EPOCH + 1, 0, 0)).toBe(1n << 22n);
    expect(encodeSnowflake(l, EPOCH, 1, 0)).toBe(1n << 12n);
    expect(encodeSnowflake(l, l.lastTimestampMs, 1023, 4095)).toBe(2n ** 63n - 1n);
    const id = encodeSnowflake(l, NOW, 3, 17);
    expect(id).toBe((BigInt(NOW - EPOCH) << 22n) + (3n << 12n) + 17n);
  });

  it('decodes what it encodes', () => {
    const l = createLayout();
    const id = encodeSnowflake(l, NOW + 123, 1000, 4000).toString();
    expect(decodeSnowflake(l, id, NOW)).toEqual({
      id,
      timestamp: NOW + 123,
      time: '2025-01-01T00:00:00.123Z',
      workerId: 1000,
      sequence: 4000,
    });
    expect(decodeSnowflake(l, '0', NOW)).toMatchObject({ timestamp: EPOCH, workerId: 0 });
    expect(decodeSnowflake(l, `00${id}`, NOW).id).toBe(id);
  });

  it.each([
    ['', 'expected decimal digits only'],
    ['-1', 'expected decimal digits only'],
    ['12ab', 'expected decimal digits only'],
    ['1e9', 'expected decimal digits only'],
    [' 1', 'expected decimal digits only'],
    ['123456789012345678901', 'expected decimal digits only'],
    ['9223372036854775808', 'it is 2^63 or more'],
    ['18446744073709551615', 'it is 2^63 or more'],
  ])("refuses '%s' with INVALID_ARGUMENT: %s", (id, why) => {
    expect(() => decodeSnowflake(createLayout(), id, NOW)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining(why),
      }),
    );
  });

  it('names the value in a refusal, shortened when long', () => {
    expect(() => decodeSnowflake(createLayout(), 'x'.repeat(100), NOW)).toThrow(
      `snowflake ID '${'x'.repeat(40)}…' is not valid`,
    );
  });

  it('decodes an ID whose timestamp lies beyond the tolerance ahead of this clock, with a note', () => {
    const l = createLayout();
    const soon = encodeSnowflake(l, NOW + 60_000, 1, 1).toString();
    expect(decodeSnowflake(l, soon, NOW).note).toBeUndefined();
    const hour = encodeSnowflake(l, NOW + 3_600_000, 7, 3).toString();
    expect(decodeSnowflake(l, hour, NOW)).toEqual({
      id: hour,
      timestamp: NOW + 3_600_000,
      time: new Date(NOW + 3_600_000).toISOString(),
      workerId: 7,
      sequence: 3,
      note: "timestamp is 3600000 ms ahead of this node's clock: more than the 60000 ms of skew expected between nodes, so the node that issued it had a clock running fast (or no node of this layout issued it)",
    });
    expect(decodeSnowflake(l, hour, NOW, 7_200_000).note).toBeUndefined();
  });

  it('refuses an ID above a narrower layout (js-safe: 2^53 and up)', () => {
    const l = createLayout({ workerBits: 4, sequenceBits: 8 });
    expect(l.maxId).toBe(2n ** 53n - 1n);
    expect(() => decodeSnowflake(l, String(2n ** 53n), NOW)).toThrow(
      /above 9007199254740991, the largest ID of this layout \(41 \+ 4 \+ 8 bits\)/,
    );
  });

  it.each([
    [{ workerBits: 12, sequenceBits: 12 }, '41 + 12 + 12 = 65 bits is not allowed'],
    [{ timestampBits: 53 }, 'timestamp bits 53 is not allowed: expected an integer from 1 to 52'],
    [{ workerBits: -1 }, 'worker bits -1 is not allowed'],
    [{ sequenceBits: 1.5 }, 'sequence bits 1.5 is not allowed'],
    [{ epochMs: -1 }, 'epoch -1 is not allowed'],
  ])('refuses %o: %s', (opts, message) => {
    expect(() => createLayout(opts)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining(message),
      }),
    );
  });

  it('warns within a year of the run-out, says when it ran out, and is silent before', () => {
    const l = createLayout();
    const end = l.lastTimestampMs + 1;
    expect(runOutWarning(l, NOW)).toBeUndefined();
    expect(runOutWarning(l, end - 366 * 86_400_000)).toBeUndefined();
    expect(runOutWarning(l, end - 30 * 86_400_000)).toMatch(
      /runs out at 2093-09-06T15:47:35.552Z, in 30 days/,
    );
    expect(runOutWarning(l, end)).toMatch(/ran out at 2093-09-06T15:47:35.552Z/);
  });
});

describe('snowflake layout configuration', () => {
  it('takes SNOWFLAKE_EPOCH and the widths from the configuration', () => {
    const l = createLayout(
      snowflakeSettings(
        loadConfig({
          SNOWFLAKE_EPOCH: '2020-01-01T00:00:00Z',
          SNOWFLAKE_WORKER_BITS: '5',
          SNOWFLAKE_SEQUENCE_BITS: '17',
        }),
      ).layout,
    );
    expect(l).toMatchObject({ epochMs: Date.UTC(2020, 0, 1), workerBits: 5, sequenceBits: 17 });
    expect(l.runsOutAt).toBe('2089-09-06T15:47:35.552Z');
  });

  it('SNOWFLAKE_LAYOUT=js-safe gives 41 | 4 | 8: IDs below 2^53', () => {
    const c = loadConfig({ SNOWFLAKE_LAYOUT: 'js-safe' });
    expect([c.SNOWFLAKE_WORKER_BITS, c.SNOWFLAKE_SEQUENCE_BITS]).toEqual([4, 8]);
    const l = createLayout(snowflakeSettings(c).layout);
    expect(encodeSnowflake(l, l.lastTimestampMs, 15, 255)).toBe(2n ** 53n - 1n);
  });

  it('js-safe keeps widths set explicitly, within 12 bits together', () => {
    const c = loadConfig({
      SNOWFLAKE_LAYOUT: 'js-safe',
      SNOWFLAKE_WORKER_BITS: '5',
      SNOWFLAKE_SEQUENCE_BITS: '7',
    });
    expect([c.SNOWFLAKE_WORKER_BITS, c.SNOWFLAKE_SEQUENCE_BITS]).toEqual([5, 7]);
    const d = loadConfig({ SNOWFLAKE_LAYOUT: 'js-safe', SNOWFLAKE_SEQUENCE_BITS: '6' });
    expect([d.SNOWFLAKE_WORKER_BITS, d.SNOWFLAKE_SEQUENCE_BITS]).toEqual([4, 6]);
    expect(() => loadConfig({ SNOWFLAKE_LAYOUT: 'js-safe', SNOWFLAKE_WORKER_BITS: '5' })).toThrow(
      'invalid configuration: SNOWFLAKE_WORKER_BITS + SNOWFLAKE_SEQUENCE_BITS = 13: expected at most 12 with SNOWFLAKE_LAYOUT=js-safe',
    );
  });

  it('refuses an unknown preset, naming the variable, the value and what is allowed', () => {
    expect(() => loadConfig({ SNOWFLAKE_LAYOUT: 'small' })).toThrow(
      'invalid configuration: SNOWFLAKE_LAYOUT="small": expected default or js-safe',
    );
  });

  it('holds a pinned worker ID to the js-safe worker bits', () => {
    expect(() => loadConfig({ SNOWFLAKE_LAYOUT: 'js-safe', SNOWFLAKE_WORKER_ID: '16' })).toThrow(
      'SNOWFLAKE_WORKER_ID=16: expected 0 to 15 for SNOWFLAKE_WORKER_BITS=4',
    );
  });
});
