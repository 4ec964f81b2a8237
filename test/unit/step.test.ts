import { describe, expect, it } from 'vitest';
import { BufferedRange } from '../../src/buffer/key-buffer.js';
import { nextStep, starvedStep } from '../../src/allocator/step.js';

const rule = { targetMs: 900_000, maxStep: 1_000_000 };

describe('nextStep (Leaf dynamic step)', () => {
  it('keeps the step on the first fetch', () => {
    expect(nextStep(rule, 1000, 1000, undefined)).toBe(1000);
  });

  it('doubles when the last segment lasted less than the target', () => {
    expect(nextStep(rule, 1000, 1000, 0)).toBe(2000);
    expect(nextStep(rule, 1000, 1000, 899_999)).toBe(2000);
  });

  it('keeps the step from 1x up to, not including, 2x the target', () => {
    expect(nextStep(rule, 4000, 1000, 900_000)).toBe(4000);
    expect(nextStep(rule, 4000, 1000, 1_799_999)).toBe(4000);
  });

  it('halves from 2x the target on', () => {
    expect(nextStep(rule, 4000, 1000, 1_800_000)).toBe(2000);
    expect(nextStep(rule, 4000, 1000, 86_400_000)).toBe(2000);
  });

  it('never halves below the configured step', () => {
    expect(nextStep(rule, 1000, 1000, 1_800_000)).toBe(1000);
    expect(nextStep(rule, 1500, 1000, 1_800_000)).toBe(1000);
  });

  it('never doubles past MAX_STEP', () => {
    expect(nextStep(rule, 600_000, 1000, 10)).toBe(1_000_000);
    expect(nextStep(rule, 1_000_000, 1000, 10)).toBe(1_000_000);
  });

  it('lets a configured step above MAX_STEP stand', () => {
    expect(nextStep(rule, 2_000_000, 2_000_000, 10)).toBe(2_000_000);
  });

  it('follows a configured step raised above the current one', () => {
    expect(nextStep(rule, 1000, 5000, 1_000_000)).toBe(5000);
  });
});

describe('starvedStep', () => {
  it('doubles at once, within MAX_STEP', () => {
    expect(starvedStep(rule, 1000, 1000)).toBe(2000);
    expect(starvedStep(rule, 900_000, 1000)).toBe(1_000_000);
  });
});

describe('a segment as the engine buffers it', () => {
  it('marks the prefetch point at the given fraction of its size', () => {
    expect(new BufferedRange(1n, 100n, 0.1).mark).toBe(11n);
    expect(new BufferedRange(1001n, 2000n, 0.5).mark).toBe(1501n);
  });

  it('counts what is left from its cursor', () => {
    const s = new BufferedRange(5n, 7n, 0.1);
    expect(s.remaining).toBe(3n);
    s.cursor = 8n;
    expect(s.remaining).toBe(0n);
  });
});
