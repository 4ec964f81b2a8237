/**
 * The lean ID path (src/http/lean.ts) ahead of express: what it answers itself, what it
 * leaves to express, and that both answer alike. Its answers carry no `X-Request-Id`
 * unless the client sent one (express's always do), which tells the two paths apart.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { newPermuteKey } from '../../src/core/shape.js';
import { segmentTag } from '../support/store.js';
import {
  find,
  parseExposition,
  rawGet as rawAnswer,
  startService,
  type TestService,
} from '../support/http.js';

const redisUrl = inject('redisUrl');

/** A GET with header lines exactly as given (fetch would join repeated names). */
function rawGet(svc: TestService, path: string, lines: readonly string[]) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
    (resolve, reject) => {
      const host = ['Host', new URL(svc.base).host];
      const req = request(svc.base + path, { headers: [...host, ...lines] }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

async function get(svc: TestService, path: string, init: RequestInit = {}) {
  const res = await fetch(svc.base + path, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('the lean ID path', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startService(redisUrl, {
      env: { MAX_BATCH: '50', API_TOKENS: 'sesame', SNOWFLAKE_WORKER_ID: '5' },
    });
    await svc.store.createTag(segmentTag('lean', { step: 10 }));
    await svc.store.createTag({ ...segmentTag('leanflake'), mode: 'snowflake' });
    await svc.store.createTag({
      ...segmentTag('leanshaped', { step: 10 }),
      shape: { kind: 'permute', width: 63, key: newPermuteKey(), prefix: 'usr' },
      regions: 1,
    });
  });
  afterAll(() => svc.close());

  const auth = { authorization: 'Bearer sesame' };

  it('answers IDs and Leaf IDs itself: no request id unless one was sent', async () => {
    const one = await get(svc, '/v1/ids/lean', { headers: auth });
    expect(one.status).toBe(200);
    expect(JSON.parse(one.text)).toEqual({ tag: 'lean', id: expect.stringMatching(/^\d+$/) });
    expect(one.headers.get('x-request-id')).toBeNull();
    const batch = await get(svc, '/v1/ids/lean?count=3', {
      headers: { ...auth, accept: 'text/plain' },
    });
    expect(batch.text).toMatch(/^\d+\n\d+\n\d+\n$/);
    const leaf = await get(svc, '/api/segment/get/lean', {
      headers: { ...auth, 'x-request-id': 'r-1' },
    });
    expect(leaf.text).toMatch(/^\d+$/);
    expect(leaf.headers.get('x-request-id')).toBe('r-1');
    // The segment tag was served once by express (mode unknown); now the lean path has it.
    await get(svc, '/api/snowflake/get/leanflake', { headers: auth });
    const flake = await get(svc, '/api/snowflake/get/leanflake', { headers: auth });
    expect(flake.status).toBe(200);
    expect(flake.headers.get('x-request-id')).toBeNull();
  });

  it('leaves refusals to express, which answers them as before', async () => {
    const cases: [string, RequestInit, number][] = [
      ['/v1/ids/lean', {}, 401],
      ['/v1/ids/lean', { headers: { authorization: 'Bearer wrong' } }, 401],
      ['/v1/ids/lean?count=0', { headers: auth }, 400],
      ['/v1/ids/lean?cuont=2', { headers: auth }, 400],
      ['/v1/ids/le%20an', { headers: auth }, 400],
      ['/api/snowflake/get/lean', { headers: auth }, 409],
      ['/v1/ids/lean', { method: 'POST', headers: auth }, 404],
    ];
    for (const [path, init, status] of cases) {
      const a = await get(svc, path, init);
      expect([path, a.status]).toEqual([path, status]);
      expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/); // express's context
      expect(JSON.parse(a.text)).toMatchObject({ error: { code: expect.any(String) } });
    }
    const head = await get(svc, '/v1/ids/lean', { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-request-id')).not.toBeNull();
  });

  it('gives every ID answer the Content-Length of its bytes (counted as ASCII)', async () => {
    const paths = [
      '/v1/ids/lean',
      '/v1/ids/lean?count=7',
      '/v1/ids/leanshaped',
      '/v1/ids/leanshaped?count=7',
      '/api/segment/get/lean',
      '/api/snowflake/get/leanflake',
    ];
    for (const path of paths) {
      for (const accept of ['application/json', 'text/plain']) {
        // The bytes as sent, read to the close (a client reads Content-Length bytes only).
        const a = await rawAnswer(svc.port, path, {
          Authorization: 'Bearer sesame',
          Accept: accept,
        });
        expect([path, accept, a.status]).toEqual([path, accept, 200]);
        expect(a.body).toMatch(/^[\x20-\x7e\n]+$/);
        expect(a.headers['content-length']).toBe(String(a.body.length));
      }
    }
  });

  it('reads its headers in any case, and leaves repeated ones to express', async () => {
    // Header names in odd case: still the lean path's (no request id in the answer).
    const odd = await rawGet(svc, '/v1/ids/lean', [
      'AUTHORIZATION',
      'Bearer sesame',
      'aCCEPT',
      'text/plain',
      'X-REQUEST-ID',
      'odd-1',
    ]);
    expect(odd.status).toBe(200);
    expect(odd.text).toMatch(/^\d+\n$/);
    expect(odd.headers['x-request-id']).toBe('odd-1');
    const plain = await rawGet(svc, '/v1/ids/lean', ['Authorization', 'Bearer sesame']);
    expect(plain.headers['x-request-id']).toBeUndefined();
    expect(plain.headers['content-length']).toBe(String(Buffer.byteLength(plain.text)));
    // A repeated Accept or Authorization: express answers, by Node's rules for repeats
    // (Accept joined: JSON wins over text here; Authorization: the first one counts).
    const accepts = await rawGet(svc, '/v1/ids/lean', [
      'Authorization',
      'Bearer sesame',
      'Accept',
      'application/json',
      'Accept',
      'text/plain',
    ]);
    expect(accepts.status).toBe(200);
    expect(JSON.parse(accepts.text)).toEqual({ tag: 'lean', id: expect.any(String) });
    expect(accepts.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/); // express's context
    const twice = await rawGet(svc, '/v1/ids/lean', [
      'Authorization',
      'Bearer sesame',
      'authorization',
      'Bearer wrong',
    ]);
    expect(twice.status).toBe(200);
    expect(twice.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const refusedTwice = await rawGet(svc, '/v1/ids/lean', [
      'Authorization',
      'Bearer wrong',
      'Authorization',
      'Bearer sesame',
    ]);
    expect(refusedTwice.status).toBe(401);
    // An Idempotency-Key in any case is a keyed request: express's route, replayed.
    const keyed = ['Authorization', 'Bearer sesame', 'IDEMPOTENCY-KEY', 'lean-k1'];
    const first = await rawGet(svc, '/v1/ids/lean', keyed);
    const again = await rawGet(svc, '/v1/ids/lean', keyed);
    expect(again.text).toBe(first.text);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it("answers the allocator's errors itself with the shared error body, log line and metrics", async () => {
    const a = await get(svc, '/v1/ids/nosuchtag', {
      headers: { ...auth, 'x-request-id': 'lean-404' },
    });
    expect(a.status).toBe(404);
    expect(a.headers.get('x-request-id')).toBe('lean-404');
    expect(JSON.parse(a.text)).toEqual({
      error: { code: 'TAG_NOT_FOUND', message: expect.stringContaining('nosuchtag') },
    });
    const line = svc.logs.find((l) => (l.req as { id?: string } | undefined)?.id === 'lean-404');
    expect(line).toMatchObject({ msg: 'request refused', res: { statusCode: 404 } });
    const e = parseExposition((await svc.metrics.render()).body);
    const series = find(e, 'http_request_duration_seconds_count', {
      method: 'GET',
      route: '/v1/ids/:tag',
    });
    const byStatus = Object.fromEntries(series.map((s) => [s.labels.status_code, s.value]));
    expect(byStatus['404']).toBe(1);
    expect(byStatus['200']).toBeGreaterThanOrEqual(2);
  });

  it('says Connection: close once shutdown began, buffered or waiting for a range', async () => {
    const own = await startService(redisUrl);
    try {
      await own.store.createTag(segmentTag('drainbuf', { step: 100 }));
      await own.store.createTag(segmentTag('drainwait', { step: 100 }));
      const before = await get(own, '/v1/ids/drainbuf');
      expect(before.headers.get('connection')).toBe('keep-alive');
      own.ready.beginShutdown();
      // Buffered: answered synchronously by the lean path (no request id).
      const buffered = await get(own, '/v1/ids/drainbuf');
      expect(buffered.status).toBe(200);
      expect(buffered.headers.get('x-request-id')).toBeNull();
      expect(buffered.headers.get('connection')).toBe('close');
      // Not buffered yet: the answer waits for the tag's first range.
      const waited = await get(own, '/v1/ids/drainwait');
      expect(waited.status).toBe(200);
      expect(waited.headers.get('x-request-id')).toBeNull();
      expect(waited.headers.get('connection')).toBe('close');
    } finally {
      await own.close();
    }
  });
});
