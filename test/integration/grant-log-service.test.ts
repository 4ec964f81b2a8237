/**
 * The grant log of a real service process (`src/service/main.ts`, NODE_ID set): a grant line
 * for every segment, for every range leased through /v1/ranges (with the client that
 * asked, logged before the request's own line) and for its snowflake worker claim; a
 * Redis restarted from its AOF (a new incarnation) shows as an incarnation jump in the
 * grant log and in `idalloc_ids_skipped_total` on /metrics; a shutdown logs what its
 * buffers still held, and hands it back to the counter (it held the last grant). The audit of its log finds no overlap.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrantLine } from '../../src/core/grant-log.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { find, parseExposition } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { waitUntil } from '../support/wait.js';

const GAP = 5000n;
let server: RedisServer;
let store: RedisStore;
let svc: ServiceProcess;

beforeAll(async () => {
  server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  store = storeOn(standalone(server.port));
  await store.createTag(segmentTag('order', { step: 100, gap: GAP }));
  svc = await startServiceProcess({
    REDIS_URL: server.url,
    KEY_PREFIX: store.keys.prefix,
    NODE_ID: 'svc-1',
    FETCH_TIMEOUT_MS: '3000',
  });
});
afterAll(async () => {
  await svc?.dispose();
  await store?.close();
  await server?.dispose();
});

/** The grant lines the service logged so far, with their position in its log. */
function grants(): { index: number; grant: GrantLine }[] {
  return svc.logs.flatMap((l, index) =>
    l.msg === 'grant' ? [{ index, grant: l.grant as GrantLine }] : [],
  );
}

async function runId(): Promise<string> {
  const c = new Redis(server.port, '127.0.0.1');
  try {
    return /run_id:([0-9a-f]+)/.exec(await c.info('server'))![1]!;
  } finally {
    c.disconnect();
  }
}

const covers = (g: GrantLine, id: bigint) =>
  g.kind === 'segment' && BigInt(g.start!) <= id && id <= BigInt(g.end!);

describe('the grant log of a service process', () => {
  it('logs the segment an ID came from, with node, incarnation, time and max', async () => {
    const res = await fetch(`${svc.base}/v1/ids/order`);
    expect(res.status).toBe(200);
    const id = BigInt(((await res.json()) as { id: string }).id);
    await waitUntil(() => grants().some((g) => covers(g.grant, id)), 'the grant line');
    const { grant } = grants().find((g) => covers(g.grant, id))!;
    expect(grant).toEqual({
      kind: 'segment',
      node: 'svc-1',
      // The deployment: the id stored in this Redis under the key prefix.
      deployment: await store.deploymentId(),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      incarnation: await runId(),
      tag: 'order',
      start: '1',
      end: '100',
      max: '9223372036854775807',
    });
    // Its snowflake worker claim is in the same log.
    expect(grants().map((g) => g.grant)).toContainEqual(
      expect.objectContaining({
        kind: 'worker',
        how: 'claim',
        node: 'svc-1',
        incarnation: await runId(),
      }),
    );
  });

  it('logs a range leased through /v1/ranges with its client, before the request line', async () => {
    const res = await fetch(`${svc.base}/v1/ranges/order?size=50`, {
      headers: { 'x-client-id': 'billing-7' },
    });
    expect(res.status).toBe(200);
    // The answer also carries the tag's shape descriptor (issue 19) and a lease key for a
    // return of its tail (issue 20): not grant fields; the line has the range.
    const { start, end } = (await res.json()) as { start: string; end: string };
    const isRequest = (l: Record<string, unknown>) =>
      (l.req as { url?: string } | undefined)?.url === '/v1/ranges/order?size=50';
    await waitUntil(() => svc.logs.some(isRequest), 'the request line');
    const leased = grants().find((g) => g.grant.kind === 'range');
    expect(leased?.grant).toMatchObject({ client: 'billing-7', start, end, node: 'svc-1' });
    expect(leased!.index).toBeLessThan(svc.logs.findIndex(isRequest));
  });

  it('counts an incarnation jump after Redis restarts from its AOF, on /metrics too', async () => {
    const before = await runId();
    await server.kill('SIGKILL');
    await server.start(); // same port and data: a new run_id
    expect(await runId()).not.toBe(before);
    // Draw until the node holds a grant of the new incarnation.
    await waitUntil(
      async () => {
        await fetch(`${svc.base}/v1/ids/order?count=100`).then((r) => r.body?.cancel());
        return grants().some((g) => g.grant.skipped !== undefined);
      },
      'a grant of the restarted server',
      20_000,
    );
    const jumped = grants().find((g) => g.grant.skipped !== undefined)!.grant;
    expect(jumped).toMatchObject({ skipped: String(GAP), incarnation: await runId() });

    const e = parseExposition(await (await fetch(`${svc.base}/metrics`)).text());
    expect(
      find(e, 'idalloc_ids_skipped_total', { tag: 'order', reason: 'incarnation_jump' })[0]?.value,
    ).toBe(Number(GAP));
    const highest = grants().reduce(
      (m, g) => (g.grant.end && BigInt(g.grant.end) > m ? BigInt(g.grant.end) : m),
      0n,
    );
    expect(find(e, 'idalloc_tag_ids_left', { tag: 'order' })[0]?.value).toBe(
      Number(2n ** 63n - 1n - highest),
    );
  });

  it('logs the unserved remainder of its buffers at shutdown and hands it back; the audit finds no overlap', async () => {
    svc.proc.kill('SIGTERM');
    expect((await svc.exited).code).toBe(0);
    const remainders = grants().filter((g) => g.grant.kind === 'remainder');
    expect(remainders.length).toBeGreaterThan(0);
    // The node held the tag's last grant: its unserved tail went back to the counter.
    const handback = grants().find((g) => g.grant.kind === 'handback')!.grant;
    expect(handback).toMatchObject({ tag: 'order', incarnation: await runId() });
    expect(handback.end).toBe(remainders.at(-1)!.grant.end);

    const trail = new GrantLogs();
    trail.addParsed(svc.logs);
    const report = trail.expectNoOverlaps(3);
    const order = report.tags.find((t) => t.tag === 'order')!;
    expect(order.gapCauses.incarnation_jump).not.toBe('0');
    expect(order.gapCauses.unexplained).toBe('0');
    expect(BigInt(order.handedBack)).toBeGreaterThan(0n);
    expect(order.handbacksIgnored).toBe(0);
    expect(order.incarnations).toHaveLength(2);
  });
});
