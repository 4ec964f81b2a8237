/**
 * Issue 19, "Done when", the second line: two independent Redis servers (no link between
 * them), the same tag created in each as shared by 2 regions, the nodes of one set to region
 * 0/2 and the other's to 1/2, both serving at once from two nodes each; the audit of all
 * four grant logs, run as an operator runs it, finds 0 overlaps. The control — every node
 * set to region 0/2 — is reported overlapping (exit 1), and really did issue IDs twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterLimit, PLAIN } from '../../src/core/shape.js';
import { runAdmin } from '../support/admin-process.js';
import { startService, type TestService } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { RedisServer } from '../support/redis-server.js';
import { segmentTag, testStore } from '../support/store.js';

const PER_NODE = 20_000;
const BATCH = 500;

interface Run {
  readonly ids: string[];
  readonly logFiles: string[];
}

describe('regions on two unlinked Redis servers (issue 19)', () => {
  let servers: RedisServer[] = [];
  let dir = '';

  beforeAll(async () => {
    servers = await Promise.all([RedisServer.start(), RedisServer.start()]);
    dir = mkdtempSync(join(tmpdir(), 'idalloc-regions-'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.dispose()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The tag created in both stores (2 regions), two nodes per store with the regions given. */
  async function serve(name: string, regions: readonly [string, string]): Promise<Run> {
    const prefix = testPrefix();
    const nodes: TestService[] = [];
    try {
      for (const [i, server] of servers.entries()) {
        const store = testStore(server.url, prefix);
        await store.createTag({
          ...segmentTag('order', { step: 1000, max: counterLimit(PLAIN, 2) }),
          regions: 2,
        });
        await store.close();
        for (let n = 0; n < 2; n++) {
          nodes.push(
            await startService(server.url, {
              keyPrefix: prefix,
              env: { REGION: regions[i]!, NODE_ID: `${name}-s${i}-n${n}` },
            }),
          );
        }
      }
      const ids: string[] = [];
      await Promise.all(
        nodes.map(async (n) => {
          for (let got = 0; got < PER_NODE; got += BATCH) {
            const res = await fetch(`${n.base}/v1/ids/order?count=${BATCH}`);
            expect(res.status).toBe(200);
            ids.push(...((await res.json()) as { ids: string[] }).ids);
          }
        }),
      );
      const logFiles = nodes.map((n, i) => {
        const file = join(dir, `${name}-${i}.log`);
        const lines = n.logs.filter((l) => l.msg === 'grant').map((l) => JSON.stringify(l));
        writeFileSync(file, `${lines.join('\n')}\n`);
        return file;
      });
      return { ids, logFiles };
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  }

  it('regions 0/2 and 1/2: all IDs distinct, and the merged audit of the four logs is clean', async () => {
    const { ids, logFiles } = await serve('split', ['0/2', '1/2']);
    expect(ids).toHaveLength(4 * PER_NODE);
    expect(new Set(ids).size).toBe(ids.length);
    // Region i of 2 issues c·2 + i: each store's IDs keep their own parity.
    expect(ids.filter((id) => BigInt(id) % 2n === 0n)).toHaveLength(2 * PER_NODE);
    const audit = await runAdmin(['audit', ...logFiles], {});
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/0 overlaps/);
  }, 180_000);

  it('the control, every node of both stores set to region 0/2: the audit reports the overlap (exit 1)', async () => {
    const { ids, logFiles } = await serve('control', ['0/2', '0/2']);
    // The control is real: the two stores issued the same IDs.
    expect(new Set(ids).size).toBeLessThan(ids.length);
    const audit = await runAdmin(['audit', ...logFiles], {});
    expect(audit.code, audit.stdout + audit.stderr).toBe(1);
    expect(audit.stdout).toMatch(/overlap/i);
  }, 180_000);
});
