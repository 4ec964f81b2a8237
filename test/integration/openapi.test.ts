/**
 * `GET /openapi.json` describes the API as it answers: the document is valid OpenAPI 3.1,
 * docs/openapi.json is the served one with the default settings, and a real app driven
 * through every route and every error code (400, 401, 404 unknown tag and unknown route,
 * 403 forbidden, 409 wrong mode, wrong region and exhausted, 422 a reused Idempotency-Key,
 * 500, 503 with Retry-After)
 * answers only what it says,
 * status, headers and body.
 */
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION } from '../../src/http/openapi.js';
import { HTTP_ERROR_CODES } from '../../src/http/openapi-schemas.js';
import { startService, type TestService } from '../support/http.js';
import { OpenApiChecker } from '../support/openapi.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { ShapedTagStore, startShapedService } from '../support/shaped-store.js';
import { newPermuteKey, parseRegion } from '../../src/core/shape.js';

const redisUrl = inject('redisUrl');
const ROOT = new URL('../../', import.meta.url);
const TOKEN = 'openapi-test-token';

describe('the OpenAPI document', () => {
  let svc: TestService;
  let authed: TestService;
  let doc: Record<string, unknown>;
  let api: OpenApiChecker;
  /** GETs `target` on `base` and checks the answer against the document. */
  const get = async (
    base: string,
    target: string,
    path: string | null,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(base + target, { headers });
    const status = res.status;
    const checked = await api.check(res, path);
    return { status, headers: res.headers, ...checked };
  };

  beforeAll(async () => {
    svc = await startService(redisUrl, { env: { SNOWFLAKE_WORKER_ID: '3' } });
    authed = await startService(redisUrl, { env: { API_TOKENS: TOKEN } });
    for (const s of [svc, authed]) {
      await s.store.createTag(segmentTag('order', { step: 10 }));
      await s.store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
      await s.store.createTag(segmentTag('tiny', { step: 1, start: 1n, max: 2n }));
    }
    const res = await fetch(`${svc.base}/openapi.json`);
    doc = JSON.parse(await res.clone().text()) as Record<string, unknown>;
    api = new OpenApiChecker(doc);
    await api.check(res, '/openapi.json');
  });
  afterAll(async () => {
    await svc?.close();
    await authed?.close();
  });

  it('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is what docs/openapi.json holds (npm run openapi rewrites it), at the package version', () => {
    const committed = JSON.parse(
      readFileSync(new URL('docs/openapi.json', ROOT), 'utf8'),
    ) as unknown;
    expect(doc).toEqual(committed);
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      version: string;
    };
    expect((doc.info as { version: string }).version).toBe(pkg.version);
    expect(API_VERSION).toBe(pkg.version);
  });

  it('describes every route the app answers with 200', async () => {
    const b = svc.base;
    const one = await get(b, '/v1/ids/order', '/v1/ids/{tag}');
    expect(one.status).toBe(200);
    expect((await get(b, '/v1/ids/order?count=3', '/v1/ids/{tag}')).status).toBe(200);
    const text = await get(b, '/v1/ids/order?count=2', '/v1/ids/{tag}', { Accept: 'text/plain' });
    expect(text.body).toMatch(/^\d+\n\d+\n$/);
    expect((await get(b, '/v1/ids/order', '/v1/ids/{tag}', { Accept: 'text/plain' })).status).toBe(
      200,
    );
    expect((await get(b, '/v1/ranges/order?size=5', '/v1/ranges/{tag}')).status).toBe(200);
    expect((await get(b, '/v1/tags', '/v1/tags')).status).toBe(200);
    const tag = await get(b, '/v1/tags/order', '/v1/tags/{tag}');
    expect((tag.json as { node: unknown }).node).not.toBeNull();
    const unserved = await get(b, '/v1/tags/tiny', '/v1/tags/{tag}');
    expect((unserved.json as { node: unknown }).node).toBeNull();
    const flake = await get(b, '/v1/ids/flake', '/v1/ids/{tag}');
    const id = (flake.json as { id: string }).id;
    expect((await get(b, `/v1/snowflake/${id}`, '/v1/snowflake/{id}')).status).toBe(200);
    // An ID minted by a clock an hour fast: decoded, with a note (default layout, 22 bits).
    const epoch = BigInt(Date.parse('2024-01-01T00:00:00Z'));
    const ahead = ((BigInt(Date.now() + 3_600_000) - epoch) << 22n).toString();
    const future = await get(b, `/v1/snowflake/${ahead}`, '/v1/snowflake/{id}');
    expect(future.status).toBe(200);
    expect((future.json as { note?: string }).note).toMatch(/ahead of this node's clock/);
    expect((await get(b, '/api/segment/get/order', '/api/segment/get/{tag}')).body).toMatch(
      /^\d+$/,
    );
    expect((await get(b, '/api/snowflake/get/flake', '/api/snowflake/get/{tag}')).status).toBe(200);
    const status = await get(b, '/v1/status', '/v1/status');
    expect((status.json as { tags: { name: string }[] }).tags.map((t) => t.name).sort()).toEqual([
      'flake',
      'order',
    ]);
    expect((await get(b, '/', '/')).body).toMatch(/^<!doctype html>/);
    expect((await get(b, '/metrics', '/metrics')).body).toMatch(/idalloc_ids_issued_total/);
    expect((await get(b, '/healthz', '/healthz')).status).toBe(200);
    expect((await get(b, '/readyz', '/readyz')).status).toBe(200);
    // With API_TOKENS set: a token opens every route; the page and the document stay open.
    const auth = { Authorization: `Bearer ${TOKEN}` };
    expect((await get(authed.base, '/v1/status', '/v1/status', auth)).status).toBe(200);
    expect((await get(authed.base, '/', '/')).status).toBe(200);
    expect((await get(authed.base, '/openapi.json', '/openapi.json')).status).toBe(200);
    expect((await get(authed.base, '/metrics', '/metrics', auth)).status).toBe(200);
  });

  it('describes keyed requests: replays with Idempotent-Replayed, 422 IDEMPOTENCY_MISMATCH, 400 for a bad key', async () => {
    const b = svc.base;
    const code = (r: { json?: unknown }) => (r.json as { error: { code: string } }).error.code;
    const key = (k: string) => ({ 'Idempotency-Key': k });
    const first = await get(b, '/v1/ids/order?count=2', '/v1/ids/{tag}', key('oa-1'));
    expect(first.status).toBe(200);
    const again = await get(b, '/v1/ids/order?count=2', '/v1/ids/{tag}', key('oa-1'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toBe(first.body);
    const range = await get(b, '/v1/ranges/order?size=3', '/v1/ranges/{tag}', key('oa-2'));
    expect(range.status).toBe(200);
    const replay = await get(b, '/v1/ranges/order?size=3', '/v1/ranges/{tag}', key('oa-2'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    for (const [target, path] of [
      ['/v1/ids/order?count=3', '/v1/ids/{tag}'],
      ['/v1/ranges/order?size=2', '/v1/ranges/{tag}'],
    ] as const) {
      const refused = await get(b, target, path, key(path === '/v1/ids/{tag}' ? 'oa-1' : 'oa-2'));
      expect(refused.status).toBe(422);
      expect(code(refused)).toBe('IDEMPOTENCY_MISMATCH');
    }
    const bad = await get(b, '/v1/ids/order', '/v1/ids/{tag}', key('x'.repeat(256)));
    expect(bad.status).toBe(400);
  });

  it('describes 400 INVALID_ARGUMENT on every route that reads input', async () => {
    const b = svc.base;
    const cases: [string, string][] = [
      ['/v1/ids/order?count=0', '/v1/ids/{tag}'],
      ['/v1/ids/-bad', '/v1/ids/{tag}'],
      ['/v1/ranges/order', '/v1/ranges/{tag}'],
      ['/v1/ranges/order?size=1e3', '/v1/ranges/{tag}'],
      ['/v1/tags?x=1', '/v1/tags'],
      ['/v1/tags/-bad', '/v1/tags/{tag}'],
      ['/v1/snowflake/12x', '/v1/snowflake/{id}'],
      ['/v1/status?x=1', '/v1/status'],
      ['/api/segment/get/-bad', '/api/segment/get/{tag}'],
      ['/api/snowflake/get/order?x=1', '/api/snowflake/get/{tag}'],
      ['/?x=1', '/'],
      ['/openapi.json?x=1', '/openapi.json'],
    ];
    for (const [target, path] of cases) {
      const r = await get(b, target, path);
      expect({ target, status: r.status }).toEqual({ target, status: 400 });
    }
  });

  it('describes 401 UNAUTHORIZED with WWW-Authenticate on every /v1 and Leaf route', async () => {
    const b = authed.base;
    const cases: [string, string][] = [
      ['/v1/ids/order', '/v1/ids/{tag}'],
      ['/v1/ranges/order?size=1', '/v1/ranges/{tag}'],
      ['/v1/tags', '/v1/tags'],
      ['/v1/tags/order', '/v1/tags/{tag}'],
      ['/v1/snowflake/1', '/v1/snowflake/{id}'],
      ['/v1/status', '/v1/status'],
      ['/api/segment/get/order', '/api/segment/get/{tag}'],
      ['/api/snowflake/get/flake', '/api/snowflake/get/{tag}'],
      ['/metrics', '/metrics'],
    ];
    for (const [target, path] of cases) {
      const r = await get(b, target, path, { Authorization: 'Bearer wrong' });
      expect({ target, status: r.status }).toEqual({ target, status: 401 });
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('describes 404 TAG_NOT_FOUND and 404 NOT_FOUND for an unknown route', async () => {
    const b = svc.base;
    for (const [target, path] of [
      ['/v1/ids/nope', '/v1/ids/{tag}'],
      ['/v1/ranges/nope?size=1', '/v1/ranges/{tag}'],
      ['/v1/tags/nope', '/v1/tags/{tag}'],
      ['/api/segment/get/nope', '/api/segment/get/{tag}'],
      ['/api/snowflake/get/nope', '/api/snowflake/get/{tag}'],
    ] as const) {
      const r = await get(b, target, path);
      expect((r.json as { error: { code: string } }).error.code).toBe('TAG_NOT_FOUND');
    }
    const unmatched = await get(b, '/no/such/route', null);
    expect((unmatched.json as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('describes 409 WRONG_MODE and 409 TAG_EXHAUSTED', async () => {
    const b = svc.base;
    const code = (r: { json?: unknown }) => (r.json as { error: { code: string } }).error.code;
    expect(code(await get(b, '/v1/ranges/flake?size=1', '/v1/ranges/{tag}'))).toBe('WRONG_MODE');
    expect(code(await get(b, '/api/segment/get/flake', '/api/segment/get/{tag}'))).toBe(
      'WRONG_MODE',
    );
    expect(code(await get(b, '/api/snowflake/get/order', '/api/snowflake/get/{tag}'))).toBe(
      'WRONG_MODE',
    );
    expect((await get(b, '/v1/ids/tiny?count=2', '/v1/ids/{tag}')).status).toBe(200);
    expect(code(await get(b, '/v1/ids/tiny', '/v1/ids/{tag}'))).toBe('TAG_EXHAUSTED');
    expect(code(await get(b, '/v1/ranges/tiny?size=1', '/v1/ranges/{tag}'))).toBe('TAG_EXHAUSTED');
    expect(code(await get(b, '/api/segment/get/tiny', '/api/segment/get/{tag}'))).toBe(
      'TAG_EXHAUSTED',
    );
  });

  it('describes shaped IDs: the decode route, 403 FORBIDDEN and 409 WRONG_REGION', async () => {
    const code = (r: { json?: unknown }) => (r.json as { error: { code: string } }).error.code;
    const id = ((await get(svc.base, '/v1/ids/order', '/v1/ids/{tag}')).json as { id: string }).id;
    const decoded = await get(svc.base, `/v1/decode/order?id=${id}`, '/v1/decode/{tag}');
    expect(decoded.json).toMatchObject({ counter: id, region: 0, regions: 1, issued: true });
    // A node of region 1/2 serves no tag of one region.
    const regional = await startService(redisUrl, { env: { REGION: '1/2' } });
    try {
      await regional.store.createTag(segmentTag('order', { step: 10 }));
      expect(code(await get(regional.base, '/v1/ids/order', '/v1/ids/{tag}'))).toBe('WRONG_REGION');
    } finally {
      await regional.close();
    }
    // Shaped tags (an in-memory store whose grants carry the shape): the answers they add.
    const store = new ShapedTagStore();
    store.add('ord', { kind: 'bitreverse', prefix: 'ord' }, 2);
    store.add('perm', { kind: 'permute', width: 40, key: newPermuteKey() }, 2);
    const shaped = await startShapedService(store, {
      region: parseRegion('1/2'),
      http: { keyTokens: ['keeper'] },
    });
    try {
      const b = shaped.base;
      const one = await get(b, '/v1/ids/ord', '/v1/ids/{tag}');
      expect((one.json as { id: string }).id).toMatch(/^ord_/);
      expect((await get(b, '/v1/ids/ord?count=3', '/v1/ids/{tag}')).status).toBe(200);
      const range = await get(b, '/v1/ranges/ord?size=5', '/v1/ranges/{tag}');
      expect((range.json as { shape: unknown }).shape).toMatchObject({ kind: 'bitreverse' });
      expect(code(await get(b, '/v1/ranges/perm?size=5', '/v1/ranges/{tag}'))).toBe('FORBIDDEN');
      const pid = ((await get(b, '/v1/ids/perm', '/v1/ids/{tag}')).json as { id: string }).id;
      expect(code(await get(b, `/v1/decode/perm?id=${pid}`, '/v1/decode/{tag}'))).toBe('FORBIDDEN');
      const keyed = { Authorization: 'Bearer keeper' };
      const full = await get(b, '/v1/ranges/perm?size=5', '/v1/ranges/{tag}', keyed);
      expect((full.json as { shape: { key?: string } }).shape.key).toMatch(/^[0-9a-f]{32}$/);
      expect((await get(b, '/v1/status', '/v1/status')).status).toBe(200);
    } finally {
      await shaped.close();
    }
  });

  it('describes 500 INTERNAL: a tag damaged in the store', async () => {
    await svc.store.createTag(segmentTag('damaged'));
    const raw = new Redis(redisUrl);
    try {
      await raw.hset(svc.store.keys.tag('damaged'), 'next', 'garbage');
    } finally {
      raw.disconnect();
    }
    const r = await get(svc.base, '/v1/ids/damaged', '/v1/ids/{tag}');
    expect(r.status).toBe(500);
    expect((r.json as { error: { message: string } }).error.message).toMatch(
      /^internal error \(request [\w-]+\)$/,
    );
  });

  it('describes 503 UNAVAILABLE with Retry-After: a store that stopped', async () => {
    const redis = await RedisServer.start();
    const down = await startService(redis.url, { segment: { fetchTimeoutMs: 300 } });
    try {
      await down.store.createTag(segmentTag('order'));
      await redis.kill();
      for (const [target, path] of [
        ['/v1/ids/order', '/v1/ids/{tag}'],
        ['/v1/ranges/order?size=1', '/v1/ranges/{tag}'],
        ['/v1/tags', '/v1/tags'],
        ['/v1/tags/order', '/v1/tags/{tag}'],
        ['/api/segment/get/order', '/api/segment/get/{tag}'],
        ['/api/snowflake/get/order', '/api/snowflake/get/{tag}'],
        ['/readyz', '/readyz'],
      ] as const) {
        const r = await get(down.base, target, path);
        expect({ target, status: r.status }).toEqual({ target, status: 503 });
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      // The status keeps answering from memory: the store shows as down.
      const status = await get(down.base, '/v1/status', '/v1/status');
      expect((status.json as { store: { up: boolean } }).store.up).toBe(false);
    } finally {
      await down.close();
      await redis.dispose();
    }
  }, 90_000); // the general connection retries a dead store for seconds per call

  it('describes POST /v1/returns/{tag}: taken, refused with a reason, 400 and 401', async () => {
    const path = '/v1/returns/{tag}';
    const post = async (base: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}/v1/returns/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, ...(await api.check(res, path, 'post')) };
    };
    const lease = await get(svc.base, '/v1/ranges/order?size=5', '/v1/ranges/{tag}');
    const l = lease.json as { start: string; lease: string };
    const taken = await post(svc.base, { lease: l.lease, from: l.start });
    expect(taken.json).toMatchObject({ returned: '5' });
    const refused = await post(svc.base, { lease: l.lease, from: l.start });
    expect(refused.json).toMatchObject({ returned: '0', reason: 'unknown_lease' });
    expect((await post(svc.base, { lease: l.lease })).status).toBe(400);
    expect((await post(authed.base, { lease: l.lease, from: l.start })).status).toBe(401);
  });

  it('saw every operation answer 200, and every error code of the API', () => {
    const ok = new Set(api.checked.filter((c) => c.status === 200).map((c) => c.operation));
    expect([...ok].sort()).toEqual(api.operations().sort());
    const codes = new Set(api.checked.flatMap((c) => (c.code ? [c.code] : [])));
    expect([...codes].sort()).toEqual([...HTTP_ERROR_CODES].sort());
  });
});
