/**
 * The "done when" for Idempotency-Key over HTTP (docs/api.md, docs/design.md §5
 * "Idempotency keys"): a keyed `?count=5` repeated against two nodes of one Redis
 * deployment answers the same five IDs byte for byte, the second marked a replay; the
 * same key with count=6 is refused 422; a key of another caller (bearer token) is another
 * key; a range and a single ID replay the same way; the key never reaches a log; the
 * replay writes no grant line. On the embedded store, the same node twice with a restart
 * in between.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { nodeOptions } from '../../src/config/options.js';
import { loadConfig } from '../../src/config/schema.js';
import { loggerOptions } from '../../src/observe/logger.js';
import { startNode, stopNode, type RunningNode } from '../../src/service/node.js';
import {
  captureLogs,
  find,
  parseExposition,
  startService,
  type LogLine,
  type TestService,
} from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag } from '../support/store.js';

const KEY = 'order-4711-attempt-key';
const TOKENS = { one: 'token-one', two: 'token-two' };

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly replayed: string | null;
}

async function get(base: string, path: string, key?: string, token = TOKENS.one): Promise<Answer> {
  const res = await fetch(base + path, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
  });
  return {
    status: res.status,
    body: await res.text(),
    replayed: res.headers.get('idempotent-replayed'),
  };
}

/** The grant lines a node logged, as the grant log writes them. */
const grantLines = (logs: readonly LogLine[]) =>
  logs.filter((l) => l.msg === 'grant').map((l) => l.grant as Record<string, unknown>);

describe('Idempotency-Key on two nodes of one Redis deployment', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    const keyPrefix = testPrefix();
    const env = { API_TOKENS: `${TOKENS.one},${TOKENS.two}`, SNOWFLAKE_WORKER_ID: '1' };
    a = await startService(inject('redisUrl'), { keyPrefix, env: { ...env, NODE_ID: 'node-a' } });
    b = await startService(inject('redisUrl'), {
      keyPrefix,
      env: { ...env, SNOWFLAKE_WORKER_ID: '2', NODE_ID: 'node-b' },
    });
    await a.store.createTag(segmentTag('order', { step: 100 }));
    await a.store.createTag({ ...segmentTag('clock'), mode: 'snowflake' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('answers a keyed ?count=5 repeated on the other node with the same five IDs; count=6 is refused 422', async () => {
    // Node A holds a buffered segment: a keyed request takes its IDs from the store instead.
    const plain = await get(a.base, '/v1/ids/order');
    expect(plain.status).toBe(200);

    const first = await get(a.base, '/v1/ids/order?count=5', KEY);
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    const ids = (JSON.parse(first.body) as { ids: string[] }).ids;
    expect(ids).toHaveLength(5);
    expect(ids).not.toContain((JSON.parse(plain.body) as { id: string }).id);

    const retry = await get(b.base, '/v1/ids/order?count=5', KEY);
    expect(retry).toEqual({ status: 200, body: first.body, replayed: 'true' });
    const again = await get(a.base, '/v1/ids/order?count=5', KEY);
    expect(again.body).toBe(first.body);

    const other = await get(b.base, '/v1/ids/order?count=6', KEY);
    expect(other.status).toBe(422);
    expect(JSON.parse(other.body)).toMatchObject({
      error: {
        code: 'IDEMPOTENCY_MISMATCH',
        message: expect.stringContaining('other parameters than ids:6'),
      },
    });
    // Nor does the key fit a single ID or a range.
    expect((await get(a.base, '/v1/ids/order', KEY)).status).toBe(422);
    expect((await get(a.base, '/v1/ranges/order?size=5', KEY)).status).toBe(422);
  });

  it("treats another caller's same key as another key", async () => {
    const mine = await get(a.base, '/v1/ids/order?count=2', 'shared-key');
    const theirs = await get(b.base, '/v1/ids/order?count=2', 'shared-key', TOKENS.two);
    expect(theirs.status).toBe(200);
    expect(theirs.replayed).toBeNull();
    expect(theirs.body).not.toBe(mine.body);
  });

  it('replays a single ID and a range, text answers too', async () => {
    const one = await get(a.base, '/v1/ids/order', 'single');
    expect((await get(b.base, '/v1/ids/order', 'single')).body).toBe(one.body);
    const range = await get(a.base, '/v1/ranges/order?size=50', 'lease-1');
    expect(range.status).toBe(200);
    // The lease key (for a return of the tail) is the granting node's to honour: its own
    // replay carries it, byte for byte; another node's carries the same range without it.
    const { lease, ...rest } = JSON.parse(range.body) as { lease?: string };
    expect(lease).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await get(a.base, '/v1/ranges/order?size=50', 'lease-1')).toEqual({
      ...range,
      replayed: 'true',
    });
    expect(await get(b.base, '/v1/ranges/order?size=50', 'lease-1')).toEqual({
      ...range,
      body: JSON.stringify(rest),
      replayed: 'true',
    });
    const text = await fetch(`${a.base}/v1/ids/order?count=3`, {
      headers: {
        authorization: `Bearer ${TOKENS.one}`,
        'idempotency-key': 't',
        accept: 'text/plain',
      },
    });
    const textAgain = await fetch(`${b.base}/v1/ids/order?count=3`, {
      headers: {
        authorization: `Bearer ${TOKENS.one}`,
        'idempotency-key': '"t"',
        accept: 'text/plain',
      },
    });
    // `t` and the structured-field string `"t"` are one key.
    expect(await textAgain.text()).toBe(await text.text());
  });

  it('refuses a malformed key with 400 naming the rule, and a snowflake tag with 409', async () => {
    for (const bad of ['x'.repeat(256), '"unterminated', '""']) {
      const r = await get(a.base, '/v1/ids/order', bad);
      expect(r.status, bad.slice(0, 20)).toBe(400);
      expect(r.body).toContain('1 to 255 printable ASCII characters');
      // The message names the rule, never the key (it may be a caller's secret).
      expect(r.body).not.toContain(bad === '""' ? 'xxxx' : bad.slice(1, 13));
    }
    const sf = await get(a.base, '/v1/ids/clock', 'sf-key');
    expect(sf.status).toBe(409);
    expect(sf.body).toContain('Idempotency-Key applies to segment tags only');
  });

  it('writes a grant line for the grant only, counts replays, and never logs a key', async () => {
    const lines = [...grantLines(a.logs), ...grantLines(b.logs)];
    const keyed = lines.filter((l) => l.kind === 'batch');
    // order: count=5, shared-key twice (two callers), single, count=3: all granted on
    // the node first asked; replays wrote nothing.
    expect(keyed.map((l) => l.node).sort()).toEqual(
      ['node-a', 'node-a', 'node-a', 'node-a', 'node-b'].sort(),
    );
    expect(lines.filter((l) => l.kind === 'range')).toHaveLength(1);
    const metrics = parseExposition(
      await (
        await fetch(`${b.base}/metrics`, { headers: { authorization: `Bearer ${TOKENS.one}` } })
      ).text(),
    );
    expect(find(metrics, 'idalloc_idempotent_replays_total', { tag: 'order' })[0]?.value).toBe(4);
    const all = JSON.stringify([...a.logs, ...b.logs]);
    for (const k of [KEY, 'shared-key', 'lease-1']) expect(all).not.toContain(k);
  });
});

