/**
 * Bearer auth (API_TOKENS): `/v1/*`, the Leaf routes and `/metrics` need a token (the
 * last unless METRICS_PUBLIC); health and readiness stay open; tokens never reach the log.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startService, type TestService } from '../support/http.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');

describe('bearer auth with API_TOKENS', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startService(redisUrl, { env: { API_TOKENS: 'first-token, second-token' } });
    await svc.store.createTag(segmentTag('order'));
  });
  afterAll(() => svc.close());

  const get = (path: string, authorization?: string) =>
    fetch(svc.base + path, { headers: authorization ? { authorization } : {} });

  const guarded = [
    '/v1/ids/order',
    '/v1/ids/order?count=2',
    '/v1/ranges/order?size=5',
    '/v1/tags',
    '/v1/tags/order',
    '/v1/snowflake/123',
    '/api/segment/get/order',
    '/api/snowflake/get/order',
    '/v1/ids/bad..name/x',
  ];

  it.each(guarded)(
    'refuses %s without a token: 401 UNAUTHORIZED, WWW-Authenticate',
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({
        error: {
          code: 'UNAUTHORIZED',
          message: 'this route needs an Authorization: Bearer <token> header',
        },
      });
    },
  );

  it('refuses a wrong token, a token of another scheme, and an empty bearer', async () => {
    for (const header of [
      'Bearer wrong-token',
      'Bearer first-token-x',
      'Basic Zmlyc3QtdG9rZW4=',
      'Bearer ',
    ]) {
      const res = await get('/v1/ids/order', header);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
  });

  it('serves every configured token', async () => {
    for (const token of ['first-token', 'second-token']) {
      const res = await get('/v1/ids/order', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toMatch(/^\d+$/);
    }
    const leaf = await get('/api/segment/get/order', 'bearer first-token');
    expect(leaf.status).toBe(200);
  });

  it('validates input only after auth: a bad name with a good token is 400', async () => {
    const res = await get('/v1/ids/bad..name/x', 'Bearer first-token');
    expect(res.status).toBe(400);
  });

  it('leaves /healthz and /readyz open', async () => {
    for (const path of ['/healthz', '/readyz']) expect((await get(path)).status).toBe(200);
  });

  it('guards /metrics, which names every served tag and its remaining IDs', async () => {
    await get('/v1/ids/order', 'Bearer first-token').then((r) => r.text());
    const refused = await get('/metrics');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await refused.text()).not.toContain('order');
    expect((await get('/metrics', 'Bearer wrong-token')).status).toBe(401);
    const scraped = await get('/metrics', 'Bearer second-token');
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/idalloc_ids_issued_total\{tag="order"/);
  });

  it('never logs the token', async () => {
    await get('/v1/tags', 'Bearer second-token');
    await get('/v1/ids/order', 'Bearer wrong-token');
    const text = JSON.stringify(svc.logs);
    expect(text).toMatch(/"url":"\/v1\/tags"/);
    expect(text).not.toMatch(/second-token|wrong-token/);
  });
});

describe('METRICS_PUBLIC=true with API_TOKENS', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startService(redisUrl, {
      env: { API_TOKENS: 'only-token', METRICS_PUBLIC: 'true' },
    });
  });
  afterAll(() => svc.close());

  it('serves /metrics without a token, and still guards /v1', async () => {
    expect((await fetch(`${svc.base}/metrics`)).status).toBe(200);
    expect((await fetch(`${svc.base}/v1/tags`)).status).toBe(401);
  });
});
