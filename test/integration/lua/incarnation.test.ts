/**
 * The incarnation guard beyond allocate-1: every script that reads or changes a segment
 * counter first skips the gap when another server wrote the tag last, and a tombstone
 * carries its writer across a failover. Each case is a way IDs were re-issued before.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

const FOREIGN = 'f'.repeat(40);

/** A tag as a promoted replica may hold it: next at 3000, last written elsewhere. */
async function staleTag(name: string, gap = 1000n): Promise<void> {
  await f.store.createTag(segmentTag(name, { step: 100, gap }));
  await f.raw.hset(f.key(name), 'next', '3000', 'run_id', FOREIGN);
}

describe('the incarnation guard in update-1', () => {
  it('checks a new max against the counter after its owed gap, not the stale one', async () => {
    await staleTag('order');
    // Before: max 3500 passed against the stale 3000, and the owed jump then stopped at it.
    await expect(f.store.updateTag('order', { max: 3500n })).rejects.toMatchObject({
      code: 'REFUSED',
    });
    expect(await f.raw.hmget(f.key('order'), 'next', 'run_id')).toEqual(['4000', await f.runId()]);
  });

  it('jumps with the gap the tag had, so lowering the gap cannot shrink a jump owed', async () => {
    await staleTag('order');
    await f.store.updateTag('order', { gap: 0n });
    const g = await f.store.allocate('order', 0, false);
    expect(g.start).toBe(4000n);
  });
});

describe('the incarnation guard in bump-1', () => {
  it('starts a bump from the counter after its owed gap', async () => {
    await staleTag('order');
    const r = await f.store.bumpTag('order', 'by', 5n);
    expect(r).toMatchObject({ previous: 4000n, next: 4005n });
    const g = await f.store.allocate('order', 0, false);
    expect({ start: g.start, bumped: g.bumped }).toEqual({ start: 4005n, bumped: false });
  });
});

describe('tombstones across a failover', () => {
  it('re-creates a tag deleted after a failover above the old counter plus its gap', async () => {
    await staleTag('order');
    await f.store.deleteTag('order');
    // The tombstone still names the server that wrote the counter last.
    expect(await f.raw.hget(f.key('order'), 'run_id')).toBe(FOREIGN);
    const { tag, raisedByTombstone } = await f.store.createTag(segmentTag('order'));
    expect(raisedByTombstone).toBe(true);
    expect(tag.next).toBe(4000n);
    expect((await f.store.allocate('order', 0, false)).start).toBe(4000n);
  });

  it('re-creates a tag deleted on this same server right above its counter', async () => {
    await f.store.createTag(segmentTag('order', { gap: 1000n }));
    await f.store.allocate('order', 50, false);
    await f.store.deleteTag('order');
    const { tag } = await f.store.createTag(segmentTag('order'));
    expect(tag.next).toBe(51n);
  });
});

describe('64-bit bounds', () => {
  it('treats a hand-edited max above 2^63 - 1 as damaged', async () => {
    await f.store.createTag(segmentTag('order'));
    await f.raw.hset(f.key('order'), 'max', '9223372036854775808');
    expect(await f.raw.idallocAllocate(f.key('order'), '1', '0')).toBe('-2');
  });
});
