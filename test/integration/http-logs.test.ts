/**
 * Logs that are safe to keep (README "HTTP API → Logs and shutdown"), from a real
 * service process on the embedded store: no credential ever reaches stdout, an expected
 * 503 is one line without a stack, and refused requests (400, 401, 404, 409, 503) are
 * logged at debug (one loud line a minute per kind at most) and counted in
 * `idalloc_http_refused_total`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { find, parseExposition } from '../support/http.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';

let dataDir: string;
const services: ServiceProcess[] = [];

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'idalloc-logs-'));
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order', { step: 10 }));
  await store.close();
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.dispose()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function service(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const svc = await startServiceProcess({ DATA_DIR: dataDir, ...env });
  services.push(svc);
  return svc;
}

/** Lets the process write out what it logged for the requests sent so far. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/** Log lines about requests whose id is `id`. */
const linesOf = (svc: ServiceProcess, id: string) =>
  svc.logs.filter((l) => (l.req as { id?: string } | undefined)?.id === id);

describe('credentials in the request log', () => {
  const secrets: Record<string, string> = {
    authorization: 'Bearer s3cret-authorization-value',
    'proxy-authorization': 'Basic c2VjcmV0LXByb3h5LXZhbHVl',
    cookie: 'session=s3cret-cookie-value',
    'set-cookie': 'id=s3cret-set-cookie-value',
    'x-api-key': 's3cret-api-key-value',
    'x-auth-token': 's3cret-auth-token-value',
    'x-client-secret': 's3cret-client-secret-value',
    'x-admin-password': 's3cret-password-value',
    'api-key': 's3cret-other-key-value',
  };

  it('never writes a secret header value; the header names stay, as [Redacted]', async () => {
    const svc = await service({ LOG_LEVEL: 'debug' });
    // A logged success, a refusal (debug) and an unknown route, each with every header.
    const paths = ['/v1/tags/order', '/v1/tags/nosuch', '/no/such/route'];
    for (const [i, path] of paths.entries()) {
      const res = await fetch(svc.base + path, {
        headers: { ...secrets, 'x-request-id': `r${i}` },
      });
      await res.text();
    }
    const query = await fetch(`${svc.base}/v1/tags/order?access_token=s3cret-query-value`, {
      headers: { 'x-request-id': 'rq' },
    });
    expect(query.status).toBe(400);
    await settle();
    const text = svc.logs.map((l) => JSON.stringify(l)).join('\n');
    for (const value of [...Object.values(secrets), 's3cret-query-value']) {
      expect(text).not.toContain(value);
    }
    expect(text).not.toContain('s3cret');
    for (const [i] of paths.entries()) {
      const [line] = linesOf(svc, `r${i}`);
      expect(line, `log line of ${paths[i]}`).toBeDefined();
      const headers = (line!.req as { headers: Record<string, string> }).headers;
      for (const name of Object.keys(secrets)) expect(headers[name]).toBe('[Redacted]');
      expect(headers['x-request-id']).toBe(`r${i}`);
    }
    const [q] = linesOf(svc, 'rq');
    expect((q!.req as { url: string }).url).toBe('/v1/tags/order?access_token=[Redacted]');
  }, 60_000);
});

