/**
 * `GET /v1/tags` a page at a time: `limit` (default 100, at most 1000) tags in name order
 * after `after`, and `nextAfter` for the next page; the Redis store reads only the tags
 * of the page (a listing of 10 000 tags cost 1 s and 1.5 MB a call).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { startService, type TestService } from '../support/http.js';
import { startServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');
const TAGS = 250;

interface Page {
  tags: { name: string }[];
  nextAfter: string | null;
}

describe('GET /v1/tags, paged', () => {
  let svc: TestService;
  const names = Array.from({ length: TAGS }, (_, i) => `t${String(i).padStart(4, '0')}`);

  beforeAll(async () => {
    svc = await startService(redisUrl);
    for (const name of names) await svc.store.createTag(segmentTag(name));
  }, 60_000);
  afterAll(() => svc.close());

  const page = async (query: string) => {
    const res = await fetch(`${svc.base}/v1/tags${query}`);
    return { status: res.status, body: (await res.json()) as Page & { error?: unknown } };
  };

  it('lists 100 tags by default, and every tag once when following nextAfter', async () => {
    const first = await page('');
    expect(first.status).toBe(200);
    expect(first.body.tags).toHaveLength(100);
    expect(first.body.nextAfter).toBe(names[99]);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const p: { body: Page } = await page(
        after === null ? '?limit=60' : `?limit=60&after=${after}`,
      );
      seen.push(...p.body.tags.map((t) => t.name));
      after = p.body.nextAfter;
      pages += 1;
      expect(pages, 'pages follow one another').toBeLessThanOrEqual(Math.ceil(TAGS / 60));
    } while (after !== null);
    expect(pages).toBe(Math.ceil(TAGS / 60));
    expect(seen).toEqual(names);
  });

  it('answers a whole listing up to limit=1000, nextAfter null', async () => {
    const all = await page('?limit=1000');
    expect(all.body.tags.map((t) => t.name)).toEqual(names);
    expect(all.body.nextAfter).toBeNull();
    // A name between tags, or past the last: the tags after it.
    expect((await page('?after=t0099a&limit=2')).body.tags.map((t) => t.name)).toEqual([
      't0100',
      't0101',
    ]);
    expect(await page('?after=zzz')).toEqual({ status: 200, body: { tags: [], nextAfter: null } });
  });

  it('reads only the tags of the page from Redis', async () => {
    // Every tag read of a listing is one HGETALL on the store's general connection.
    const client = (svc.store as unknown as { client: { hgetall: (key: string) => unknown } })
      .client;
    let reads = 0;
    const hgetall = client.hgetall.bind(client);
    client.hgetall = (key: string) => {
      reads += 1;
      return hgetall(key);
    };
    try {
      const p = await page('?limit=5&after=t0200');
      expect(p.body.tags.map((t) => t.name)).toEqual(['t0201', 't0202', 't0203', 't0204', 't0205']);
      // The page and one more, to know whether there is a next page.
      expect(reads).toBe(6);
    } finally {
      client.hgetall = hgetall;
    }
  });

  it('refuses a limit out of range and an after that is no tag name, naming them', async () => {
    for (const [query, message] of [
      ['?limit=0', /limit '0' is not allowed: expected an integer from 1 to 1000/],
      ['?limit=1001', /limit '1001' is not allowed/],
      ['?limit=5x', /limit '5x' is not allowed/],
      ['?after=-x', /after '-x' is not allowed: expected a tag name/],
      ['?cursor=1', /unknown query parameter 'cursor': this route accepts limit, after/],
    ] as const) {
      const p = await page(query);
      expect(p.status, query).toBe(400);
      expect(JSON.stringify(p.body.error)).toMatch(message);
    }
  });
});

describe('GET /v1/tags, paged, on the embedded store', () => {
  it('pages the same way over a store that returns every tag', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-tags-page-'));
    const names = Array.from({ length: 30 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    try {
      const store = new EmbeddedStore({ dataDir });
      for (const name of names) await store.createTag(segmentTag(name));
      await store.close();
      const svc = await startServiceProcess({ DATA_DIR: dataDir });
      try {
        const seen: string[] = [];
        let after: string | null = null;
        do {
          const query: string = after === null ? '?limit=7' : `?limit=7&after=${after}`;
          const body = (await (await fetch(`${svc.base}/v1/tags${query}`)).json()) as Page;
          expect(body.tags.length).toBeLessThanOrEqual(7);
          seen.push(...body.tags.map((t) => t.name));
          after = body.nextAfter;
          // A page that ignored `after` would repeat itself: fail on it, not on a timeout.
          expect(seen.length, 'pages repeat no tag').toBe(new Set(seen).size);
        } while (after !== null);
        expect(seen).toEqual(names);
      } finally {
        await svc.dispose();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
