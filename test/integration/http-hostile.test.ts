/**
 * Hostile input: each bad request is a 400 JSON naming the problem, and the server keeps
 * serving. Sent byte for byte where fetch would normalise the URL.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rawGet, startService, type RawResponse, type TestService } from '../support/http.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');

function expect400(a: RawResponse, message: RegExp) {
  expect(a.status).toBe(400);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(a.body) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('INVALID_ARGUMENT');
  expect(body.error.message).toMatch(message);
}

const COUNT_RULE = /expected an integer from 1 to 1000/;
const TAG_RULE = /is not allowed: use 1 to 64 of A-Z a-z 0-9 _ \. -/;

describe('hostile input', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startService(redisUrl);
    await svc.store.createTag(segmentTag('order'));
  });
  afterAll(() => svc.close());

  const cases: [string, string, RegExp][] = [
    ['count=abc', '/v1/ids/order?count=abc', /count 'abc'.*from 1 to 1000/],
    ['count=-1', '/v1/ids/order?count=-1', /count '-1'/],
    ['count=0', '/v1/ids/order?count=0', /count '0'/],
    ['count=1e3', '/v1/ids/order?count=1e3', /count '1e3'/],
    ['count=99999999', '/v1/ids/order?count=99999999', /count '99999999'/],
    ['count=1001 (MAX_BATCH + 1)', '/v1/ids/order?count=1001', COUNT_RULE],
    ['count=+5', '/v1/ids/order?count=%2B5', /count '\+5'/],
    ['count=5.0', '/v1/ids/order?count=5.0', /count '5\.0'/],
    ['count=0x10', '/v1/ids/order?count=0x10', /count '0x10'/],
    ['count= 5', '/v1/ids/order?count=%205', /count ' 5'/],
    ['count empty', '/v1/ids/order?count=', /count ''/],
    ['a huge count', `/v1/ids/order?count=${'9'.repeat(5000)}`, /count '9{80}…'/],
    ['repeated count', '/v1/ids/order?count=1&count=2', /'count' is given more than once/],
    ['count[]', '/v1/ids/order?count[]=5', /unknown query parameter 'count\[\]'/],
    [
      'an unknown parameter',
      '/v1/ids/order?cnt=5',
      /unknown query parameter 'cnt': this route accepts count/,
    ],
    [
      'a parameter on a route without any',
      '/v1/tags/order?x=1',
      /unknown query parameter 'x': this route accepts no query parameters/,
    ],
    ['size=0', '/v1/ranges/order?size=0', /size '0'/],
    ['repeated size', '/v1/ranges/order?size=1&size=1', /'size' is given more than once/],
    ['a tag of 65 characters', `/v1/ids/${'a'.repeat(65)}`, TAG_RULE],
    ['a very long tag', `/v1/ids/${'a'.repeat(4000)}`, /tag name 'a{80}…'/],
    ['a tag with /', '/v1/ids/a/b', /tag name 'a\/b'/],
    ['a tag with %2F', '/v1/ids/a%2Fb', /tag name 'a\/b'/],
    ['a .. segment', '/v1/ids/../tags', /tag name '\.\.\/tags'/],
    ['a tag ..', '/v1/ids/..', /tag name '\.\.'/],
    ['a tag starting with .', '/v1/ids/.hidden', /tag name '\.hidden'/],
    ['percent-encoded unicode', '/v1/ids/%C3%A9t%C3%A9', /tag name 'été'/],
    ['an encoded NUL', '/v1/ids/a%00b', TAG_RULE],
    ['an empty tag', '/v1/ids/', /tag name ''/],
    ['no tag at all', '/v1/ids', /tag name ''/],
    ['a bad % escape in the tag', '/v1/ids/%ZZ', /malformed URL/],
    ['a truncated % escape', '/v1/ids/order%', /malformed URL/],
    ['an overlong UTF-8 escape', '/v1/ids/%C0%AF', /malformed URL/],
    ['a bad % escape in the query', '/v1/ids/order?count=%ZZ', /count '%ZZ'/],
    ['a bad tag on the Leaf route', '/api/segment/get/a%2Fb', /tag name 'a\/b'/],
    ['an empty Leaf tag', '/api/snowflake/get/', /tag name ''/],
    ['a bad tag on /v1/tags', '/v1/tags/a/b', /tag name 'a\/b'/],
    ['a bad snowflake id', '/v1/snowflake/-1', /snowflake id '-1'/],
    ['a snowflake id with /', '/v1/snowflake/1/2', /snowflake id '1\/2'/],
  ];

  it.each(cases)('refuses %s with 400 naming the problem', async (_name, target, message) => {
    expect400(await rawGet(svc.port, target), message);
  });

  it('refuses raw unicode in the URL with a 400 JSON body', async () => {
    expect400(await rawGet(svc.port, '/v1/ids/été'), /malformed HTTP request/);
    expect400(await rawGet(svc.port, Buffer.from([0x2f, 0xff, 0xfe])), /malformed HTTP request/);
  });

  it('keeps serving after all of it', async () => {
    const a = await rawGet(svc.port, '/v1/ids/order?count=2');
    expect(a.status).toBe(200);
    expect((JSON.parse(a.body) as { ids: string[] }).ids).toHaveLength(2);
  });

  it('creates no tag label for names it refused or did not know', async () => {
    await rawGet(svc.port, '/v1/ids/not-a-tag');
    const text = (await rawGet(svc.port, '/metrics')).body;
    expect(text).not.toMatch(/tag="not-a-tag"/);
    expect(text).not.toMatch(/tag="a\//);
    expect(text).toMatch(/idalloc_ids_issued_total\{tag="order",mode="segment"\} \d+/);
  });
});
