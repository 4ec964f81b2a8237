/**
 * A client's hand-back through the node (allocator/give-back.ts): the node takes back the
 * tail of the last range it leased of a tag — with its lease key, while its fence stands
 * at the lease's end, when the store's compare-and-set agrees — once, writing the
 * remainder and handback lines and lowering its fence; anything else is refused with the
 * reason and writes nothing. And the facade hands the store's handBack through.
 */
import { describe, expect, it } from 'vitest';
import { createAllocator } from '../../src/allocator/index.js';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import type { GrantEvent } from '../../src/core/grant-log.js';
import { isIdAllocError } from '../../src/core/errors.js';
import type {
  Grant,
  HandBack,
  HandBackOutcome,
  KeyedGrant,
  KeyedRequest,
  TagConfig,
} from '../../src/core/store-ports.js';
import { FakeSegmentStore } from '../support/fake-segment-store.js';

/** The fake store with an incarnation and handback-1.lua's compare-and-set. */
class CasStore extends FakeSegmentStore {
  readonly offers: HandBack[] = [];
  override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    return { ...(await super.allocate(tag, count, exact)), incarnation: 'inc-1' };
  }
  /** Idempotency-Key records: the grant recorded under each, as allocate-keyed-2 keeps them. */
  readonly records = new Map<string, Grant>();
  async allocateKeyed(tag: string, req: KeyedRequest): Promise<KeyedGrant> {
    const had = this.records.get(req.record);
    if (had !== undefined) return { ...had, replay: true, region: 0 };
    const g = await this.allocate(tag, req.count, true);
    this.records.set(req.record, g);
    return { ...g, replay: false, region: 0 };
  }
  async handBack(_tag: string, back: HandBack): Promise<HandBackOutcome> {
    this.offers.push(back);
    if (this.counter !== back.end + 1n) {
      return { returned: false, reason: 'moved', now: `${this.counter}` };
    }
    this.counter = back.from;
    if (back.record !== undefined) this.records.delete(back.record);
    return { returned: true };
  }
}

const keyedRange = (record: string, count = 10): KeyedRequest => ({
  record,
  params: `range:${count}`,
  count,
  region: 0,
  ttlMs: 60_000,
});

function setup() {
  const store = new CasStore();
  const lines: GrantEvent[] = [];
  const alloc = new SegmentAllocator({ store, grants: { record: (e) => lines.push(e) } });
  return { store, alloc, lines };
}

