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

  it("an export of region 0's store imported into another store keeps the region count; that store's region 1 stays disjoint", async () => {
    const prefix = testPrefix();
    const [a, b] = servers as [RedisServer, RedisServer];
    const store = testStore(a.url, prefix);
    await store.createTag({
      ...segmentTag('order', { step: 1000, max: counterLimit(PLAIN, 2) }),
      regions: 2,
    });
    await store.close();
    const draw = async (url: string, region: string, node: string) => {
      const svc = await startService(url, {
        keyPrefix: prefix,
        env: { REGION: region, NODE_ID: node },
      });
      try {
        const res = await fetch(`${svc.base}/v1/ids/order?count=${BATCH}`);
        return {
          status: res.status,
          body: (await res.json()) as { ids?: string[] },
          logs: svc.logs,
        };
      } finally {
        await svc.close();
      }
    };
    const first = await draw(a.url, '0/2', 'import-a');
    expect(first.status).toBe(200);

    const file = join(dir, 'region0-export.json');
    const exp = await runAdmin(['tag', 'export', '--out', file], {
      REDIS_URL: a.url,
      KEY_PREFIX: prefix,
    });
    expect(exp.code, exp.stderr).toBe(0);
    const imp = await runAdmin(['tag', 'import', file], { REDIS_URL: b.url, KEY_PREFIX: prefix });
    expect(imp.code, imp.stderr).toBe(0);

    // The region count came along: a node of one region is refused, naming both counts.
    const single = await draw(b.url, '0/1', 'import-b0');
    expect(single.status).toBe(409);
    const second = await draw(b.url, '1/2', 'import-b1');
    expect(second.status).toBe(200);
    const ids0 = first.body.ids!;
    const ids1 = second.body.ids!;
    expect(ids1.every((id) => BigInt(id) % 2n === 1n)).toBe(true);
    expect(ids0.filter((id) => ids1.includes(id))).toEqual([]);
    // The imported counter starts above region 0's: the same counter values are not reused
    // even though they could not collide across regions.
    expect(BigInt(ids1[0]!) / 2n).toBeGreaterThan(BigInt(ids0.at(-1)!) / 2n);
  }, 120_000);
});