describe('Idempotency-Key on the embedded store, across a restart', () => {
  let dataDir: string;
  let node: RunningNode | undefined;

  const start = async () => {
    const config = loadConfig({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0' });
    const { sink } = captureLogs();
    node = await startNode(nodeOptions(config), { logger: pino(loggerOptions('info'), sink) });
    return `http://127.0.0.1:${node.port}`;
  };
  const stop = async () => {
    node?.server.closeAllConnections();
    if (node) await stopNode(node, { idleGraceMs: 0 });
    node = undefined;
  };

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'idalloc-idem-http-'));
  });
  afterAll(async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers the same key with the same five IDs after a restart; count=6 is refused', async () => {
    let base = await start();
    await node!.store.createTag(segmentTag('order', { step: 100 }));
    const first = await get(base, '/v1/ids/order?count=5', KEY);
    expect(first.status).toBe(200);
    expect((await get(base, '/v1/ids/order?count=5', KEY)).body).toBe(first.body);
    await stop();

    base = await start();
    const retry = await get(base, '/v1/ids/order?count=5', KEY);
    expect(retry).toEqual({ status: 200, body: first.body, replayed: 'true' });
    expect((await get(base, '/v1/ids/order?count=6', KEY)).status).toBe(422);
    // A fresh key after the restart gets IDs above the first five.
    const fresh = JSON.parse((await get(base, '/v1/ids/order?count=5', 'next')).body) as {
      ids: string[];
    };
    const firstIds = (JSON.parse(first.body) as { ids: string[] }).ids;
    expect(BigInt(fresh.ids[0]!)).toBeGreaterThan(BigInt(firstIds[4]!));
  });
});
