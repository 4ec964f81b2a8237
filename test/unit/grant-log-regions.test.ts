/**
 * Grant lines of shaped tags and regioned nodes (issue 19): `region: "i/N"` and
 * `shape: <fingerprint>` appear only when the node has more than one region or the tag is
 * not plain; a plain tag on a node of one region writes the same line as before.
 */
import { describe, expect, it } from 'vitest';
import { SegmentAllocator } from '../../src/allocator/segment.js';
import { grantLine, type GrantEvent, type GrantLine } from '../../src/core/grant-log.js';
import { parseRegion, shapeFingerprint, type TagShape } from '../../src/core/shape.js';
import type { Grant } from '../../src/core/store-ports.js';
import { createGrantLog } from '../../src/grants/log.js';
import { FakeSegmentStore, settle } from '../support/fake-segment-store.js';

const AT = Date.parse('2026-01-01T00:00:00Z');
const PERMUTE: TagShape = { kind: 'permute', width: 40, key: '00112233445566778899aabbccddeeff' };

const seg: GrantEvent = { kind: 'segment', tag: 'order', start: 1n, end: 10n, max: 99n };

describe('grant lines of shapes and regions', () => {
  it('writes a plain line of one region exactly as before: no region, no shape', () => {
    const plain = grantLine({ ...seg, region: parseRegion('0/1'), shape: 'plain' }, 'n', AT);
    expect(JSON.stringify(plain)).toBe(
      '{"kind":"segment","node":"n","at":"2026-01-01T00:00:00.000Z","tag":"order","start":"1","end":"10","max":"99"}',
    );
    expect(JSON.stringify(grantLine(seg, 'n', AT))).toBe(JSON.stringify(plain));
  });

  it('names the region i/N of a node of several regions, and a shape that is not plain', () => {
    const line = grantLine(
      { ...seg, region: parseRegion('1/3'), shape: shapeFingerprint(PERMUTE) },
      'n',
      AT,
    );
    expect(line.region).toBe('1/3');
    expect(line.shape).toMatch(/^permute\/40\/[0-9a-f]{8}$/);
    expect(grantLine({ ...seg, shape: 'bitreverse' }, 'n', AT)).toMatchObject({
      shape: 'bitreverse',
    });
    expect(grantLine({ ...seg, shape: 'bitreverse' }, 'n', AT).region).toBeUndefined();
    expect(grantLine({ ...seg, region: parseRegion('0/2') }, 'n', AT).shape).toBeUndefined();
  });

  it('names the region on worker lines of several regions only', () => {
    const w = { kind: 'worker', worker: 7, floor: 1, horizon: 2, how: 'claim' } as const;
    expect(grantLine({ ...w, region: parseRegion('1/2') }, 'n', AT).region).toBe('1/2');
    expect(grantLine({ ...w, region: parseRegion('0/1') }, 'n', AT)).not.toHaveProperty('region');
  });
});

/** A store whose grants carry the tag's shape and region count, as the real stores do. */
class ShapedStore extends FakeSegmentStore {
  constructor(
    readonly shape: TagShape,
    readonly regions: number,
  ) {
    super();
  }
  override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    const g = await super.allocate(tag, count, exact);
    return { ...g, shape: this.shape, regions: this.regions };
  }
}

function allocatorOn(store: FakeSegmentStore, region?: string) {
  const lines: GrantLine[] = [];
  const grants = createGrantLog(
    {
      info: (obj: object) => lines.push((obj as { grant: GrantLine }).grant),
      error: () => {},
    },
    { nodeId: 'node-1' },
  );
  const allocator = new SegmentAllocator({
    store,
    grants,
    ...(region === undefined ? {} : { region: parseRegion(region) }),
  });
  return { allocator, lines };
}

describe('the segment allocator records region and shape', () => {
  it('on segments, leased ranges and the remainders at shutdown of a shaped tag in regions', async () => {
    const { allocator, lines } = allocatorOn(new ShapedStore(PERMUTE, 2), '1/2');
    await allocator.next('order');
    await allocator.lease('order', 5, 'client-a');
    await settle();
    await allocator.close();
    const kinds = lines.map((l) => l.kind);
    expect(kinds).toEqual(expect.arrayContaining(['segment', 'range', 'remainder']));
    for (const l of lines) {
      expect(l.region).toBe('1/2');
      expect(l.shape).toBe(shapeFingerprint(PERMUTE));
    }
  });

  it('writes no region or shape for a plain tag on a node of one region', async () => {
    const { allocator, lines } = allocatorOn(new ShapedStore({ kind: 'plain' }, 1), '0/1');
    await allocator.next('order');
    await allocator.close();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) {
      expect(l).not.toHaveProperty('region');
      expect(l).not.toHaveProperty('shape');
    }
  });

  it('records the fence line of a grant refused by the regression fence with its shape', async () => {
    const store = new ShapedStore({ kind: 'bitreverse' }, 2);
    const { allocator, lines } = allocatorOn(store, '0/2');
    await allocator.next('order');
    store.counter = 1n; // the store forgot: it grants 1..100 again
    allocator.nextBatch('order', 100);
    await settle(50);
    const fence = lines.find((l) => l.kind === 'fence');
    expect(fence).toMatchObject({ region: '0/2', shape: 'bitreverse' });
    await allocator.close();
  });
});
