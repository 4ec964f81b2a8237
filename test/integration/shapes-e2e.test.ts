/**
 * Issue 19, "Done when", the first line: for each shape, a tag created with it, 10^5 IDs
 * drawn over HTTP from two nodes, all distinct, each decoded back to a counter value that
 * the grant log shows granted; changing the shape after the first ID is refused.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { counterLimit, newPermuteKey, Shaper, type TagShape } from '../../src/core/shape.js';
import type { SegmentTagConfig } from '../../src/core/store-ports.js';
import { runAdmin } from '../support/admin-process.js';
import { startService, type LogLine, type TestService } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';

const url = inject('redisUrl');
const TOTAL = 100_000;
const BATCH = 1000;
const SINGLES = 1000; // per node, one request each
/** A token trusted with permute keys: the decode route of a permute tag needs one. */
const KEY_TOKEN = 'key-holder-0123456789abcdef';

const SHAPES: readonly { readonly label: string; readonly shape: TagShape }[] = [
  { label: 'plain', shape: { kind: 'plain' } },
  { label: 'bitreverse', shape: { kind: 'bitreverse' } },
  { label: 'permute (width 63)', shape: { kind: 'permute', width: 63, key: newPermuteKey() } },
  { label: 'plain, string form', shape: { kind: 'plain', prefix: 'ord' } },
  {
    label: 'permute (width 40), string form',
    shape: { kind: 'permute', width: 40, key: newPermuteKey(), prefix: 'usr' },
  },
];

/** The counter ranges a node's grant lines show granted for `tag` (segments and batches). */
function granted(logs: readonly LogLine[], tag: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const l of logs) {
    const g = l.grant as { kind?: string; tag?: string; start?: string; end?: string } | undefined;
    if (l.msg !== 'grant' || g?.tag !== tag || (g.kind !== 'segment' && g.kind !== 'batch')) {
      continue;
    }
    out.push([BigInt(g.start!), BigInt(g.end!)]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function inRanges(ranges: readonly [bigint, bigint][], c: bigint): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [s, e] = ranges[mid]!;
    if (c < s) hi = mid - 1;
    else if (c > e) lo = mid + 1;
    else return true;
  }
  return false;
}

async function getJson<T>(u: string): Promise<T> {
  const res = await fetch(u);
  expect(res.status, `${u}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
}

describe('shaped tags, end to end over HTTP (issue 19)', () => {
  const prefix = testPrefix();
  const env = { REDIS_URL: url, KEY_PREFIX: prefix };
  const store = testStore(url, prefix);
  let nodes: TestService[] = [];

  beforeAll(async () => {
    for (const [i, { shape }] of SHAPES.entries()) {
      await store.createTag({
        ...segmentTag(`shaped${i}`, { step: 3000, max: counterLimit(shape, 1) }),
        shape,
        regions: 1,
      });
    }
    nodes = await Promise.all(
      [0, 1].map(() => startService(url, { keyPrefix: prefix, env: { KEY_TOKENS: KEY_TOKEN } })),
    );
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await store.close();
  });

  for (const [i, { label, shape }] of SHAPES.entries()) {
    it(`${label}: ${TOTAL} IDs from two nodes are distinct and decode to granted counter values; the shape is then fixed`, async () => {
      const tag = `shaped${i}`;
      const ids: string[] = [];
      const perNode = (TOTAL - 2 * SINGLES) / 2 / BATCH;
      await Promise.all(
        nodes.map(async (n) => {
          for (let b = 0; b < perNode; b++) {
            const r = await getJson<{ ids: string[] }>(`${n.base}/v1/ids/${tag}?count=${BATCH}`);
            ids.push(...r.ids);
          }
          for (let s = 0; s < SINGLES; s++) {
            ids.push((await getJson<{ id: string }>(`${n.base}/v1/ids/${tag}`)).id);
          }
        }),
      );
      expect(ids).toHaveLength(TOTAL);
      expect(new Set(ids).size, 'distinct IDs').toBe(TOTAL);

      // The form each shape promises.
      if (shape.prefix !== undefined) {
        expect(
          ids.every((id) => new RegExp(`^${shape.prefix}_[0-9a-hjkmnp-tv-z]{13}$`).test(id)),
        ).toBe(true);
      } else {
        expect(ids.every((id) => /^\d{1,19}$/.test(id))).toBe(true);
      }

      // Every ID decodes to a counter value one of the two nodes' grant lines shows granted.
      const stored = (await store.getTag(tag)) as SegmentTagConfig;
      expect(stored.shape.kind).toBe(shape.kind);
      const shaper = new Shaper(stored.shape, stored.regions, 0);
      const ranges = granted([...nodes[0]!.logs, ...nodes[1]!.logs], tag);
      let outside = 0;
      const counters = new Set<bigint>();
      for (const id of ids) {
        const { counter, region } = shaper.decode(id);
        expect(region).toBe(0);
        counters.add(counter);
        if (!inRanges(ranges, counter)) outside++;
      }
      expect(outside, 'IDs whose counter value no grant line shows').toBe(0);
      expect(counters.size).toBe(TOTAL);

      // The admin script decodes the same way.
      const sample = [ids[0]!, ids[TOTAL >> 1]!, ids[TOTAL - 1]!];
      const dec = await runAdmin(['tag', 'decode', tag, ...sample], env);
      expect(dec.code, dec.stderr).toBe(0);
      for (const id of sample) {
        expect(dec.stdout).toContain(shaper.decode(id).counter.toString());
      }

      // So does the authenticated route, on either node.
      for (const [k, id] of sample.entries()) {
        const res = await fetch(
          `${nodes[k % 2]!.base}/v1/decode/${tag}?id=${encodeURIComponent(id)}`,
          {
            headers: { Authorization: `Bearer ${KEY_TOKEN}` },
          },
        );
        expect(res.status).toBe(200);
        const body = (await res.json()) as { counter: string; region: number };
        expect(body.counter).toBe(shaper.decode(id).counter.toString());
        expect(body.region).toBe(0);
      }
      if (shape.kind === 'permute') {
        // Without a key token the counter behind a permuted ID stays hidden.
        const res = await fetch(
          `${nodes[0]!.base}/v1/decode/${tag}?id=${encodeURIComponent(sample[0]!)}`,
        );
        expect(res.status).toBe(403);
      }

      // Changing the shape now is refused, naming why; the tag keeps its shape.
      const other = shape.kind === 'bitreverse' ? 'plain' : 'bitreverse';
      const upd = await runAdmin(['tag', 'update', tag, '--shape', other], env);
      expect(upd.code).not.toBe(0);
      expect(upd.stderr).toMatch(/issued/);
      expect(((await store.getTag(tag)) as SegmentTagConfig).shape).toEqual(stored.shape);
    }, 180_000);
  }
});
