import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createAllocator } from '../../src/index.js';
import { testPrefix } from '../support/prefix.js';
import { segmentTag, testStore } from '../support/store.js';

const url = inject('redisUrl');

describe('library createAllocator', () => {
  it('serves IDs in-process from a redis:// URL, synchronously once buffered', async () => {
    const keyPrefix = testPrefix();
    const admin = testStore(url, keyPrefix);
    await admin.createTag(segmentTag('order', { step: 50 }));
    const ids = await createAllocator({ redis: url, keyPrefix });
    try {
      expect(await ids.next('order')).toBe(1n);
      const second = ids.next('order');
      expect(second).toBe(2n); // a bigint, not a promise
      expect(await ids.nextBatch('order', 3)).toEqual([3n, 4n, 5n]);
      // A leased range lies past everything this node was granted (here 1..150).
      const range = await ids.lease('order', 10);
      expect(range.end - range.start).toBe(9n);
      expect(range.start).toBeGreaterThan(5n);
      expect(ids.segmentState('order')?.highWater).toBe(range.end);
    } finally {
      await ids.close();
      await admin.close();
    }
  });

  it('writes the grant log through the log option, as node nodeId', async () => {
    const keyPrefix = testPrefix();
    const admin = testStore(url, keyPrefix);
    await admin.createTag(segmentTag('order', { step: 50 }));
    const lines: { msg: string; grant?: Record<string, unknown> }[] = [];
    const log = {
      info: (obj: object, msg: string) => lines.push({ ...obj, msg }),
      warn: () => {},
      error: () => {},
    };
    const ids = await createAllocator({ redis: url, keyPrefix, log, nodeId: 'lib-1' });
    let deployment: string;
    try {
      // The allocator created it at start (a second read finds the same one).
      deployment = await admin.deploymentId();
      expect(await ids.next('order')).toBe(1n);
      await ids.lease('order', 10);
    } finally {
      await ids.close();
      await admin.close();
    }
    const grants = lines.filter((l) => l.msg === 'grant').map((l) => l.grant!);
    expect(grants[0]).toMatchObject({ kind: 'segment', node: 'lib-1', start: '1', end: '50' });
    // Every line names the deployment: the id stored under the key prefix.
    expect(deployment).toMatch(/^d-[0-9a-f]{16}$/);
    expect(grants.every((g) => g.deployment === deployment)).toBe(true);
    expect(grants.map((g) => g.kind)).toContain('range');
    // close() logged what the buffers still held.
    expect(grants.at(-1)).toMatchObject({ kind: 'remainder', start: '2', end: '50' });
  });

  it('names one deployment under any address of the store, another one under another prefix', async () => {
    const keyPrefix = testPrefix();
    const otherPrefix = testPrefix();
    const lines: { grant?: { node: string; deployment?: string } }[] = [];
    const log = { info: (obj: object) => lines.push(obj), warn: () => {}, error: () => {} };
    const { port } = new URL(url);
    const node = (address: string, prefix: string, nodeId: string) =>
      createAllocator({ redis: `redis://${address}:${port}`, keyPrefix: prefix, log, nodeId });
    // Two nodes of one deployment reaching it under two names, one node of another.
    const nodes = [
      await node('127.0.0.1', keyPrefix, 'a'),
      await node('localhost', keyPrefix, 'b'),
      await node('127.0.0.1', otherPrefix, 'c'),
    ];
    const admins = [testStore(url, keyPrefix), testStore(url, otherPrefix)];
    try {
      for (const a of admins) await a.createTag(segmentTag('order'));
      for (const n of nodes) await n.next('order');
    } finally {
      for (const n of nodes) await n.close();
      for (const a of admins) await a.close();
    }
    const named = new Map(
      lines.flatMap((l) => (l.grant ? [[l.grant.node, l.grant.deployment]] : [])),
    );
    expect(named.get('a')).toMatch(/^d-[0-9a-f]{16}$/);
    expect(named.get('b')).toBe(named.get('a'));
    expect(named.get('c')).toMatch(/^d-[0-9a-f]{16}$/);
    expect(named.get('c')).not.toBe(named.get('a'));
  });

  it('leaves a client the caller passed open after close()', async () => {
    const keyPrefix = testPrefix();
    const admin = testStore(url, keyPrefix);
    await admin.createTag(segmentTag('order'));
    const mine = new Redis(url);
    const ids = await createAllocator({ redis: mine, keyPrefix });
    expect(await ids.next('order')).toBe(1n);
    await ids.close();
    expect(await mine.ping()).toBe('PONG');
    await mine.quit();
    await admin.close();
  });

  it('refuses a key prefix with a Cluster hash tag, as KEY_PREFIX is refused', async () => {
    await expect(createAllocator({ redis: url, keyPrefix: 'app{1}:' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: "key prefix 'app{1}:' is not allowed: use up to 64 of A-Z a-z 0-9 _ . : -",
    });
  });
});

describe('library snowflake option', () => {
  it('serves snowflake tags with a pinned worker ID and decodes them', async () => {
    const keyPrefix = testPrefix();
    const admin = testStore(url, keyPrefix);
    await admin.createTag({ ...segmentTag('events'), mode: 'snowflake' });
    const ids = await createAllocator({ redis: url, keyPrefix, snowflake: { workerId: 5 } });
    try {
      const a = await ids.next('events');
      const b = await ids.next('events');
      expect(b > a).toBe(true);
      expect(ids.decodeSnowflake(String(b))).toMatchObject({ workerId: 5 });
      expect(await ids.readiness()).toEqual({ ready: true, serving: 'store' });
    } finally {
      await ids.close();
      await admin.close();
    }
  });

  it('leases a worker ID in the same Redis when asked to', async () => {
    const keyPrefix = testPrefix();
    const ids = await createAllocator({ redis: url, keyPrefix, snowflake: { leaseMs: 3000 } });
    const probe = new Redis(url);
    try {
      expect(await ids.readiness()).toEqual({ ready: true, serving: 'store' });
      const leases = await probe.keys(`${keyPrefix}worker:*`);
      expect(leases.some((k) => !k.endsWith(':horizon'))).toBe(true);
    } finally {
      await ids.close();
      await probe.quit();
    }
  });
});

describe('library snowflake layout', () => {
  it('refuses a layout other than the one the store records', async () => {
    const keyPrefix = testPrefix();
    const first = await createAllocator({ redis: url, keyPrefix, snowflake: { workerId: 1 } });
    await first.close();
    await expect(
      createAllocator({ redis: url, keyPrefix, snowflake: { workerId: 2, layout: 'js-safe' } }),
    ).rejects.toThrow(/snowflake layout .* bits=41\/4\/8 differs from .* bits=41\/10\/12/);
  });
});
