/**
 * Shaped IDs over HTTP (docs/design.md §13, docs/api.md): `/v1/ids` answers the tag's
 * public IDs, a range answer carries the shape descriptor (the permute key only for a
 * KEY_TOKENS caller, else 403), `/v1/decode` takes an ID back to its counter value, and
 * IdClient shapes a range's counter values exactly as the service would.
 *
 * The app, the allocator and the client are the real ones on a real socket; the tags
 * live in an in-memory store whose grants carry the shape (test/support/shaped-store.ts),
 * so this proves the serving side whatever store keeps the shapes. A node on real Redis
 * checks REGION and the region refusal end to end.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { IdClient } from '../../src/client/id-client.js';
import { ConfigError, ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { loadConfig } from '../../src/config/schema.js';
import { PLAIN, Shaper, newPermuteKey, parseRegion, type TagShape } from '../../src/core/shape.js';
import { startService, type TestService } from '../support/http.js';
import { segmentTag } from '../support/store.js';
import { ShapedTagStore, startShapedService, type ShapedService } from '../support/shaped-store.js';

const redisUrl = inject('redisUrl');

const KEY = newPermuteKey();
const SHAPES: Record<string, TagShape> = {
  plain: PLAIN,
  rev: { kind: 'bitreverse' },
  ord: { kind: 'plain', prefix: 'ord' },
  perm: { kind: 'permute', width: 48, key: KEY, prefix: 'usr' },
  pnum: { kind: 'permute', width: 40, key: newPermuteKey() },
};
const REGION = parseRegion('1/2');

async function get(url: string, token?: string) {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('shaped IDs over HTTP', () => {
  let store: ShapedTagStore;
  let svc: ShapedService;
  const clients: IdClient[] = [];
  const shaper = (tag: string) => new Shaper(SHAPES[tag]!, 2, 1);

  beforeAll(async () => {
    store = new ShapedTagStore();
    for (const [name, shape] of Object.entries(SHAPES)) store.add(name, shape, 2, 10);
    svc = await startShapedService(store, {
      region: REGION,
      http: { apiTokens: ['reader'], keyTokens: ['keeper'] },
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => svc.close());

  it('/v1/ids answers each shape’s public IDs, one and ?count=N, JSON and text', async () => {
    for (const tag of Object.keys(SHAPES)) {
      const one = await get(`${svc.base}/v1/ids/${tag}`, 'reader');
      expect(one.status).toBe(200);
      const id = one.json().id as string;
      const d = shaper(tag).decode(id);
      expect(d.region).toBe(1);
      const many = await get(`${svc.base}/v1/ids/${tag}?count=4`, 'reader');
      const ids = many.json().ids as string[];
      expect(ids).toEqual([1n, 2n, 3n, 4n].map((k) => shaper(tag).format(d.counter + k)));
    }
    const text = await fetch(`${svc.base}/v1/ids/ord?count=2`, {
      headers: { authorization: 'Bearer reader', accept: 'text/plain' },
    });
    expect(await text.text()).toMatch(/^ord_[0-9a-z]{13}\nord_[0-9a-z]{13}\n$/);
  });

  it('every ID drawn decodes to a counter value the store granted', async () => {
    const drawn = (await get(`${svc.base}/v1/ids/perm?count=50`, 'reader')).json().ids as string[];
    expect(new Set(drawn).size).toBe(50);
    for (const id of drawn) {
      const { counter } = shaper('perm').decode(id);
      expect(store.grants.some(([t, s, e]) => t === 'perm' && s <= counter && counter <= e)).toBe(
        true,
      );
    }
  });

  it('the Leaf route answers a shaped tag’s number, and refuses a prefixed tag pointing to /v1/ids', async () => {
    const rev = await get(`${svc.base}/api/segment/get/rev`, 'reader');
    expect(rev.status).toBe(200);
    expect(shaper('rev').decode(rev.text).region).toBe(1);
    const ord = await get(`${svc.base}/api/segment/get/ord`, 'reader');
    expect(ord.status).toBe(400);
    expect(ord.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(ord.text).toContain('/v1/ids/ord');
  });

  it('a range answer keeps counter start/end and adds the shape descriptor, without a key', async () => {
    const r = await get(`${svc.base}/v1/ranges/ord?size=5`, 'reader');
    expect(r.status).toBe(200);
    const body = r.json();
    expect(BigInt(body.end as string) - BigInt(body.start as string)).toBe(4n);
    expect(body.shape).toEqual({ kind: 'plain', prefix: 'ord', regions: 2, region: 1 });
  });

  it('refuses a permute tag’s range 403 FORBIDDEN without a KEY_TOKENS token, before any counter moves', async () => {
    const before = store.grants.length;
    const r = await get(`${svc.base}/v1/ranges/perm?size=5`, 'reader');
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect(r.text).toContain('KEY_TOKENS');
    expect(store.grants.length).toBe(before);
    const keyed = await get(`${svc.base}/v1/ranges/perm?size=5`, 'keeper');
    expect(keyed.status).toBe(200);
    expect(keyed.json().shape).toEqual({ ...SHAPES.perm, regions: 2, region: 1 });
  });

  it('never shows the key in tag JSON or status', async () => {
    for (const path of ['/v1/tags', '/v1/tags/perm', '/v1/status']) {
      const r = await get(`${svc.base}${path}`, 'keeper');
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(KEY);
    }
    const status = (await get(`${svc.base}/v1/status`, 'reader')).json();
    expect((status.node as Record<string, unknown>).region).toBe('1/2');
    const tags = status.tags as { name: string; shape: unknown; regions: unknown }[];
    expect(tags.find((t) => t.name === 'perm')).toMatchObject({
      shape: { kind: 'permute', width: 48, prefix: 'usr' },
      regions: 2,
    });
  });

  it('decodes an ID to its counter value and region; a permute tag’s only for a KEY_TOKENS token', async () => {
    const id = (await get(`${svc.base}/v1/ids/rev`, 'reader')).json().id as string;
    const d = await get(`${svc.base}/v1/decode/rev?id=${id}`, 'reader');
    expect(d.status).toBe(200);
    const expected = shaper('rev').decode(id);
    expect(d.json()).toEqual({
      tag: 'rev',
      id,
      counter: expected.counter.toString(),
      region: 1,
      regions: 2,
      shape: { kind: 'bitreverse' },
      issued: true,
    });
    const pid = (await get(`${svc.base}/v1/ids/perm`, 'reader')).json().id as string;
    const refused = await get(`${svc.base}/v1/decode/perm?id=${pid}`, 'reader');
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const keyed = await get(`${svc.base}/v1/decode/perm?id=${pid}`, 'keeper');
    expect(keyed.json()).toMatchObject({ counter: shaper('perm').decode(pid).counter.toString() });
    expect(keyed.text).not.toContain(KEY);
    const bad = await get(`${svc.base}/v1/decode/rev?id=ord_x`, 'reader');
    expect(bad.status).toBe(400);
    const missing = await get(`${svc.base}/v1/decode/rev`, 'reader');
    expect(missing.status).toBe(400);
    expect(missing.text).toContain("'id' is required");
  });

  it("shapes a keyed batch for the node's region, and replays it byte for byte", async () => {
    const keyed = () =>
      fetch(`${svc.base}/v1/ids/ord?count=3`, {
        headers: { authorization: 'Bearer reader', 'idempotency-key': 'shaped-1' },
      });
    const first = await keyed();
    const body = await first.text();
    const { ids } = JSON.parse(body) as { ids: string[] };
    const counters = ids.map((id) => shaper('ord').decode(id));
    expect(counters.map((d) => d.region)).toEqual([1, 1, 1]);
    expect(counters[2]!.counter - counters[0]!.counter).toBe(2n);
    const again = await keyed();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(body);
  });

  it('IdClient shapes its ranges locally: the IDs /v1/ids would give for the same counters', async () => {
    for (const tag of ['plain', 'rev', 'ord']) {
      const c = new IdClient({ urls: [svc.base], token: 'reader', rangeSize: 8 });
      clients.push(c);
      const text = await c.nextId(tag);
      const { counter, region } = shaper(tag).decode(text);
      expect(region).toBe(1);
      expect(c.next(tag)).toBe(shaper(tag).toNumber(counter + 1n)); // buffered: no promise
      expect(await c.nextIds(tag, 3)).toEqual(
        [2n, 3n, 4n].map((k) => shaper(tag).format(counter + k)),
      );
      expect(store.grants.some(([t, s]) => t === tag && s === counter)).toBe(true);
    }
    const keyed = new IdClient({ urls: [svc.base], token: 'keeper', rangeSize: 8 });
    clients.push(keyed);
    const pid = await keyed.nextId('perm');
    expect(pid).toMatch(/^usr_/);
    expect(
      store.grants.some(([t, s]) => t === 'perm' && s === shaper('perm').decode(pid).counter),
    ).toBe(true);
  });

  it('IdClient without a KEY_TOKENS token fails FORBIDDEN on a permute tag, saying what to do', async () => {
    const c = new IdClient({ urls: [svc.base], token: 'reader', rangeSize: 8 });
    clients.push(c);
    const err: unknown = await Promise.resolve(c.next('pnum')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdAllocError);
    expect((err as IdAllocError).code).toBe(ErrorCode.FORBIDDEN);
    expect((err as Error).message).toContain('KEY_TOKENS');
    expect((err as Error).message).toContain('/v1/ids/pnum?count=N');
  });
});

describe('REGION on a node', () => {
  it('refuses a REGION that is not i/N, naming the value and the rule', () => {
    for (const bad of ['2/2', '1', '0/0', 'a/b', '0/1025', '-1/3']) {
      expect(() => loadConfig({ REGION: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ REGION: bad })).toThrow(`REGION="${bad}": expected i/N`);
    }
    expect(loadConfig({ REGION: '2/3' }).REGION).toEqual({ index: 2, count: 3 });
    expect(loadConfig({}).REGION).toBeUndefined(); // 0/1
  });

  it('never repeats KEY_TOKENS in an error', () => {
    expect(() => loadConfig({ KEY_TOKENS: ' , ' })).toThrow('KEY_TOKENS');
  });

  describe('on real Redis', () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startService(redisUrl, { env: { REGION: '1/2' } });
      await svc.store.createTag(segmentTag('one', { step: 10 }));
    });
    afterAll(() => svc.close());

    it('refuses a tag of another region count 409 WRONG_REGION, naming both', async () => {
      const r = await get(`${svc.base}/v1/ids/one`);
      expect(r.status).toBe(409);
      expect(r.json()).toMatchObject({ error: { code: 'WRONG_REGION' } });
      expect(r.text).toMatch(/1 region|regions? 1|1\/2/);
    });

    it('shows the node’s region in /v1/status and /metrics', async () => {
      const status = (await get(`${svc.base}/v1/status`)).json();
      expect((status.node as Record<string, unknown>).region).toBe('1/2');
      const metrics = await get(`${svc.base}/metrics`);
      expect(metrics.text).toContain('idalloc_region_info{region="1/2"} 1');
    });
  });
});
