/**
 * What Node's HTTP server handles before express sees it answers in JSON too (README
 * "HTTP API → Errors", "Limits and timeouts"), from a real service process over raw
 * sockets: an unsupported `Expect`, `CONNECT`, HTTP/0.9 and malformed request lines.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_LIMITS } from '../../src/http/server.js';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';

let dataDir: string;
let svc: ServiceProcess;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-edges-'));
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order'));
  await store.close();
  svc = await startServiceProcess({ DATA_DIR: dataDir });
}, 30_000);
afterAll(async () => {
  await svc?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number | undefined;
  readonly headers: string;
  readonly body: string;
  /** The server closed the connection (rather than the test giving up). */
  readonly closed: boolean;
}

/** Sends `raw` on a fresh connection; reads until the server closes it or `budgetMs` passes. */
async function send(raw: string, budgetMs = 5_000): Promise<Answer> {
  const socket = connect(svc.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(raw);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), budgetMs))),
  ]);
  clearTimeout(timer);
  socket.destroy();
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  return {
    status: m ? Number(m[1]) : undefined,
    headers: head,
    body: split < 0 ? '' : text.slice(split + 4),
    closed,
  };
}

const jsonError = (a: Answer) => JSON.parse(a.body) as { error: { code: string; message: string } };

describe('HTTP edges', () => {
  it('answers an unsupported Expect with 417 and the JSON error body', async () => {
    const a = await send(
      'GET /v1/ids/order HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n',
    );
    expect(a.status).toBe(417);
    expect(a.headers).toMatch(/\r\nContent-Type: application\/json/i);
    expect(jsonError(a)).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        message:
          'Expect: 200-ok is not supported: send the request without it (only 100-continue is understood)',
      },
    });
  });

  it('still serves a request with Expect: 100-continue', async () => {
    const a = await send(
      'GET /v1/ids/order HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    expect(a.headers).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(a.body).toMatch(/HTTP\/1\.1 200 OK[\s\S]*"id":"\d+"/);
  });

  it('answers CONNECT at once with 400 JSON and closes', async () => {
    const a = await send('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(a.closed).toBe(true);
    expect(a.status).toBe(400);
    expect(jsonError(a).error).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'CONNECT is not supported: this is an ID service, not a proxy',
    });
  });

  it.each([
    ['an HTTP/0.9 request line with an empty line', 'GET /v1/ids/order\r\n\r\n', '0.9'],
    ['an explicit HTTP/0.9', 'GET /v1/ids/order HTTP/0.9\r\n\r\n', '0.9'],
    ['HTTP/2.0 as text', 'GET /v1/ids/order HTTP/2.0\r\nHost: x\r\n\r\n', '2.0'],
  ])('answers %s with 400 JSON and closes', async (_name, raw, version) => {
    const a = await send(raw);
    expect(a.closed).toBe(true);
    expect(a.status).toBe(400);
    expect(jsonError(a).error).toEqual({
      code: 'INVALID_ARGUMENT',
      message: `HTTP/${version} is not supported: send HTTP/1.1 (or HTTP/1.0)`,
    });
  });

  it('answers a malformed request line with 400 JSON and closes', async () => {
    for (const raw of ['GARBAGE\r\n\r\n', 'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const a = await send(raw);
      expect(a.closed, raw).toBe(true);
      expect(a.status, raw).toBe(400);
      expect(jsonError(a).error.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('ends a bare HTTP/0.9 request line (no empty line) at the header timeout with 408 JSON', async () => {
    // Node's parser waits for headers after it; the header timeout ends the wait.
    const budget = HTTP_LIMITS.headersTimeoutMs + HTTP_LIMITS.checkIntervalMs + 10_000;
    const a = await send('GET /v1/ids/order\r\n', budget);
    expect(a.closed).toBe(true);
    expect(a.status).toBe(408);
    expect(jsonError(a).error).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'the request did not arrive in time',
    });
  }, 30_000);
});
