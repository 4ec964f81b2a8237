/**
 * IdClient against real local HTTP servers (node:http on port 0) that misbehave the way a
 * proxy or a broken URL does: a maintenance 503 with a huge `Retry-After`, and a 200
 * whose body never ends. The real fetch, the real clock.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IdClient, type IdClientOptions } from '../../src/client/id-client.js';
import { MAX_ANSWER_BYTES } from '../../src/client/transport.js';
import { ErrorCode } from '../../src/core/errors.js';
import { failure } from '../support/draw.js';

const servers: Server[] = [];
const clients: IdClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server on a free port; `handle` gets each request with its number (0, 1, …). */
async function serve(handle: (n: number, res: ServerResponse, req: IncomingMessage) => void) {
  let n = 0;
  const server = createServer((req, res) => handle(n++, res, req));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(urls: string[], over: Partial<IdClientOptions> = {}) {
  const errors: Record<string, unknown>[] = [];
  const log = { warn() {}, info() {}, error: (o: object) => errors.push({ ...o }) };
  const c = new IdClient({ urls, rangeSize: 10, log, ...over });
  clients.push(c);
  return { c, errors };
}

const lease = (res: ServerResponse, n: number) =>
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ tag: 'order', start: String(n * 10 + 1), end: String(n * 10 + 10) }));

describe('IdClient over real HTTP', () => {
  it("asks its only URL again after maxRetryAfterMs, not a proxy's Retry-After of an hour", async () => {
    const asked: number[] = [];
    const base = await serve((n, res) => {
      asked.push(performance.now());
      if (n > 0) return lease(res, n);
      res
        .writeHead(503, { 'content-type': 'text/html', 'retry-after': '3600' })
        .end('<html><body>Down for maintenance</body></html>');
    });
    const { c } = client([base], { maxRetryAfterMs: 1500, waitTimeoutMs: 15_000 });

    expect(await c.next('order')).toBe(11n);
    expect(asked).toHaveLength(2);
    const benched = asked[1]! - asked[0]!;
    expect(benched).toBeGreaterThanOrEqual(1400); // Retry-After honoured up to the cap…
    expect(benched).toBeLessThan(10_000); // …and no longer
  });

  it('refuses a 200 whose body does not end once it passes the cap, naming the URL and the cap', async () => {
    let closedAfterMs: number | undefined;
    const endless = await serve((_n, res) => {
      const since = performance.now();
      res.on('close', () => (closedAfterMs ??= performance.now() - since));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tag":"order","start":"1","end":"10","pad":"');
      const chunk = 'x'.repeat(16 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    });
    // The attempt may take 20 s: only the cap can end it within the 4 s wait.
    const { c, errors } = client([endless], { timeoutMs: 20_000, waitTimeoutMs: 4000 });

    const err = await failure(c.next('order'));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toContain(
      `${endless}: answer body larger than ${MAX_ANSWER_BYTES} bytes (a lease answer is under 200): not read further`,
    );
    expect(errors[0]).toMatchObject({ url: endless, tag: 'order' });
    expect(closedAfterMs).toBeLessThan(4000); // the client hung up; it did not read on
  });

  it('fails over from the endless body to a URL that answers', async () => {
    const endless = await serve((_n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = () => {
        while (!res.destroyed && res.write('x'.repeat(16 * 1024)));
      };
      res.on('drain', pump);
      pump();
    });
    const good = await serve((n, res) => lease(res, n));
    const { c, errors } = client([endless, good], { timeoutMs: 20_000, waitTimeoutMs: 4000 });

    expect(await c.next('order')).toBe(1n);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ url: endless, reason: expect.stringContaining('65536') });
  });

  it('sends an Idempotency-Key per lease, the same again on a retry of a lost answer, a new one for the next lease', async () => {
    const keys: (string | undefined)[] = [];
    const granted = new Map<string, number>();
    let leases = 0;
    const handle = (res: ServerResponse, req: IncomingMessage, drop: boolean) => {
      const key = req.headers['idempotency-key'] as string | undefined;
      keys.push(key);
      // A keyed service: the same key gets the range it got before.
      let n = key === undefined ? undefined : granted.get(key);
      if (n === undefined) {
        n = leases++;
        if (key !== undefined) granted.set(key, n);
      }
      if (drop)
        res.destroy(); // granted, but the answer is lost on the way
      else lease(res, n);
    };
    const a = await serve((n, res, req) => handle(res, req, n === 0));
    const b = await serve((_n, res, req) => handle(res, req, false));
    const { c } = client([a, b], { refillAt: 0 });

    // The first lease's answer from A is lost; B answers the same key with the same range.
    expect(await c.nextBatch('order', 10)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    // The next lease has a key of its own.
    expect(await c.next('order')).toBe(11n);
    expect(keys[2]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[2]).not.toBe(keys[0]);
    expect(leases).toBe(2);
  });
});
