/**
 * IdClient's hand-back through the service (docs/design.md §5 "Hand-back", issue 20 item
 * 2) against a real node on real Redis: a client that closes returns the unserved tail of
 * its last lease (`POST /v1/returns/{tag}`), so the next lease starts right after its last
 * served ID; a lease granted after it keeps the IDs skipped; the audit of the node's grant
 * lines is clean; and the route refuses, with its reason, any return it cannot make safe.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IdClient } from '../../src/client/id-client.js';
import { GrantLogs } from '../support/grant-audit.js';
import { startService, type TestService } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';

const redisUrl = inject('redisUrl');
const keyPrefix = testPrefix();
let svc: TestService;

beforeAll(async () => {
  const setup = testStore(redisUrl, keyPrefix);
  for (const t of ['a', 'b', 'c', 'd', 'e', 'keyed'])
    await setup.createTag(segmentTag(t, { step: 100 }));
  await setup.createTag({ ...segmentTag('rev', { step: 100 }), shape: { kind: 'bitreverse' } });
  await setup.close();
  svc = await startService(redisUrl, { keyPrefix, env: { SNOWFLAKE_WORKER_ID: '1' } });
});
afterAll(() => svc.close());

/**
 * A client that leases `size` IDs at a time and asks for the next range only when out;
 * without Idempotency-Keys, whose ranges are never handed back.
 */
const client = (size = 50, idempotencyKeys = false) =>
  new IdClient({
    urls: [svc.base],
    rangeSize: size,
    maxRangeSize: size,
    refillAt: 1,
    idempotencyKeys,
  });

async function serve(c: IdClient, tag: string, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next(tag));
  return out;
}

async function lease(tag: string, size = 10) {
  const r = await fetch(`${svc.base}/v1/ranges/${tag}?size=${size}`);
  expect(r.status).toBe(200);
  return (await r.json()) as { start: string; end: string; lease: string };
}

