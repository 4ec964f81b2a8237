/**
 * Grant lines in the log on stdout (no GRANT_LOG) fail closed, as a GRANT_LOG file does:
 * once the reader of stdout died (a log shipper, a pipe to `head`), a real service
 * process serves no ID of a grant it could not log — a 503 naming the grant log, /readyz
 * not ready with the reason, one line on stderr — while the IDs of grants logged before
 * are still served. Also under WORKERS=2, where each worker writes to the same pipe.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { segmentTag } from '../support/store.js';
import { pause, waitUntil } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const REFUSAL =
  /^the grant log cannot be written \(the log on stdout cannot be written \(EPIPE\); set GRANT_LOG=<file>/;

/** The ranges of tag `order` in the grant lines the node wrote to stdout. */
function loggedRanges(node: ServiceProcess): [bigint, bigint][] {
  return node.logs.flatMap((l) => {
    const g = l.grant as { tag?: string; start?: string; end?: string; kind?: string } | undefined;
    return l.msg === 'grant' && g?.tag === 'order' && g.start && g.end && g.kind !== 'remainder'
      ? [[BigInt(g.start), BigInt(g.end)] as [bigint, bigint]]
      : [];
  });
}

describe.each<[string, Record<string, string>]>([
  ['a node', {}],
  ['a node with WORKERS=2', { WORKERS: '2' }],
])('%s whose stdout reader died, without GRANT_LOG', (_, env) => {
  it('serves no ID whose grant it could not log: 503 naming the log, not ready, one stderr line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'idalloc-grant-stdout-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = new EmbeddedStore({ dataDir });
    await store.createTag(segmentTag('order', { step: 10 }));
    await store.close();
    const node = await startServiceProcess(
      { DATA_DIR: dataDir, FETCH_TIMEOUT_MS: '1000', ...env },
      60_000,
    );
    cleanups.push(() => node.dispose());
    const served: bigint[] = [];
    const draw = async (count: number): Promise<Response> => {
      const res = await fetch(`${node.base}/v1/ids/order?count=${count}`, {
        headers: { connection: 'close' },
      });
      if (res.status === 200) {
        const body = (await res.clone().json()) as { ids: string[] };
        served.push(...body.ids.map(BigInt));
      }
      return res;
    };
    // Under WORKERS, fresh connections reach each worker in turn: both hold segments.
    for (let i = 0; i < 4; i++) expect((await draw(1)).status).toBe(200);
    await pause(500); // the prefetched segments' lines reach the pipe
    node.proc.stdout?.destroy();
    await pause(200);

    // Buffered IDs may still be served; the first grant after is refused.
    let refusal: Response | undefined;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      const res = await draw(1);
      if (res.status !== 200) refusal = res;
    }
    expect(refusal?.status).toBe(503);
    expect(((await refusal!.json()) as { error: { message: string } }).error.message).toMatch(
      REFUSAL,
    );
    // A batch of its own is refused too (under WORKERS, one per worker: each learns of
    // the broken pipe at its own first write).
    for (let w = 0; w < Number(env.WORKERS ?? 1); w++) {
      const batch = await draw(1000);
      expect(batch.status).toBe(503);
      expect(((await batch.json()) as { error: { message: string } }).error.message).toMatch(
        REFUSAL,
      );
    }
    // Every ID served lies in a grant whose line was written before the reader died.
    const ranges = loggedRanges(node);
    const unlogged = served.filter((id) => !ranges.some(([s, e]) => id >= s && id <= e));
    expect(unlogged).toEqual([]);
    expect(served.length).toBeGreaterThanOrEqual(4);

    const workers = Number(env.WORKERS ?? 1);
    for (let w = 0; w < workers; w++) {
      const ready = await fetch(`${node.base}/readyz`, { headers: { connection: 'close' } });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { message: string } }).error.message).toMatch(
        /^not ready: .*the log on stdout cannot be written \(EPIPE\)/,
      );
    }
    // One line per process on stderr says grants stopped (the destination's own as well).
    await waitUntil(
      () =>
        node
          .stderr()
          .split('\n')
          .filter((l) => l.includes('no new IDs are served')).length >= 1,
      'the stderr line',
    );
    const said = node
      .stderr()
      .split('\n')
      .filter((l) =>
        l.startsWith('idalloc: the log on stdout cannot be written (EPIPE): no new IDs are served'),
      );
    expect(said.length).toBeGreaterThanOrEqual(1);
    expect(said.length).toBeLessThanOrEqual(workers);
    expect(node.proc.exitCode).toBeNull();
  }, 90_000);
});
