/**
 * IdClient (docs/design.md §7) against a fake HTTP responder: a fetch that answers like a set of
 * idalloc services sharing one counter, or as each test scripts it, on a manual clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IdClient, type IdClientOptions } from '../../src/client/id-client.js';
import { parseRetryAfter } from '../../src/client/transport.js';
import { ErrorCode, IdAllocError, isIdAllocError } from '../../src/core/errors.js';
import { draw, failure, ids as range } from '../support/draw.js';
import { ManualClock, settle } from '../support/manual-timers.js';

/** What a fake service does with one request. */
type Answer =
  | 'lease' // a range from the shared counter
  | 'refused' // connection refused
  | 'hang' // no answer until the request is aborted
  | { status: number; body?: unknown; text?: string; headers?: Record<string, string> };

interface Call {
  readonly base: string;
  readonly tag: string;
  readonly size: number;
  readonly authorization: string | null;
}

/** idalloc services at `http://a`, `http://b`, … over one store (a counter per tag). */
class FakeServices {
  readonly calls: Call[] = [];
  /** The most requests in flight at once. */
  maxConcurrent = 0;
  private inFlight = 0;
  private readonly counters = new Map<string, bigint>();
  private readonly scripts = new Map<string, Answer[]>();
  private gate: Promise<void> | null = null;

  /** The answers `base` gives to its next requests, in order; then it leases normally. */
  script(base: string, ...answers: Answer[]): void {
    this.scripts.set(base, [...(this.scripts.get(base) ?? []), ...answers]);
  }

