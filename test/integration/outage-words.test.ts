/**
 * Issue 17, item 5, with a real redis-server stopped under a running node: a 503 names
 * what failed in idalloc's words and carries none of the Redis client's (the client's
 * text stays in the log line, as `storeError`); and the outage is a line when it starts
 * and one when it ends, not a warning per reconnect attempt (about two a second before).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_WORDS } from '../support/client-words.js';
import { startService, type LogLine, type TestService } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag } from '../support/store.js';
import { pause, waitUntil } from '../support/wait.js';

let server: RedisServer | undefined;
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  await server?.dispose();
  svc = server = undefined;
});

const WARN = 40;
const INFO = 30;

/** The warn and info lines about a connection (store or lease) since `from`. */
function connectionLines(logs: readonly LogLine[], from: number): LogLine[] {
  return logs
    .slice(from)
    .filter((l) => l.level >= INFO && l.level <= WARN && / connection /.test(l.msg));
}

async function errorBody(url: string): Promise<{ status: number; message: string }> {
  const res = await fetch(url);
  const body = (await res.json()) as { error?: { message: string } };
  return { status: res.status, message: body.error?.message ?? '' };
}

function expectOurWords(message: string): void {
  for (const word of CLIENT_WORDS) expect(message).not.toContain(word);
}

describe('a Redis outage under a running node', () => {
  it('503s say what failed in our words; the log says when the outage started and ended', async () => {
    // AOF: the tags survive the restart below.
    server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    svc = await startService(server.url, { segment: { fetchTimeoutMs: 1500 } });
    await svc.store.createTag(segmentTag('order', { step: 10 }));
    await svc.store.createTag(segmentTag('invoice', { step: 10 }));
    const before = svc.logs.length;
    const t0 = Date.now();
    await server.stop();

    // An allocation for a tag with nothing buffered: the allocation connection fails.
    const ids = await errorBody(`${svc.base}/v1/ids/order`);
    expect(ids.status).toBe(503);
    expect(ids.message).toContain("the store did not answer the allocation for 'order' (");
    expectOurWords(ids.message);

    // A tag read: the general connection, after its retries.
    const tag = await errorBody(`${svc.base}/v1/tags/invoice`);
    expect(tag.status).toBe(503);
    expect(tag.message).toMatch(/^the store did not answer the read of 'invoice' \(/);
    expectOurWords(tag.message);

    // The client's own text is in the request's log line, for the operator.
    const failed = svc.logs.filter(
      (l) => (l.error as { storeError?: string } | undefined)?.storeError !== undefined,
    );
    expect(failed.length).toBeGreaterThan(0);

    // Keep Redis down for at least 3 s: the old log had about two warnings a second.
    await pause(Math.max(0, 3000 - (Date.now() - t0)));
    await server.start();
    await waitUntil(
      () => connectionLines(svc!.logs, before).filter((l) => l.level === INFO).length >= 2,
      'both connections (store and snowflake lease) to be logged as back',
      15_000,
    );
    await pause(500); // a late error line would show here

    const lines = connectionLines(svc.logs, before).map((l) => [l.level, l.msg]);
    // Per connection: one warn when it was lost, one info when it came back.
    expect(lines.filter(([, msg]) => String(msg).startsWith('store connection'))).toEqual([
      [WARN, 'store connection lost: reconnecting'],
      [INFO, expect.stringMatching(/^store connection back after \d+ s$/)],
    ]);
    expect(lines.filter(([, msg]) => String(msg).startsWith('snowflake lease connection'))).toEqual(
      [
        [WARN, 'snowflake lease connection lost: reconnecting'],
        [INFO, expect.stringMatching(/^snowflake lease connection back after \d+ s$/)],
      ],
    );
    expect(svc.logs.some((l) => /connection error$/.test(l.msg))).toBe(false);

    // Back: the tag is served again.
    await waitUntil(async () => (await fetch(`${svc!.base}/v1/ids/order`)).status === 200, 'IDs');
  });
});
