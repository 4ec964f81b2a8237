/**
 * IdClient (docs/design.md §7) against two real service instances (real nodes, startNode on port 0) sharing
 * one Redis and one key prefix: uniqueness across clients, order within each, failover
 * when a service goes away, the service's refusals, bearer auth.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { IdClient, type IdClientOptions } from '../../src/client/id-client.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { startService, type TestService } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');

const clients: IdClient[] = [];
const services: TestService[] = [];
/** Services a test closed itself. */
const closed = new Set<TestService>();
afterEach(async () => {
  // Clients first: a service closing under a client is the failover test's business.
  await Promise.all(clients.splice(0).map((c) => c.close()));
  const running = services.splice(0).filter((s) => !closed.has(s));
  await Promise.all(running.map((s) => s.close()));
  closed.clear();
});

/** Two services over one store (same Redis, same prefix). */
async function twoServices(env: Record<string, string> = {}) {
  const keyPrefix = testPrefix();
  const a = await startService(redisUrl, { keyPrefix, env });
  const b = await startService(redisUrl, { keyPrefix, env });
  services.push(a, b);
  await a.store.createTag(segmentTag('order', { step: 100 }));
  return { a, b };
}

/** What one client's fetch did: each attempt's base URL, start and end, and outcome. */
interface Attempt {
  readonly base: string;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
}

function client(urls: string[], over: Partial<IdClientOptions> = {}) {
  const attempts: Attempt[] = [];
  const tracked: typeof fetch = async (input, init) => {
    const base = String(input).replace(/\/v1\/ranges\/.*$/, '');
    const start = performance.now();
    try {
      const res = await fetch(input, init);
      attempts.push({ base, start, end: performance.now(), ok: res.ok });
      return res;
    } catch (err) {
      attempts.push({ base, start, end: performance.now(), ok: false });
      throw err;
    }
  };
  const c = new IdClient({ urls, rangeSize: 100, fetch: tracked, ...over });
  clients.push(c);
  return { c, attempts };
}

/**
 * Draws `n` IDs of `tag`, mixing single IDs and small batches, yielding now and then so
 * that the clients of one test really interleave.
 */
async function draw(c: IdClient, tag: string, n: number, tick: () => void): Promise<bigint[]> {
  const out: bigint[] = [];
  while (out.length < n) {
    if (out.length % 40 === 0) {
      const r = c.nextBatch(tag, Math.min(7, n - out.length));
      out.push(...(Array.isArray(r) ? r : await r));
    } else {
      const r = c.next(tag);
      out.push(typeof r === 'bigint' ? r : await r);
    }
    if (out.length % 25 === 0) {
      tick();
      await new Promise((r) => setImmediate(r));
    }
  }
  return out;
}

function expectIncreasing(ids: readonly bigint[]): void {
  const firstBreak = ids.findIndex((id, i) => i > 0 && id <= ids[i - 1]!);
  expect(firstBreak).toBe(-1);
}

describe('IdClient against real services', () => {
  it('hands out 20 000 unique IDs from three clients at once, each client increasing', async () => {
    const { a, b } = await twoServices();
    const users = [client([a.base, b.base]), client([b.base, a.base]), client([a.base, b.base])];
    const per = [6667, 6667, 6666];
    const drawn = await Promise.all(users.map(({ c }, i) => draw(c, 'order', per[i]!, () => {})));

    const all = drawn.flat();
    expect(all).toHaveLength(20_000);
    expect(new Set(all).size).toBe(20_000);
    for (const ids of drawn) expectIncreasing(ids);
    const bases = users.flatMap(({ attempts }) => attempts.map((x) => x.base));
    expect(new Set(bases)).toEqual(new Set([a.base, b.base])); // both services leased
    expect(users.every(({ attempts }) => attempts.every((x) => x.ok))).toBe(true);
  });

  it('carries on through the other service when one closes mid-run', async () => {
    const { a, b } = await twoServices();
    const users = [client([a.base, b.base]), client([b.base, a.base]), client([a.base, b.base])];
    let total = 0;
    let closedAt = Infinity;
    let closing: Promise<void> | undefined;
    const tick = () => {
      total += 25;
      if (total >= 6000 && closing === undefined) {
        closedAt = performance.now();
        closed.add(a);
        closing = a.close();
      }
    };
    const drawn = await Promise.all(users.map(({ c }) => draw(c, 'order', 6667, tick)));
    await closing;

    const all = drawn.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const ids of drawn) expectIncreasing(ids);
    expect(closing).toBeDefined();
    for (const { attempts } of [users[0]!, users[2]!]) {
      // These preferred a: as it went away an attempt there failed (in flight, or
      // refused), b served the rest, and nothing asked of a after the close succeeded.
      const failedOnA = attempts.find((x) => x.base === a.base && !x.ok && x.end > closedAt);
      expect(failedOnA).toBeDefined();
      const later = attempts.filter((x) => x.start >= failedOnA!.end);
      expect(later.filter((x) => x.base === b.base && x.ok).length).toBeGreaterThan(5);
      expect(attempts.filter((x) => x.base === a.base && x.ok && x.start > closedAt)).toEqual([]);
    }
  });

  it('passes on the service refusals as final errors with their code', async () => {
    const { a, b } = await twoServices();
    await a.store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
    const { c, attempts } = client([a.base, b.base]);
    const failure = async (p: unknown) => {
      try {
        await p;
      } catch (err) {
        return err as IdAllocError;
      }
      throw new Error('expected a refusal');
    };
    const missing = await failure(c.next('nosuch'));
    expect(missing).toBeInstanceOf(IdAllocError);
    expect(missing.code).toBe(ErrorCode.TAG_NOT_FOUND);
    expect(missing.message).toBe("tag 'nosuch' does not exist");
    expect((await failure(c.next('flake'))).code).toBe(ErrorCode.WRONG_MODE);
    expect(attempts.map((x) => x.base)).toEqual([a.base, a.base]); // b was not asked
  });

  it('sends the token when the services require one', async () => {
    const { a, b } = await twoServices({ API_TOKENS: 'tok-one,tok-two' });
    const seen: (string | null)[] = [];
    const withToken = client([a.base, b.base], {
      token: 'tok-two',
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers).get('authorization'));
        return fetch(input, init);
      },
    });
    expect(await withToken.c.nextBatch('order', 3)).toHaveLength(3);
    expect(seen[0]).toBe('Bearer tok-two');

    const refusal = await Promise.resolve(client([a.base, b.base]).c.next('order')).catch(
      (err: unknown) => err,
    );
    expect(refusal).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    const wrong = client([a.base, b.base], { token: 'tok-three' }).c.next('order');
    await expect(Promise.resolve(wrong)).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
  });
});
