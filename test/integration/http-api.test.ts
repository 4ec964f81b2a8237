/**
 * The HTTP API of docs/design.md §2, route by route and error code by error code, on the real app
 * over a real allocator and Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { startService, type TestService } from '../support/http.js';

const redisUrl = inject('redisUrl');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

async function get(svc: TestService, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(svc.base + path, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Every error: exactly `{"error":{"code","message"}}`, JSON, never a stack. */
function expectError(a: Answer, status: number, code: string, message?: RegExp) {
  expect(a.status).toBe(status);
  expect(a.headers.get('content-type')).toMatch(/^application\/json/);
  const body = a.json() as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).not.toMatch(/\n\s+at /);
  if (message) expect(body.error.message).toMatch(message);
}

describe('HTTP API', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startService(redisUrl, {
      env: { MAX_BATCH: '50', MAX_RANGE: '500', SNOWFLAKE_WORKER_ID: '3' },
    });
    await svc.store.createTag(segmentTag('order', { step: 10 }));
    await svc.store.createTag(segmentTag('tiny', { step: 1, start: 1n, max: 3n, gap: 0n }));
    await svc.store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
  });
  afterAll(() => svc.close());

  describe('GET /v1/ids/{tag}', () => {
    it('answers one ID as a JSON string of digits', async () => {
      const a = await get(svc, '/v1/ids/order');
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(/^application\/json/);
      expect(a.headers.get('cache-control')).toBe('no-store');
      const body = a.json() as { tag: string; id: string };
      expect(body.tag).toBe('order');
      expect(body.id).toMatch(/^\d+$/);
    });

    it('answers count IDs, ascending and above the IDs before them', async () => {
      const one = (await get(svc, '/v1/ids/order')).json() as { id: string };
      const a = await get(svc, '/v1/ids/order?count=25');
      expect(a.status).toBe(200);
      const { tag, ids } = a.json() as { tag: string; ids: string[] };
      expect(tag).toBe('order');
      expect(ids).toHaveLength(25);
      const values = ids.map(BigInt);
      expect(values[0]! > BigInt(one.id)).toBe(true);
      for (let i = 1; i < values.length; i++) expect(values[i]! > values[i - 1]!).toBe(true);
    });

    it('answers bare digits, one per line, with Accept: text/plain', async () => {
      const one = await get(svc, '/v1/ids/order', { accept: 'text/plain' });
      expect(one.status).toBe(200);
      expect(one.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(one.text).toMatch(/^\d+\n$/);
      const many = await get(svc, '/v1/ids/order?count=3', { accept: 'text/plain' });
      expect(many.text).toMatch(/^\d+\n\d+\n\d+\n$/);
      const [a, b, c] = many.text.trim().split('\n').map(BigInt);
      expect(a! < b! && b! < c!).toBe(true);
    });

    it('prefers JSON when Accept lists both, and text when text is preferred', async () => {
      const json = await get(svc, '/v1/ids/order', { accept: 'application/json, text/plain' });
      expect(json.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await get(svc, '/v1/ids/order', {
        accept: 'text/plain;q=1, application/json;q=0.5',
      });
      expect(text.text).toMatch(/^\d+\n$/);
    });

    it('serves a snowflake tag through the same route', async () => {
      const a = await get(svc, '/v1/ids/flake');
      expect(a.status).toBe(200);
      const { id } = a.json() as { id: string };
      const decoded = (await get(svc, `/v1/snowflake/${id}`)).json() as { workerId: number };
      expect(decoded.workerId).toBe(3);
    });

    it('answers 404 TAG_NOT_FOUND for an unknown tag and creates nothing', async () => {
      expectError(
        await get(svc, '/v1/ids/ordr'),
        404,
        'TAG_NOT_FOUND',
        /tag 'ordr' does not exist/,
      );
      expectError(await get(svc, '/v1/ids/ordr?count=2'), 404, 'TAG_NOT_FOUND');
      expect(await svc.store.getTag('ordr')).toBeUndefined();
    });

    it('answers 409 TAG_EXHAUSTED once the tag reached its max', async () => {
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const a = await get(svc, '/v1/ids/tiny');
        expect(a.status).toBe(200);
        seen.push((a.json() as { id: string }).id);
      }
      expect(seen).toEqual(['1', '2', '3']);
      expectError(await get(svc, '/v1/ids/tiny'), 409, 'TAG_EXHAUSTED', /tiny/);
    });

    it('answers errors as JSON also when text/plain was asked for', async () => {
      expectError(await get(svc, '/v1/ids/ordr', { accept: 'text/plain' }), 404, 'TAG_NOT_FOUND');
    });
  });

  describe('GET /v1/ranges/{tag}', () => {
    it('reserves size IDs, start..end inclusive, apart from IDs served one by one', async () => {
      const a = await get(svc, '/v1/ranges/order?size=100');
      expect(a.status).toBe(200);
      const { tag, start, end } = a.json() as { tag: string; start: string; end: string };
      expect(tag).toBe('order');
      expect(BigInt(end) - BigInt(start) + 1n).toBe(100n);
      const after = (await get(svc, '/v1/ids/order?count=50')).json() as { ids: string[] };
      for (const id of after.ids.map(BigInt)) {
        expect(id < BigInt(start) || id > BigInt(end)).toBe(true);
      }
    });

    it('answers 400 INVALID_ARGUMENT without a size or beyond MAX_RANGE', async () => {
      expectError(
        await get(svc, '/v1/ranges/order'),
        400,
        'INVALID_ARGUMENT',
        /'size' is required/,
      );
      expectError(
        await get(svc, '/v1/ranges/order?size=501'),
        400,
        'INVALID_ARGUMENT',
        /size '501' is not allowed: expected an integer from 1 to 500/,
      );
    });

    it('answers 409 WRONG_MODE for a snowflake tag', async () => {
      expectError(await get(svc, '/v1/ranges/flake?size=10'), 409, 'WRONG_MODE', /flake/);
    });

    it('answers 404 TAG_NOT_FOUND for an unknown tag', async () => {
      expectError(await get(svc, '/v1/ranges/nope?size=10'), 404, 'TAG_NOT_FOUND');
    });
  });

  describe('GET /v1/tags and /v1/tags/{tag}', () => {
    it('lists every tag with its configuration, 64-bit values as strings', async () => {
      const a = await get(svc, '/v1/tags');
      expect(a.status).toBe(200);
      const { tags } = a.json() as { tags: { name: string; max: string; mode: string }[] };
      expect(tags.map((t) => t.name)).toEqual(['flake', 'order', 'tiny']);
      const tiny = tags.find((t) => t.name === 'tiny')!;
      expect(tiny).toMatchObject({ mode: 'segment', step: 1, max: '3', gap: '0' });
      expect(tags.find((t) => t.name === 'flake')!.mode).toBe('snowflake');
    });

    it("shows a served tag's live state on this node", async () => {
      await get(svc, '/v1/ids/order');
      const a = await get(svc, '/v1/tags/order');
      expect(a.status).toBe(200);
      const body = a.json() as Record<string, unknown> & { node: Record<string, unknown> };
      expect(body).toMatchObject({ name: 'order', mode: 'segment', step: 10 });
      expect(body.next).toMatch(/^\d+$/);
      const node = body.node as {
        current: { start: string; end: string; next: string; remaining: string };
        nextReady: boolean;
        step: number;
        lastFetchAt: string;
      };
      expect(BigInt(node.current.start) <= BigInt(node.current.next)).toBe(true);
      expect(BigInt(node.current.next) <= BigInt(node.current.end) + 1n).toBe(true);
      expect(node.current.remaining).toBe(
        String(BigInt(node.current.end) - BigInt(node.current.next) + 1n),
      );
      expect(typeof node.nextReady).toBe('boolean');
      expect(node.step).toBeGreaterThanOrEqual(10);
      expect(Date.parse(node.lastFetchAt)).toBeGreaterThan(Date.now() - 60_000);
    });

    it('shows node null for a tag this node has not served', async () => {
      await svc.store.createTag(segmentTag('unserved'));
      const body = (await get(svc, '/v1/tags/unserved')).json() as { node: unknown };
      expect(body.node).toBeNull();
    });

    it('answers 404 TAG_NOT_FOUND for an unknown tag', async () => {
      expectError(await get(svc, '/v1/tags/nope'), 404, 'TAG_NOT_FOUND', /'nope'/);
    });
  });

  describe('GET /v1/snowflake/{id}', () => {
    it('decodes an ID into time, worker and sequence', async () => {
      const id = ((1000n << 22n) | (5n << 12n) | 17n).toString();
      const a = await get(svc, `/v1/snowflake/${id}`);
      expect(a.status).toBe(200);
      expect(a.json()).toEqual({
        id,
        timestamp: Date.parse('2024-01-01T00:00:01Z'),
        time: '2024-01-01T00:00:01.000Z',
        workerId: 5,
        sequence: 17,
      });
    });

    it('decodes an ID whose timestamp is an hour ahead of this node, with a note', async () => {
      const epoch = Date.parse('2024-01-01T00:00:00Z');
      const ahead = Date.now() + 3_600_000;
      const id = ((BigInt(ahead - epoch) << 22n) | (9n << 12n) | 4n).toString();
      const a = await get(svc, `/v1/snowflake/${id}`);
      expect(a.status).toBe(200);
      const body = a.json() as Record<string, unknown>;
      expect(body).toMatchObject({ id, timestamp: ahead, workerId: 9, sequence: 4 });
      const m = /^timestamp is (\d+) ms ahead of this node's clock: more than the 60000 ms/.exec(
        String(body.note),
      );
      expect(m).not.toBeNull();
      // The request took a moment: the node's clock moved on a little meanwhile.
      expect(Number(m![1])).toBeGreaterThan(3_500_000);
      expect(Number(m![1])).toBeLessThanOrEqual(3_600_000);
    });

    it('answers 400 INVALID_ARGUMENT for what is not a 64-bit ID', async () => {
      expectError(
        await get(svc, '/v1/snowflake/12ab'),
        400,
        'INVALID_ARGUMENT',
        /snowflake id '12ab'/,
      );
      expectError(await get(svc, '/v1/snowflake/9223372036854775808'), 400, 'INVALID_ARGUMENT');
    });
  });

  describe('Leaf-compatible routes', () => {
    it('answers a segment ID as bare digits in text/plain, without a newline', async () => {
      const a = await get(svc, '/api/segment/get/order');
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(a.text).toMatch(/^\d+$/);
    });

    it('answers a snowflake ID as bare digits', async () => {
      const a = await get(svc, '/api/snowflake/get/flake');
      expect(a.status).toBe(200);
      expect(a.text).toMatch(/^\d+$/);
    });

    it('answers 409 WRONG_MODE when the route does not match the tag mode', async () => {
      expectError(await get(svc, '/api/snowflake/get/order'), 409, 'WRONG_MODE', /segment/);
      expectError(await get(svc, '/api/segment/get/flake'), 409, 'WRONG_MODE', /snowflake/);
    });

    it('answers 404 TAG_NOT_FOUND for an unknown tag', async () => {
      expectError(await get(svc, '/api/segment/get/nope'), 404, 'TAG_NOT_FOUND');
      expectError(await get(svc, '/api/snowflake/get/nope'), 404, 'TAG_NOT_FOUND');
    });
  });

  describe('operations routes', () => {
    it('answers /healthz 200 while running', async () => {
      const a = await get(svc, '/healthz');
      expect(a.status).toBe(200);
      expect(a.json()).toEqual({ status: 'ok' });
    });

    it('answers /readyz 200 while the store answers', async () => {
      const a = await get(svc, '/readyz');
      expect(a.status).toBe(200);
      // Issue 17: the answer names what the node serves from.
      expect(a.json()).toEqual({ status: 'ready', serving: 'store' });
    });

    it('answers unknown routes 404 NOT_FOUND as JSON', async () => {
      expectError(
        await get(svc, '/v2/ids/order'),
        404,
        'NOT_FOUND',
        /no route GET \/v2\/ids\/order/,
      );
      const post = await fetch(`${svc.base}/v1/ids/order`, { method: 'POST' });
      expect(post.status).toBe(404);
      expect(((await post.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    });

    it('echoes a sane x-request-id and makes one up otherwise', async () => {
      const echoed = await get(svc, '/healthz', { 'x-request-id': 'abc-123' });
      expect(echoed.headers.get('x-request-id')).toBe('abc-123');
      const made = await get(svc, '/healthz', { 'x-request-id': 'bad id with spaces' });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('500 INTERNAL', () => {
    it('hides the cause from the client and logs it with its stack', async () => {
      await svc.store.createTag(segmentTag('damaged'));
      const raw = new Redis(redisUrl);
      await raw.hdel(svc.store.keys.tag('damaged'), 'next');
      raw.disconnect();
      const a = await get(svc, '/v1/ids/damaged', { 'x-request-id': 'req-500' });
      expectError(a, 500, 'INTERNAL', /^internal error \(request req-500\)$/);
      expect(a.text).not.toMatch(/damaged|next|stack/);
      const line = svc.logs.find(
        (l) => (l.req as { id?: string } | undefined)?.id === 'req-500' && l.level === 50,
      );
      expect(line).toBeDefined();
      const err = line!.err as { message: string; stack: string };
      expect(err.message).toMatch(/damaged/);
      expect(err.stack).toMatch(/\n\s+at /);
    });
  });
});

describe('HTTP API when the store is down', () => {
  it('answers 503 UNAVAILABLE with Retry-After, and /readyz 503 with the reason', async () => {
    const server = await RedisServer.start();
    const svc = await startService(server.url, { segment: { fetchTimeoutMs: 300 } });
    try {
      await svc.store.createTag(segmentTag('order'));
      await server.kill();
      const a = await get(svc, '/v1/ids/order');
      expectError(a, 503, 'UNAVAILABLE');
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const ready = await get(svc, '/readyz');
      expectError(ready, 503, 'UNAVAILABLE', /^not ready: /);
      expect(ready.headers.get('retry-after')).toBe('1');
      expect((await get(svc, '/healthz')).status).toBe(200);
    } finally {
      await svc.close();
      await server.dispose();
    }
  });
});

describe('/readyz during shutdown', () => {
  it('answers 503 once shutdown began, and answers say Connection: close', async () => {
    const svc = await startService(redisUrl);
    try {
      expect((await get(svc, '/readyz')).status).toBe(200);
      svc.ready.beginShutdown();
      const a = await get(svc, '/readyz');
      expectError(a, 503, 'UNAVAILABLE', /shutting down/);
      expect(a.headers.get('connection')).toBe('close');
      expect((await get(svc, '/healthz')).headers.get('connection')).toBe('close');
    } finally {
      await svc.close();
    }
  });
});
