/**
 * Helpers of the buffer tests (the engine, IdClient, the allocator): drawing IDs one by
 * one the way a caller does, and catching the IdAllocError a call fails with.
 */
import { IdAllocError } from '../../src/core/errors.js';

/** Anything that hands out IDs of a key, synchronously when buffered. */
export interface IdSource {
  next(key: string): bigint | Promise<bigint>;
}

/** Draws n IDs one by one, awaiting only when the source hands back a promise. */
export async function draw(source: IdSource, key: string, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const r = source.next(key);
    out.push(typeof r === 'bigint' ? r : await r);
  }
  return out;
}

/** The IdAllocError `p` rejects with; anything else fails the test. */
export async function failure(p: unknown): Promise<IdAllocError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof IdAllocError) return err;
    throw err;
  }
  throw new Error('expected an IdAllocError, got a value');
}

/** The IDs from..to, inclusive. */
export const ids = (from: number, to: number): bigint[] =>
  Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));
