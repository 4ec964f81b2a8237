/**
 * Issue 17, item 5, with a real redis-server stopped under a running node: a 503 names
 * what failed in idalloc's words and carries none of the Redis client's (the client's
 * text stays in the log line, as `storeError`); and the outage is a line when it starts
 * and one when it ends, not a warning per reconnect attempt (about two a second before).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { logOutages } from '../../src/service/startup.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { CLIENT_WORDS } from '../support/client-words.js';
import { captureLogs, startService, type LogLine, type TestService } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';
import { pause, waitUntil } from '../support/wait.js';

let server: RedisServer | undefined;
let svc: TestService | undefined;
let store: RedisStore | undefined;
afterEach(async () => {
  await svc?.close();
  await store?.close();
  await server?.dispose();
  svc = server = store = undefined;
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

  it('a longer outage gets a summary per interval (here 1 s), with the errors since and the last one', async () => {
    server = await RedisServer.start();
    store = testStore(server.url);
    const { logs, sink } = captureLogs();
    logOutages(store, pino({ level: 'debug' }, sink), 1000);
    expect(await store.ping()).toBe(true);
    await server.stop();
    const t0 = Date.now();
    // The client keeps trying (backoff up to 2 s): a summary follows within a few seconds.
    await waitUntil(
      () => logs.some((l) => l.msg.startsWith('store connection still down')),
      'a summary line',
      15_000,
    );
    const summary = logs.find((l) => l.msg.startsWith('store connection still down'))!;
    expect(summary).toMatchObject({
      level: WARN,
      errors: expect.any(Number),
      lastError: expect.any(String),
    });
    expect(summary.downMs as number).toBeGreaterThanOrEqual(1000);
    expect(summary.downMs as number).toBeLessThanOrEqual(Date.now() - t0 + 1000);
    // No more lines than one per second of the outage, plus its first.
    const down = Date.now() - t0;
    await server.start();
    await waitUntil(() => logs.some((l) => l.msg.startsWith('store connection back')), 'back');
    const lines = connectionLines(logs, 0);
    expect(lines[0]!.msg).toBe('store connection lost: reconnecting');
    expect(lines.at(-1)!.msg).toMatch(/^store connection back after \d+ s$/);
    expect(lines.length).toBeLessThanOrEqual(2 + Math.ceil(down / 1000) + 2);
  });
});