  /** Holds every answer back until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((r) => (release = r));
    return () => {
      this.gate = null;
      release();
    };
  }

  bases = () => this.calls.map((c) => c.base);

  fetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const m = /^(.*)\/v1\/ranges\/([^/]+)$/.exec(url.origin + url.pathname);
    if (!m) throw new Error(`unexpected request ${url.href}`);
    const [base, tag, size] = [
      m[1]!,
      decodeURIComponent(m[2]!),
      Number(url.searchParams.get('size')),
    ];
    const authorization = new Headers(init?.headers).get('authorization');
    this.calls.push({ base, tag, size, authorization });
    const signal = init?.signal ?? undefined;
    const answer = this.scripts.get(base)?.shift() ?? 'lease';
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.inFlight);
    try {
      return await this.answer(answer, tag, size, signal);
    } finally {
      this.inFlight--;
    }
  };

  private async answer(answer: Answer, tag: string, size: number, signal?: AbortSignal) {
    const abort = new Promise<never>((_, reject) => onAbort(signal, reject));
    abort.catch(() => {});
    if (this.gate) await Promise.race([this.gate, abort]);
    if (answer === 'hang') return await abort;
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (answer === 'refused') {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    }
    if (answer === 'lease') {
      const start = this.counters.get(tag) ?? 1n;
      this.counters.set(tag, start + BigInt(size));
      const body = { tag, start: String(start), end: String(start + BigInt(size) - 1n) };
      return Response.json(body);
    }
    const text = answer.text ?? JSON.stringify(answer.body ?? {});
    return new Response(text, {
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
    });
  }
}

function onAbort(signal: AbortSignal | undefined, reject: (e: unknown) => void): void {
  signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
}

const errorAnswer = (status: number, code: string, message = `${code} from the service`) => ({
  status,
  body: { error: { code, message } },
});

const clients: IdClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function setup(over: Partial<IdClientOptions> = {}) {
  const services = new FakeServices();
  const clock = new ManualClock();
  const logs: { level: string; msg: string; reason?: unknown }[] = [];
  const log = {
    error: (o: { reason?: unknown }, msg: string) =>
      logs.push({ level: 'error', msg, reason: o.reason }),
    warn: (_o: object, msg: string) => logs.push({ level: 'warn', msg }),
    info: (_o: object, msg: string) => logs.push({ level: 'info', msg }),
  };
  const client = new IdClient({
    urls: ['http://a', 'http://b', 'http://c'],
    rangeSize: 10,
    fetch: services.fetch,
    clock,
    random: () => 1,
    log,
    ...over,
  });
  clients.push(client);
  return { services, clock, client, logs };
}

describe('IdClient', () => {
  describe('serving', () => {
    it('waits for the first range, then serves synchronously from memory', async () => {
      const { client, services } = setup({ urls: ['http://a'] });
      const first = client.next('order');
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBe(1n);
      expect(services.calls).toEqual([
        { base: 'http://a', tag: 'order', size: 10, authorization: null },
      ]);
      const second = client.next('order');
      expect(typeof second).toBe('bigint');
      expect(second).toBe(2n);
    });

    it('leases the spare in the background once refillAt of the range is used', async () => {
      const { client, services } = setup({ urls: ['http://a'], refillAt: 0.2 });
      expect(await draw(client, 'order', 2)).toEqual([1n, 2n]); // 20% of 10 used
      await settle();
      expect(services.calls).toHaveLength(1);
      expect(client.next('order')).toBe(3n); // passes the mark
      await settle();
      expect(services.calls).toHaveLength(2);
      const rest = range(4, 20).map(() => client.next('order'));
      expect(rest).toEqual(range(4, 20)); // all synchronous, across both ranges
      await settle();
      expect(services.calls).toHaveLength(3); // 13 passed the second range's mark
    });

    it('runs one lease per tag: concurrent callers queue on it and get IDs in call order', async () => {
      const { client, services } = setup({ urls: ['http://a'], rangeSize: 3 });
      const release = services.hold();
      const waiting = [client.next('order'), client.nextBatch('order', 4), client.next('order')];
      await settle();
      expect(services.calls).toHaveLength(1);
      release();
      expect(await Promise.all(waiting)).toEqual([1n, [2n, 3n, 4n, 5n], 6n]);
      expect(services.calls.length).toBeGreaterThanOrEqual(2); // the batch needed a second range
      expect(services.maxConcurrent).toBe(1);
    });

    it('serves a batch ascending across buffers and several leases', async () => {
      const { client } = setup({ urls: ['http://a'], rangeSize: 4 });
      await draw(client, 'order', 1);
      const batch = await client.nextBatch('order', 11);
      expect(batch).toEqual(range(2, 12));
      await settle();
      expect(client.nextBatch('order', 1)).toEqual([13n]); // synchronous: buffered
    });

    it('keeps tags apart', async () => {
      const { client } = setup({ urls: ['http://a'] });
      expect(await draw(client, 'order', 2)).toEqual([1n, 2n]);
      expect(await draw(client, 'user', 2)).toEqual([1n, 2n]);
    });

    it('sends the token as a bearer header', async () => {
      const { client, services } = setup({ urls: ['http://a'], token: 's3cret' });
      await client.next('order');
      expect(services.calls[0]!.authorization).toBe('Bearer s3cret');
    });
  });

  describe('failover', () => {
    it('tries the next URL on a network error, a 5xx and a timeout', async () => {
      const { client, services, clock } = setup({ timeoutMs: 500 });
      services.script('http://a', 'refused');
      services.script('http://b', errorAnswer(500, 'INTERNAL'));
      services.script('http://c', 'hang');
      const waiting = client.next('order');
      await clock.advance(499);
      expect(services.bases()).toEqual(['http://a', 'http://b', 'http://c']);
      await clock.advance(1); // c's attempt times out: the round failed
      await clock.advance(50); // one backoff later, a second round
      expect(await waiting).toBe(1n);
      expect(services.bases()).toEqual(['http://a', 'http://b', 'http://c', 'http://a']);
    });

    it('starts each lease from the URL that answered last, round robin', async () => {
      const { client, services } = setup({ refillAt: 1 });
      services.script('http://a', 'refused');
      expect(await draw(client, 'order', 10)).toEqual(range(1, 10));
      expect(services.bases()).toEqual(['http://a', 'http://b']);
      expect(await client.next('order')).toBe(11n);
      expect(services.bases().slice(2)).toEqual(['http://b']);
      services.script('http://b', 'refused');
      expect(await draw(client, 'order', 10)).toEqual(range(12, 21));
      expect(services.bases().slice(3)).toEqual(['http://b', 'http://c']);
      services.script('http://c', 'refused');
      expect(await draw(client, 'order', 10)).toEqual(range(22, 31));
      expect(services.bases().slice(5)).toEqual(['http://c', 'http://a']);
    });

    it('fails over a 4xx that is not an idalloc answer (a wrong base path)', async () => {
      const { client, services } = setup();
      services.script('http://a', errorAnswer(404, 'NOT_FOUND'), { status: 404, text: '<html>' });
      services.script('http://b', { status: 404, text: '<html>' });
      expect(await client.next('order')).toBe(1n);
      expect(services.bases()).toEqual(['http://a', 'http://b', 'http://c']);
    });

    it('does not ask a URL that answered 503 again before its Retry-After', async () => {
      const { client, services, clock } = setup({
        urls: ['http://a', 'http://b'],
        waitTimeoutMs: 60_000,
        refillAt: 1,
      });
      services.script('http://a', {
        ...errorAnswer(503, 'UNAVAILABLE'),
        headers: { 'retry-after': '30' },
      });
      expect(await client.nextBatch('order', 9)).toEqual(range(1, 9));
      expect(services.bases()).toEqual(['http://a', 'http://b']);

      for (let i = 0; i < 100; i++) services.script('http://b', 'refused');
      expect(client.next('order')).toBe(10n);
      const waiting = client.next('order');
      await clock.advance(29_999);
      const meanwhile = services.bases().slice(2);
      expect(meanwhile.length).toBeGreaterThan(5); // b was retried with backoff…
      expect(meanwhile.every((b) => b === 'http://b')).toBe(true); // …a was left alone
      await clock.advance(5_000);
      expect(await waiting).toBe(11n);
      expect(services.bases().at(-1)).toBe('http://a');
    });

    it('treats a 503 without Retry-After as 1 s, and a Retry-After date as that time', () => {
      const now = Date.parse('2025-01-01T00:00:00Z');
      expect(parseRetryAfter('7', now, 30_000)).toBe(7000);
      expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:09 GMT', now, 30_000)).toBe(9000);
      expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now, 30_000)).toBe(0);
      expect(parseRetryAfter('soon', now, 30_000)).toBeUndefined();
      expect(parseRetryAfter('99999999', now, 30_000)).toBe(30_000);
      expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:00 GMT', now, 30_000)).toBe(30_000);
    });

    it.each<[string, Partial<IdClientOptions>, number]>([
      ['30 s by default', {}, 30_000],
      ['maxRetryAfterMs when set', { maxRetryAfterMs: 4000 }, 4000],
    ])(
      'benches its only URL for a huge Retry-After no longer than %s',
      async (_what, over, capMs) => {
        const { client, services, clock } = setup({
          urls: ['http://a'],
          waitTimeoutMs: 120_000,
          ...over,
        });
        services.script('http://a', {
          status: 503,
          text: '<html>down for maintenance</html>',
          headers: { 'retry-after': '600' }, // a proxy's maintenance page
        });
        const waiting = Promise.resolve(client.next('order'));
        waiting.catch(() => {}); // should an assertion below fail, close() rejects it
        await clock.advance(capMs - 1);
        expect(services.bases()).toEqual(['http://a']); // benched until the cap…
        await clock.advance(1);
        expect(services.bases()).toEqual(['http://a', 'http://a']); // …not 600 s
        expect(await waiting).toBe(1n);
      },
    );

    it('judges a 503 whose page is larger than the body cap by its status and Retry-After', async () => {
      const { client, services, clock } = setup({ urls: ['http://a'], waitTimeoutMs: 60_000 });
      services.script('http://a', {
        status: 503,
        text: `<html>${'maintenance '.repeat(20_000)}</html>`, // about 240 kB
        headers: { 'retry-after': '5' },
      });
      const waiting = Promise.resolve(client.next('order'));
      waiting.catch(() => {}); // should an assertion below fail, close() rejects it
      await clock.advance(4999);
      expect(services.bases()).toEqual(['http://a']);
      await clock.advance(1);
      expect(await waiting).toBe(1n);
    });

    it('fails UNAVAILABLE at the deadline, saying what each URL did', async () => {
      const { client, services, clock } = setup({
        urls: ['http://a', 'http://b'],
        waitTimeoutMs: 1000,
      });
      for (let i = 0; i < 50; i++) services.script('http://a', 'refused');
      for (let i = 0; i < 50; i++)
        services.script('http://b', errorAnswer(502, 'INTERNAL', 'bad gateway'));
      const waiting = failure(client.next('order'));
      await clock.advance(1000);
      const err = await waiting;
      expect(err.code).toBe(ErrorCode.UNAVAILABLE);
      expect(err.message).toMatch(/^no IDs for tag 'order' within 1000 ms/);
      expect(err.message).toContain('http://a: request failed: fetch failed (ECONNREFUSED)');
      expect(err.message).toContain('http://b: answered 502 INTERNAL: bad gateway');
      // Rounds were spaced by backoff, not spun: 50, 100, 200, 400 ms, then the deadline.
      expect(services.calls.length).toBe(10);
    });

    it('holds a failed background refill back instead of asking on every ID', async () => {
      const { client, services, clock } = setup({ urls: ['http://a'], refillAt: 0.5 });
      services.script('http://a', 'lease', 'refused', 'refused');
      expect(await draw(client, 'order', 5)).toEqual(range(1, 5));
      expect(client.next('order')).toBe(6n); // the mark: a background lease, refused
      await settle();
      expect(services.calls).toHaveLength(2);
      expect(await draw(client, 'order', 4)).toEqual(range(7, 10));
      await settle();
      expect(services.calls).toHaveLength(2); // held back for the backoff
      const waiting = client.next('order'); // demand asks at once
      await clock.advance(50);
      expect(await waiting).toBe(11n);
      expect(services.calls).toHaveLength(4);
    });
  });

  describe('refusals', () => {
    it.each([
      [404, 'TAG_NOT_FOUND'],
      [409, 'WRONG_MODE'],
      [409, 'TAG_EXHAUSTED'],
      [401, 'UNAUTHORIZED'],
      [400, 'INVALID_ARGUMENT'],
    ])(
      'turns a %i %s into a final IdAllocError with that code, asking no other URL',
      async (status, code) => {
        const { client, services } = setup();
        services.script('http://a', errorAnswer(status, code, `the service says ${code}`));
        const err = await failure(client.next('order'));
        expect(err.code).toBe(code);
        expect(err.message).toBe(`the service says ${code}`);
        expect(services.bases()).toEqual(['http://a']);
      },
    );

    it('turns a bare 401 (a proxy) into UNAUTHORIZED', async () => {
      const { client, services } = setup();
      services.script('http://a', { status: 401, text: 'Unauthorized' });
      expect((await failure(client.next('order'))).code).toBe(ErrorCode.UNAUTHORIZED);
    });

    it('fails every queued caller with the refusal', async () => {
      const { client, services } = setup();
      services.script('http://a', errorAnswer(409, 'TAG_EXHAUSTED'));
      const errs = await Promise.all([
        failure(client.next('t')),
        failure(client.nextBatch('t', 3)),
      ]);
      expect(errs.map((e) => e.code)).toEqual(['TAG_EXHAUSTED', 'TAG_EXHAUSTED']);
    });
  });

  describe('malformed answers', () => {
    const body = (start: unknown, end: unknown, tag: unknown = 'order') => ({
      status: 200,
      body: { tag, start, end },
    });
    it.each([
      ['not JSON', { status: 200, text: 'ok' }],
      ['numbers, not strings', body(101, 110)],
      ['not decimal', body('0x65', '110')],
      ['a sign', body('+101', '110')],
      ['leading zeros', body('0101', '110')],
      ['end below start', body('110', '101')],
      ['a size other than asked', body('101', '111')],
      ['another tag', body('101', '110', 'user')],
      ['above 2^63-1', body('9223372036854775800', '9223372036854775809')],
    ])('refuses %s, never serving it, and takes the next URL', async (_what, answer) => {
      const { client, services, logs } = setup({ urls: ['http://a', 'http://b'], refillAt: 1 });
      services.script('http://a', answer);
      expect(await client.nextBatch('order', 9)).toEqual(range(1, 9)); // b's range
      expect(services.bases()).toEqual(['http://a', 'http://b']);
      expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
    });

    it('refuses a range at or below one already leased (the fence)', async () => {
      const { client, services, logs } = setup({ urls: ['http://a', 'http://b'] });
      const lease = (start: string, end: string) => ({
        status: 200,
        body: { tag: 'order', start, end },
      });
      services.script('http://a', lease('101', '110'), lease('110', '119'));
      services.script('http://b', lease('111', '120'));
      expect(await client.nextBatch('order', 10)).toEqual(range(101, 110));
      const next = Promise.resolve(client.next('order'));
      next.catch(() => {}); // should an assertion below fail, close() rejects it unawaited
      await settle();
      // Asserted before awaiting the ID: without the transport's own check the engine's
      // fence refuses a's range instead and waits out a backoff on the manual clock, so
      // the ID would never come and the test would end by its timeout, not here.
      expect(services.bases()).toEqual(['http://a', 'http://a', 'http://b']);
      expect(logs.filter((l) => l.level === 'error')).toEqual([
        {
          level: 'error',
          msg: 'idalloc lease answer refused, never served',
          reason: expect.stringMatching(
            /^range 110\.\.119 is not above 110, the highest ID this client already leased/,
          ),
        },
      ]);
      expect(await next).toBe(111n);
    });
  });

  describe('options and arguments', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['no urls', { urls: [] }, /'urls' is \[\]: expected a non-empty array/],
      ['a bad url', { urls: ['ids-1:8080'] }, /'urls\[0\]' is 'ids-1:8080': expected an http/],
      ['a url with a query', { urls: ['http://a/?x=1'] }, /no query or fragment/],
      ['a url twice', { urls: ['http://a', 'http://a/'] }, /'http:\/\/a' is listed twice/],
      [
        'rangeSize 0',
        { rangeSize: 0 },
        /'rangeSize' is 0: expected an integer from 1 to 100000000/,
      ],
      ['rangeSize 1.5', { rangeSize: 1.5 }, /'rangeSize' is 1.5/],
      ['refillAt 1.2', { refillAt: 1.2 }, /'refillAt' is 1.2: expected a fraction from 0 to 1/],
      ['refillAt NaN', { refillAt: NaN }, /'refillAt' is NaN/],
      ['timeoutMs 0', { timeoutMs: 0 }, /'timeoutMs' is 0/],
      ['waitTimeoutMs -1', { waitTimeoutMs: -1 }, /'waitTimeoutMs' is -1/],
      [
        'maxRetryAfterMs -1',
        { maxRetryAfterMs: -1 },
        /'maxRetryAfterMs' is -1: expected an integer from 0 to 2147483647/,
      ],
      ['a fetch that is not a function', { fetch: 'x' }, /'fetch' is 'x': expected a function/],
      ['a clock without schedule', { clock: { now: () => 0 } }, /'clock'/],
      ['an unknown option', { rangesize: 5 }, /'rangesize' is 5: unknown option/],
    ])('refuses %s', (_what, over, message) => {
      const make = () => new IdClient({ urls: ['http://a'], ...over } as IdClientOptions);
      expect(make).toThrow(message);
      expect(() => make()).toThrow(IdAllocError);
    });

    it('refuses a token with spaces without echoing it', () => {
      const make = () => new IdClient({ urls: ['http://a'], token: 'my secret' });
      expect(make).toThrow(/'token' is not allowed/);
      expect(make).not.toThrow(/secret/);
    });

    it('refuses a bad tag name and a bad count, synchronously', () => {
      const { client } = setup();
      expect(() => client.next('bad tag')).toThrow(/tag name 'bad tag' is not allowed/);
      expect(() => client.nextBatch('order', 0)).toThrow(/count 0 is not allowed/);
      expect(() => client.nextBatch('order', 1.5)).toThrow(/count 1.5 is not allowed/);
    });
  });

  describe('close', () => {
    it('fails waiting callers and refuses later calls', async () => {
      const { client, services } = setup();
      services.hold();
      const waiting = failure(client.next('order'));
      await settle();
      await client.close();
      expect((await waiting).message).toBe('the IdClient is closed');
      let thrown: unknown;
      try {
        client.next('order');
      } catch (err) {
        thrown = err;
      }
      expect(isIdAllocError(thrown, ErrorCode.UNAVAILABLE)).toBe(true);
    });
  });
});