describe('redaction by allow-list', () => {
  // Names a deny-list of secret-looking words let through in clear.
  const headers: Record<string, string> = {
    signature: 's3cret-signature',
    'x-jwt': 's3cret-jwt-header',
    'x-pwd': 's3cret-pwd',
    'x-bearer': 's3cret-bearer',
    referer: 'https://app.example/back?token=s3cret-referer-token&page=2',
    'user-agent': 'log-test/1.0',
  };
  const query =
    'count=2&sig=s3cret-sig&code=s3cret-code&jwt=s3cret-jwt&X-Amz-Signature=s3cret-amz-sig' +
    '&session=s3cret-session&X-Amz-Credential=s3cret-amz-cred&%74oken=s3cret-encoded';
  const censored =
    'count=2&sig=[Redacted]&code=[Redacted]&jwt=[Redacted]&X-Amz-Signature=[Redacted]' +
    '&session=[Redacted]&X-Amz-Credential=[Redacted]&%74oken=[Redacted]';

  /** A GET with exactly these headers (fetch would drop or rewrite `Referer`). */
  const send = (svc: ServiceProcess, path: string, id: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: svc.port, path, headers: { ...headers, 'x-request-id': id } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('logs only known-safe header and query values, in url and query by one rule', async () => {
    const svc = await service({ LOG_LEVEL: 'debug' });
    // Through the request log (express) and through the ID routes' own error line.
    await send(svc, `/v1/tags/order?${query}`, 'tags');
    await send(svc, `/v1/ids/order?${query}`, 'ids');
    await send(svc, `/v1/tags/order`, 'plain');
    await settle();
    const text = svc.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(text).not.toContain('s3cret');
    const urlOf = (id: string) => (linesOf(svc, id)[0]?.req as { url: string }).url;
    expect(urlOf('tags')).toBe(`/v1/tags/order?${censored}`);
    // The ID routes' error line bounds the URL it shows (80 characters and an ellipsis).
    expect(urlOf('ids')).toMatch(/…$/);
    expect(`/v1/ids/order?${censored}`.startsWith(urlOf('ids').slice(0, -1))).toBe(true);
    const tags = linesOf(svc, 'tags')[0]!.req as {
      query: Record<string, string>;
      headers: Record<string, string>;
    };
    expect(tags.query).toMatchObject({
      count: '2',
      sig: '[Redacted]',
      code: '[Redacted]',
      jwt: '[Redacted]',
      'X-Amz-Signature': '[Redacted]',
      session: '[Redacted]',
      'X-Amz-Credential': '[Redacted]',
      token: '[Redacted]',
    });
    for (const name of ['signature', 'x-jwt', 'x-pwd', 'x-bearer']) {
      expect(tags.headers[name]).toBe('[Redacted]');
    }
    expect(tags.headers.referer).toBe('https://app.example/back?token=[Redacted]&page=[Redacted]');
    expect(tags.headers['user-agent']).toBe('log-test/1.0');
    expect(tags.headers['x-request-id']).toBe('tags');
  }, 60_000);
});

describe('an expected 503', () => {
  it('is one line without a stack on /v1/ranges, /v1/ids and /readyz', async () => {
    const svc = await service({ FETCH_TIMEOUT_MS: '200', LOG_LEVEL: 'debug' });
    rmSync(join(dataDir, 'idalloc.db'));
    const asked = [
      ['/v1/ranges/order?size=5', 'range'],
      ['/v1/ids/order', 'ids'],
      ['/readyz', 'ready'],
    ] as const;
    for (const [path, id] of asked) {
      const res = await fetch(svc.base + path, { headers: { 'x-request-id': id } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      await res.text();
    }
    await settle();
    for (const [path, id] of asked) {
      const lines = linesOf(svc, id);
      expect(lines, `log lines of ${path}`).toHaveLength(1);
      expect(lines[0]).toMatchObject({ res: { statusCode: 503 } });
      expect(lines[0]!.err).toBeUndefined();
      expect(JSON.stringify(lines[0])).not.toMatch(/"stack"|\\n\s+at /);
    }
    // The first 503 of the minute at error, the next at debug (refusals.ts); a probe's
    // refusal is a kind of its own: the first not-ready /readyz of the minute at warn.
    expect(asked.map(([, id]) => linesOf(svc, id)[0]!.level)).toEqual([50, 20, 40]);
    expect(linesOf(svc, 'range')[0]).toMatchObject({ error: { code: 'UNAVAILABLE' } });
  }, 60_000);
});

describe('409 and 503 answers', () => {
  /** Bytes of the log lines about requests, written while `send` runs. */
  async function logBytes(svc: ServiceProcess, send: () => Promise<void>) {
    const from = svc.logs.length;
    await send();
    await settle();
    const lines = svc.logs.slice(from).filter((l) => l.req !== undefined);
    return { lines, bytes: lines.reduce((n, l) => n + JSON.stringify(l).length + 1, 0) };
  }
  const times = async (n: number, path: string, expected: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(path);
      expect(res.status).toBe(expected);
      await res.text();
    }
  };

  it('log one line a minute per kind, each counted in idalloc_http_refused_total', async () => {
    const store = new EmbeddedStore({ dataDir });
    await store.createTag({ ...segmentTag('flake'), mode: 'snowflake' });
    await store.createTag(segmentTag('tiny', { step: 2, max: 2n }));
    await store.close();
    const svc = await service({ FETCH_TIMEOUT_MS: '200' });
    await (await fetch(`${svc.base}/v1/ids/tiny?count=2`)).text(); // its two IDs

    const n = 100;
    // WRONG_MODE through express, TAG_EXHAUSTED through the lean ID path.
    const conflicts = await logBytes(svc, async () => {
      await times(n, `${svc.base}/v1/ranges/flake?size=1`, 409);
      await times(n, `${svc.base}/v1/ids/tiny`, 409);
    });
    expect(conflicts.lines).toHaveLength(1);
    expect(conflicts.lines[0]).toMatchObject({ level: 40, refusalsLeftOut: 0 });
    // Before: 200 such requests wrote 106 kB (532 B each); now one line.
    expect(conflicts.bytes).toBeLessThan(1500);

    rmSync(join(dataDir, 'idalloc.db'));
    const outage = await logBytes(svc, async () => {
      await times(n, `${svc.base}/v1/ranges/order?size=5`, 503);
      await times(n, `${svc.base}/readyz`, 503);
    });
    // Before: 200 wrote 172 kB (862 B each); now one line for the ID route's 503s and
    // one for the probe's, each kind on its own (a polling balancer hides no outage).
    expect(outage.lines).toHaveLength(2);
    expect(outage.lines[0]).toMatchObject({ level: 50, refusalsLeftOut: 0 });
    expect(outage.lines[1]).toMatchObject({ level: 40, refusalsLeftOut: 0 });
    expect(outage.bytes).toBeLessThan(3000);

    const metrics = parseExposition(await (await fetch(`${svc.base}/metrics`)).text());
    const count = (code: string) => find(metrics, 'idalloc_http_refused_total', { code })[0]?.value;
    expect(count('WRONG_MODE')).toBe(n);
    expect(count('TAG_EXHAUSTED')).toBe(n);
    expect(count('UNAVAILABLE')).toBe(2 * n);
  }, 120_000);
});

describe('refused requests', () => {
  it('are logged at debug, one warn line a minute at most, and counted by code', async () => {
    const svc = await service();
    const refused = [
      ['/v1/ids/nosuch', 'TAG_NOT_FOUND'],
      ['/v1/tags/nosuch', 'TAG_NOT_FOUND'],
      ['/v1/ids/order?count=0', 'INVALID_ARGUMENT'],
      ['/no/such/route', 'NOT_FOUND'],
    ] as const;
    for (let round = 0; round < 50; round++) {
      for (const [path] of refused) await (await fetch(svc.base + path)).text();
    }
    await settle();
    const warned = svc.logs.filter((l) => l.msg === 'request refused');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, refusalsLeftOut: 0 });
    const metrics = parseExposition(await (await fetch(`${svc.base}/metrics`)).text());
    const count = (code: string) => find(metrics, 'idalloc_http_refused_total', { code })[0]?.value;
    expect(count('TAG_NOT_FOUND')).toBe(100);
    expect(count('INVALID_ARGUMENT')).toBe(50);
    expect(count('NOT_FOUND')).toBe(50);
    expect(count('UNAUTHORIZED')).toBe(0);
  }, 60_000);

  it('each have their debug line at LOG_LEVEL=debug', async () => {
    const svc = await service({ LOG_LEVEL: 'debug' });
    for (let i = 0; i < 10; i++) {
      await (
        await fetch(`${svc.base}/v1/ids/nosuch`, { headers: { 'x-request-id': `n${i}` } })
      ).text();
      await (await fetch(`${svc.base}/nowhere`, { headers: { 'x-request-id': `u${i}` } })).text();
    }
    await settle();
    for (let i = 1; i < 10; i++) {
      expect(linesOf(svc, `n${i}`)).toMatchObject([{ level: 20, res: { statusCode: 404 } }]);
      expect(linesOf(svc, `u${i}`)).toMatchObject([{ level: 20, res: { statusCode: 404 } }]);
    }
  }, 60_000);
});