describe('SegmentAllocator.giveBack', () => {
  it("takes back the lease's tail once: lines written, the next lease starts at `from`", async () => {
    const { store, alloc, lines } = setup();
    const l = await alloc.lease('t', 10);
    expect(l.lease).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const r = await alloc.giveBack('t', l.lease!, 4n);
    expect(r).toEqual({ returned: 7n, from: 4n, end: 10n });
    expect(
      lines.slice(-2).map((e) => ('start' in e ? [e.kind, e.start, e.end] : [e.kind])),
    ).toEqual([
      ['remainder', 4n, 10n],
      ['handback', 4n, 10n],
    ]);
    expect((await alloc.giveBack('t', l.lease!, 4n)).reason).toBe('unknown_lease');
    // The node's fence came down: its next grant of the returned IDs is served.
    expect((await alloc.lease('t', 3)).start).toBe(4n);
    expect(store.floors).toEqual([]);
    await alloc.close();
  });

  it('refuses without asking the store when the lease is not the last grant of the tag here', async () => {
    const { store, alloc, lines } = setup();
    const l = await alloc.lease('t', 10);
    await alloc.next('t');
    const before = lines.length;
    expect(await alloc.giveBack('t', l.lease!, 1n)).toMatchObject({
      returned: 0n,
      reason: 'unknown_lease',
    });
    const other = await alloc.lease('u', 5);
    expect((await alloc.giveBack('t', other.lease!, 1n)).reason).toBe('unknown_lease');
    expect(store.offers).toEqual([]);
    expect(lines.length).toBe(before + 1); // u's grant only
    await alloc.close();
  });

  it("refuses, writing nothing, when the store's counter moved", async () => {
    const { store, alloc, lines } = setup();
    const l = await alloc.lease('t', 10);
    store.counter += 5n; // another node's grant
    const before = lines.length;
    const r = await alloc.giveBack('t', l.lease!, 2n);
    expect(r).toMatchObject({ returned: 0n, reason: 'moved' });
    expect(lines.length).toBe(before);
    await alloc.close();
  });

  it("takes back a keyed lease's tail with its record, below the node's buffered segment", async () => {
    const { store, alloc } = setup();
    expect(await alloc.next('t')).toBe(1n); // a buffered segment 1..100, the fence at 100
    const l = await alloc.keyed('t', keyedRange('r1'), { kind: 'range' });
    expect(l).toMatchObject({ start: 101n, end: 110n, replay: false });
    expect(l.lease).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // The node's own replay repeats the lease key; a batch under a key gets none.
    expect((await alloc.keyed('t', keyedRange('r1'), { kind: 'range' })).lease).toBe(l.lease);
    expect(await alloc.giveBack('t', l.lease!, 105n)).toEqual({
      returned: 6n,
      from: 105n,
      end: 110n,
    });
    expect(store.offers.at(-1)).toEqual({
      from: 105n,
      end: 110n,
      incarnation: 'inc-1',
      record: 'r1',
    });
    expect(store.records.has('r1')).toBe(false);
    // Spent: the key asks afresh and gets the returned IDs, once.
    const again = await alloc.keyed('t', keyedRange('r1'), { kind: 'range' });
    expect(again).toMatchObject({ start: 105n, end: 114n, replay: false });
    const batch = await alloc.keyed('t', keyedRange('b1', 3), { kind: 'batch' });
    expect(batch).not.toHaveProperty('lease');
    // A batch granted after the lease: the lease is no longer this node's last.
    expect((await alloc.giveBack('t', again.lease!, 110n)).reason).toBe('unknown_lease');
    expect(store.records.has('r1')).toBe(true);
    await alloc.close();
  });

  it('takes no return once the node closes, keyed or not: the store is not asked', async () => {
    const { store, alloc } = setup();
    const plain = await alloc.lease('t', 10);
    const keyed = await alloc.keyed('u', keyedRange('r9'), { kind: 'range' });
    await alloc.close();
    expect((await alloc.giveBack('t', plain.lease!, 2n)).reason).toBe('unknown_lease');
    expect((await alloc.giveBack('u', keyed.lease!, keyed.start)).reason).toBe('unknown_lease');
    expect(store.offers.filter((o) => o.record !== undefined)).toEqual([]);
    expect(store.records.has('r9')).toBe(true);
  });

  it('refuses a malformed key or a `from` outside the lease as INVALID_ARGUMENT', async () => {
    const { alloc } = setup();
    const l = await alloc.lease('t', 10);
    await expect(alloc.giveBack('t', 'short', 1n)).rejects.toSatisfy((e) =>
      isIdAllocError(e, 'INVALID_ARGUMENT' as never),
    );
    await expect(alloc.giveBack('t', l.lease!, 12n)).rejects.toThrow(/1 to 11/);
    expect((await alloc.giveBack('t', l.lease!, 11n)).reason).toBe('nothing');
    await alloc.close();
  });
});

describe('the facade', () => {
  it("passes the store's handBack through: a node's tail goes back at close", async () => {
    const store = Object.assign(new CasStore(), {
      getTag: async (): Promise<TagConfig | undefined> => undefined,
      ping: async () => true,
    });
    const alloc = createAllocator({ store });
    await alloc.next('t');
    await alloc.close();
    expect(store.offers.map((o) => o.from)).toEqual([2n]);
    expect(store.counter).toBe(2n);
  });
});
