/**
 * IdClient's hand-back at close (client/give-back.ts, docs/library.md): which tail goes
 * back — the unserved part of the last range leased, only while that range is held and no
 * lease is in flight — and the one POST that carries it, to the URL that leased it.
 */
import { describe, expect, it } from 'vitest';
import { IdClient } from '../../src/client/id-client.js';
import { tailToReturn, type HeldTag, type LastLease } from '../../src/client/give-back.js';

const last: LastLease = { start: 101n, end: 200n, lease: 'k'.repeat(22), url: 'http://a' };
const range = (start: bigint, end: bigint, cursor: bigint) => ({ start, end, cursor });
const held = (over: Partial<HeldTag> = {}): HeldTag => ({
  current: range(101n, 200n, 131n),
  next: null,
  fetching: false,
  direct: 0,
  highWater: 200n,
  ...over,
});

describe('tailToReturn', () => {
  it('is the last lease from its first unserved ID to its end, to the URL that leased it', () => {
    expect(tailToReturn(last, held())).toEqual({
      url: 'http://a',
      lease: last.lease,
      from: 131n,
      end: 200n,
    });
  });

  it('is the whole spare when the last lease is the spare, and only it', () => {
    const h = held({ current: range(1n, 100n, 40n), next: range(101n, 200n, 101n) });
    expect(tailToReturn(last, h)).toMatchObject({ from: 101n, end: 200n });
  });

  it('is nothing when anything is uncertain or nothing is left', () => {
    expect(tailToReturn(undefined, held()), 'no lease key').toBeUndefined();
    expect(tailToReturn(last, undefined), 'no buffers').toBeUndefined();
    expect(tailToReturn(last, held({ fetching: true })), 'a lease in flight').toBeUndefined();
    expect(tailToReturn(last, held({ direct: 1 })), 'a direct lease queued').toBeUndefined();
    expect(tailToReturn(last, held({ highWater: 300n })), 'leased after it').toBeUndefined();
    expect(
      tailToReturn(last, held({ current: range(101n, 200n, 201n) })),
      'served out',
    ).toBeUndefined();
    expect(
      tailToReturn(last, held({ current: range(1n, 100n, 50n) })),
      'the last lease not held',
    ).toBeUndefined();
  });
});

/** A service at http://a leasing from one counter, with lease keys, recording returns. */
function service(opts: { key?: boolean } = {}) {
  let next = 1n;
  const returns: { url: string; body: unknown; authorization: string | null }[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    if (init?.method === 'POST') {
      returns.push({
        url: url.href,
        body: JSON.parse(String(init.body)) as unknown,
        authorization: new Headers(init.headers).get('authorization'),
      });
      return new Response('{"tag":"t","returned":"0","reason":"moved","message":"m"}');
    }
    const size = BigInt(url.searchParams.get('size')!);
    const start = next;
    next += size;
    const body = {
      tag: 't',
      start: String(start),
      end: String(start + size - 1n),
      ...(opts.key === false ? {} : { lease: `k${String(start).padStart(21, '0')}` }),
    };
    return new Response(JSON.stringify(body));
  };
  return { fetchFn, returns };
}

describe('IdClient.close() hand-back', () => {
  it("posts the unserved tail of the last lease, once, with the lease's key and the token", async () => {
    const s = service();
    const c = new IdClient({
      urls: ['http://a'],
      token: 'secret',
      rangeSize: 10,
      refillAt: 1,
      fetch: s.fetchFn,
    });
    for (let i = 0; i < 3; i++) await c.next('t');
    await c.close();
    await c.close();
    expect(s.returns).toEqual([
      {
        url: 'http://a/v1/returns/t',
        body: { lease: `k${'1'.padStart(21, '0')}`, from: '4' },
        authorization: 'Bearer secret',
      },
    ]);
  });

  it('posts nothing when the service sent no lease key, the range is served out, or handBack is off', async () => {
    const old = service({ key: false });
    const a = new IdClient({ urls: ['http://a'], rangeSize: 10, refillAt: 1, fetch: old.fetchFn });
    await a.next('t');
    await a.close();
    expect(old.returns).toEqual([]);

    const s = service();
    const b = new IdClient({ urls: ['http://a'], rangeSize: 2, refillAt: 1, fetch: s.fetchFn });
    await b.next('t');
    await b.next('t');
    await b.close();
    const off = new IdClient({
      urls: ['http://a'],
      rangeSize: 10,
      refillAt: 1,
      fetch: s.fetchFn,
      handBack: false,
    });
    await off.next('t');
    await off.close();
    expect(s.returns).toEqual([]);
  });

  it('closes even when the return fails: failures are ignored', async () => {
    const s = service();
    const failing: typeof fetch = (input, init) =>
      init?.method === 'POST' ? Promise.reject(new Error('down')) : s.fetchFn(input, init);
    const c = new IdClient({ urls: ['http://a'], rangeSize: 10, refillAt: 1, fetch: failing });
    await c.next('t');
    await expect(c.close()).resolves.toBeUndefined();
  });
});