async function giveBack(tag: string, body: unknown) {
  const r = await fetch(`${svc.base}/v1/returns/${tag}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

describe('IdClient.close() through the service', () => {
  it('returns the unserved tail: the next lease, by another client, starts right after the last served ID', async () => {
    const first = client();
    const served = await serve(first, 'a', 7);
    await first.close();
    const second = client();
    const next = await second.next('a');
    await second.close();
    expect(next).toBe(served.at(-1)! + 1n);
  });

  it('returns the tail of a range leased under an Idempotency-Key (the default) too', async () => {
    const keyed = client(50, true);
    const served = await serve(keyed, 'keyed', 7);
    await keyed.close();
    const second = client(50, true);
    const next = await second.next('keyed');
    await second.close();
    expect(next).toBe(served.at(-1)! + 1n);
  });

  it("spends the key of a keyed lease whose tail was returned: a replay can't serve the IDs again", async () => {
    const ask = async (key: string) => {
      const r = await fetch(`${svc.base}/v1/ranges/e?size=10`, {
        headers: { 'idempotency-key': key },
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { start: string; end: string; lease: string };
      return { ...body, replayed: r.headers.get('idempotent-replayed') === 'true' };
    };
    const first = await ask('spent-1');
    // A replay on the granting node carries the same lease key.
    expect(await ask('spent-1')).toEqual({ ...first, replayed: true });
    const from = BigInt(first.start) + 4n;
    expect((await giveBack('e', { lease: first.lease, from: String(from) })).json).toMatchObject({
      returned: String(BigInt(first.end) - from + 1n),
    });
    // The record went with the return: the key asks afresh, and the returned IDs are
    // granted once more, to this one request only.
    const again = await ask('spent-1');
    expect(again.replayed).toBe(false);
    expect(BigInt(again.start)).toBe(from);
    const other = await ask('spent-2');
    expect(BigInt(other.start)).toBe(BigInt(again.end) + 1n);
  });

  it("returns a shaped tag's tail in counter values: the next client's IDs follow the last served", async () => {
    const first = client();
    const served = await Promise.all([1, 2, 3].map(() => first.nextId('rev')));
    await first.close();
    const second = client();
    const next = await second.nextId('rev');
    await second.close();
    // The IDs are bit-reversed counter values: the next one is counter 4's.
    const byCounter = await fetch(`${svc.base}/v1/decode/rev?id=${next}`);
    expect(((await byCounter.json()) as { counter: string }).counter).toBe('4');
    expect(new Set([...served, next]).size).toBe(4);
  });

  it('returns nothing when another client leased after it: the IDs stay skipped', async () => {
    const first = client();
    await serve(first, 'b', 3);
    const other = client();
    const between = await serve(other, 'b', 1);
    await first.close();
    await other.close();
    const third = client();
    const next = await third.next('b');
    await third.close();
    // The other client's close returned its tail; the first client's stayed a gap.
    expect(between[0]).toBe(51n);
    expect(next).toBe(52n);
  });

  it("leaves the node's grant log clean for audit: returned IDs are never issued, their re-grant no overlap", async () => {
    const logs = new GrantLogs();
    logs.addParsed(svc.logs);
    const r = logs.expectNoOverlaps(3);
    const a = r.tags.find((t) => t.tag === 'a')!;
    // 8..50 by the first client, then 9..57 by the second (it served 8).
    expect(a.handedBack).toBe(String(43 + 49));
    expect(r.tags.map((t) => t.handbacksIgnored)).toEqual(r.tags.map(() => 0));
  });
});

describe('POST /v1/returns/{tag}', () => {
  it('takes back the tail of the last lease once, and says how many', async () => {
    const l = await lease('c');
    const from = BigInt(l.start) + 4n;
    const r = await giveBack('c', { lease: l.lease, from: String(from) });
    expect(r).toEqual({
      status: 200,
      json: { tag: 'c', returned: '6', from: String(from), end: l.end },
    });
    expect((await giveBack('c', { lease: l.lease, from: String(from) })).json).toMatchObject({
      returned: '0',
      reason: 'unknown_lease',
    });
    // The node's fence came down with the counter: its next grant serves the IDs.
    expect((await lease('c', 1)).start).toBe(String(from));
  });

  it('refuses a lease it did not make, of another tag, or not the last grant, with the reason', async () => {
    const l = await lease('d');
    const tail = { lease: l.lease, from: l.start };
    expect((await giveBack('e', tail)).json).toMatchObject({
      returned: '0',
      reason: 'unknown_lease',
    });
    const forged = { lease: 'A'.repeat(22), from: l.start };
    expect((await giveBack('d', forged)).json).toMatchObject({
      returned: '0',
      reason: 'unknown_lease',
    });
    // Another node's grant: the store's counter moved past the lease.
    const store = testStore(redisUrl, keyPrefix);
    await store.allocate('d', 5, true);
    await store.close();
    const moved = await giveBack('d', tail);
    expect(moved.json).toMatchObject({ returned: '0', reason: 'moved' });
    expect(String(moved.json.message)).toMatch(/granted after the lease/);
    // This node's own grant after a lease: that lease is no longer the last.
    const m = await lease('d');
    await lease('d');
    expect((await giveBack('d', { lease: m.lease, from: m.start })).json).toMatchObject({
      reason: 'unknown_lease',
    });
  });

  it('says there was nothing to return for a lease served out', async () => {
    const l = await lease('e', 3);
    const r = await giveBack('e', { lease: l.lease, from: String(BigInt(l.end) + 1n) });
    expect(r.json).toMatchObject({ returned: '0', reason: 'nothing' });
  });

  it('refuses malformed returns with 400 INVALID_ARGUMENT naming the value', async () => {
    const l = await lease('e', 3);
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [[1], /not a JSON object/],
      [{ lease: l.lease }, /field 'from'/],
      [{ from: l.start }, /field 'lease' is required/],
      [{ lease: l.lease, from: '-1' }, /'-1' is not allowed/],
      [{ lease: l.lease, from: l.start, size: 1 }, /unknown field 'size'/],
      [{ lease: 'short', from: l.start }, /lease 'short' is not allowed/],
      [
        { lease: l.lease, from: String(BigInt(l.end) + 2n) },
        /expected a counter value of the lease/,
      ],
      ['x'.repeat(2000), /larger than 1024 bytes/],
    ];
    for (const [body, message] of cases) {
      const r = await giveBack('e', body);
      expect({ body, status: r.status, code: (r.json.error as { code: string }).code }).toEqual({
        body,
        status: 400,
        code: 'INVALID_ARGUMENT',
      });
      expect((r.json.error as { message: string }).message).toMatch(message);
    }
    // The refusals took nothing: the lease still returns.
    expect((await giveBack('e', { lease: l.lease, from: l.start })).json.returned).toBe('3');
  });
});
