/**
 * The allocator facade shapes counter values (docs/design.md §13): the segment
 * allocator serves counter values c, and a node of region i of N issues shape(c·N + i),
 * by the shape and region count its tag's grants carry. Plain tags of one region pass
 * through untouched, and buffered IDs are still answered without a promise.
 */
import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { ErrorCode, IdAllocError, isIdAllocError } from '../../src/core/errors.js';
import { PLAIN, Shaper, newPermuteKey, parseRegion, reverse63 } from '../../src/core/shape.js';
import { ShapedTagStore } from '../support/shaped-store.js';

function allocatorOn(store: ShapedTagStore, region = '0/1') {
  return createAllocator({ store, region: parseRegion(region) });
}

describe('the facade shaping segment IDs', () => {
  it('serves a plain tag of one region its counter values, synchronously once buffered', async () => {
    const store = new ShapedTagStore();
    store.add('plain', PLAIN);
    const a = allocatorOn(store);
    expect(await a.next('plain')).toBe(1n);
    const second = a.next('plain');
    expect(second).toBe(2n); // no promise: buffered
    expect(a.nextId('plain')).toBe('3');
    expect(a.nextBatch('plain', 3)).toEqual([4n, 5n, 6n]);
    expect(a.nextIds('plain', 2)).toEqual(['7', '8']);
    expect(a.shapeOf('plain')?.shaper.identity).toBe(true);
    await a.close();
  });

  it('bit-reverses c·N + i for a bitreverse tag served as region 1 of 3', async () => {
    const store = new ShapedTagStore();
    store.add('rev', { kind: 'bitreverse' }, 3);
    const a = allocatorOn(store, '1/3');
    const ids = [await a.next('rev'), a.next('rev'), a.next('rev')];
    expect(ids).toEqual([1n, 2n, 3n].map((c) => reverse63(c * 3n + 1n)));
    expect(await a.nextBatch('rev', 2)).toEqual([4n, 5n].map((c) => reverse63(c * 3n + 1n)));
    await a.close();
  });

  it('writes a prefixed tag prefix_ and base32, and next() gives the number under it', async () => {
    const store = new ShapedTagStore();
    const shape = { kind: 'permute', width: 40, key: newPermuteKey(), prefix: 'ord' } as const;
    store.add('ord', shape);
    const a = allocatorOn(store);
    const shaper = new Shaper(shape, 1, 0);
    const text = await a.nextId('ord');
    expect(text).toBe(shaper.format(1n));
    expect(text).toMatch(/^ord_[0-9a-z]{13}$/);
    expect(a.next('ord')).toBe(shaper.toNumber(2n));
    expect(await a.nextIds('ord', 3)).toEqual([3n, 4n, 5n].map((c) => shaper.format(c)));
    await a.close();
  });

  it('decodes an ID back to its counter value and region, and says whether it was granted', async () => {
    const store = new ShapedTagStore();
    store.add('rev', { kind: 'bitreverse', prefix: 'u' }, 2);
    const a = allocatorOn(store, '1/2');
    const id = await a.nextId('rev');
    const d = await a.decodeId('rev', id);
    expect(d).toMatchObject({ counter: 1n, region: 1, regions: 2, issued: true });
    const unissued = new Shaper({ kind: 'bitreverse', prefix: 'u' }, 2, 0).format(5000n);
    expect(await a.decodeId('rev', unissued)).toMatchObject({
      counter: 5000n,
      region: 0,
      issued: false,
    });
    await expect(a.decodeId('rev', '12')).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(a.decodeId('nope', '12')).rejects.toMatchObject({ code: ErrorCode.TAG_NOT_FOUND });
    await a.close();
  });

  it('refuses WRONG_REGION, naming both counts, a tag whose region count is not the node’s', async () => {
    const store = new ShapedTagStore();
    store.add('two', PLAIN, 2);
    const a = allocatorOn(store, '0/3');
    const err: unknown = await Promise.resolve(a.next('two')).catch((e: unknown) => e);
    expect(isIdAllocError(err, ErrorCode.WRONG_REGION)).toBe(true);
    expect((err as Error).message).toContain('shared by 2 region(s)');
    expect((err as Error).message).toContain('region 0/3');
    await expect(a.lookupShape('two')).rejects.toMatchObject({ code: ErrorCode.WRONG_REGION });
    await a.close();
  });

  it('passes a store’s own WRONG_REGION refusal to the caller intact', async () => {
    const store = new ShapedTagStore();
    store.add('t', PLAIN);
    const mine = new IdAllocError(ErrorCode.WRONG_REGION, "tag 't' has 3 regions, this node 1", {
      tag: 't',
      tagRegions: 3,
      nodeRegions: 1,
    });
    store.allocate = () => Promise.reject(mine);
    const a = allocatorOn(store);
    await expect(Promise.resolve(a.next('t'))).rejects.toBe(mine);
    await expect(Promise.resolve(a.nextIds('t', 2))).rejects.toBe(mine);
    await a.close();
  });

  it('learns a tag’s shape from the store for a range before any grant (lookupShape)', async () => {
    const store = new ShapedTagStore();
    const shape = { kind: 'permute', width: 32, key: newPermuteKey() } as const;
    store.add('p', shape);
    const a = allocatorOn(store);
    expect(a.shapeOf('p')).toBeUndefined();
    const s = await a.lookupShape('p');
    expect(s?.shape).toEqual(shape);
    expect(store.grants).toEqual([]); // no counter moved
    await a.close();
  });
});
