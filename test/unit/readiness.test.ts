/**
 * The readiness rule (issue 17, docs/fleet-readiness.md), every branch, without a store:
 *
 * - allocator/readiness.ts decides from facts: store answers → buffers → snowflake → none;
 * - the facade gathers those facts from a fake store (ping), its real buffers and a fake
 *   snowflake source;
 * - http/ready.ts puts the node's phase (starting, up, draining) and the standing faults
 *   (embedded store file, grant log) before it, and sets `idalloc_ready`/`idalloc_store_up`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAllocator, type SnowflakeSource } from '../../src/allocator/index.js';
import { answersWithin, readinessOf } from '../../src/allocator/readiness.js';
import type { IdAllocator, Readiness } from '../../src/allocator/types.js';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import type { Grant, TagConfig } from '../../src/core/store-ports.js';
import { DRAINING, ReadyState, STARTING } from '../../src/http/ready.js';
import { FakeSegmentStore } from '../support/fake-segment-store.js';

const NOTHING = /^can serve nothing: the store does not answer, no segment tag has IDs buffered/;

describe('readinessOf: ready by any way that serves', () => {
  const minting: Readiness = { ready: true };
  const fenced: Readiness = { ready: false, reason: 'worker 3 is fenced until …' };

  it('is ready from the store whenever it answers, whatever else holds', () => {
    for (const buffered of [false, true]) {
      for (const snowflake of [undefined, minting, fenced]) {
        expect(
          readinessOf({
            storeAnswers: true,
            buffered,
            snowflakeTags: false,
            ...(snowflake ? { snowflake } : {}),
          }),
        ).toEqual({ ready: true, serving: 'store' });
      }
    }
  });

  it('is ready from its buffers while the store does not answer', () => {
    expect(readinessOf({ storeAnswers: false, buffered: true, snowflakeTags: false })).toEqual({
      ready: true,
      serving: 'buffers',
    });
  });

  it('is ready from its snowflake worker when it mints for a snowflake tag it knows', () => {
    expect(
      readinessOf({
        storeAnswers: false,
        buffered: false,
        snowflake: minting,
        snowflakeTags: true,
      }),
    ).toEqual({ ready: true, serving: 'snowflake' });
  });

  it('is not ready when it can serve nothing, and says why each way failed', () => {
    const none = readinessOf({ storeAnswers: false, buffered: false, snowflakeTags: false });
    expect(none).toEqual({
      ready: false,
      reason: 'can serve nothing: the store does not answer, no segment tag has IDs buffered',
    });
    const notMinting = readinessOf({
      storeAnswers: false,
      buffered: false,
      snowflake: fenced,
      snowflakeTags: true,
    });
    expect(notMinting.ready).toBe(false);
    expect(notMinting.reason).toMatch(NOTHING);
    expect(notMinting.reason).toMatch(
      /no snowflake ID can be minted \(worker 3 is fenced until …\)$/,
    );
    // A worker ID that mints serves nothing without a snowflake tag to mint for.
    const noTag = readinessOf({
      storeAnswers: false,
      buffered: false,
      snowflake: minting,
      snowflakeTags: false,
    });
    expect(noTag).toEqual({
      ready: false,
      reason: expect.stringMatching(/, and no snowflake tag was served here yet$/) as string,
    });
  });
});

describe('answersWithin: a ping that is late or fails counts as no answer', () => {
  it('true only for a ping that answers true in time', async () => {
    expect(await answersWithin(Promise.resolve(true), 50)).toBe(true);
    expect(await answersWithin(Promise.resolve(false), 50)).toBe(false);
    expect(await answersWithin(Promise.reject(new Error('down')), 50)).toBe(false);
    expect(await answersWithin(new Promise(() => {}), 20)).toBe(false);
  });
});

/** A fake store the facade can ping; tag `flake` is a snowflake tag. */
class PingStore extends FakeSegmentStore {
  answers: boolean | 'hangs' = true;
  ping(): Promise<boolean> {
    return this.answers === 'hangs' ? new Promise(() => {}) : Promise.resolve(this.answers);
  }
  async getTag(): Promise<TagConfig | undefined> {
    return undefined;
  }
  override async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    if (tag === 'flake') {
      throw new IdAllocError(ErrorCode.WRONG_MODE, "tag 'flake' is a snowflake tag", {
        tag,
        mode: 'snowflake',
      });
    }
    return super.allocate(tag, count, exact);
  }
}

/** A snowflake source whose readiness the test sets. */
function fakeSnowflake(state: { readiness: Readiness }): SnowflakeSource {
  let n = 1000n;
  return {
    next: () => n++,
    nextBatch: (count) => Array.from({ length: count }, () => n++),
    decode: () => {
      throw new Error('not used');
    },
    readiness: () => state.readiness,
    get workerId() {
      return state.readiness.ready ? 3 : undefined;
    },
    close: async () => {},
  };
}

const open: IdAllocator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

describe("the allocator's readiness: facts from the store, the buffers and the worker", () => {
  function setup(snowflake?: { readiness: Readiness }) {
    const store = new PingStore();
    const allocator = createAllocator({
      store,
      ...(snowflake ? { snowflake: fakeSnowflake(snowflake) } : {}),
      segment: { retryBaseMs: 1, retryMaxMs: 4, fetchTimeoutMs: 50 },
      pingTimeoutMs: 30,
    });
    open.push(allocator);
    return { store, allocator };
  }

  it('store answers → store; store down with IDs buffered → buffers; drained → not ready; back → store', async () => {
    const { store, allocator } = setup();
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'store' });
    // One segment of 100 buffered (1..100), then the store goes away.
    expect(await allocator.next('order')).toBe(1n);
    store.answers = false;
    store.goDown();
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'buffers' });
    for (let i = 2n; i <= 100n; i++) expect(allocator.next('order')).toBe(i);
    const drained = await allocator.readiness();
    expect(drained.ready).toBe(false);
    expect(drained.reason).toMatch(NOTHING);
    store.answers = true;
    store.comeBack();
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'store' });
  });

  it('store down, nothing buffered: ready from snowflake only once it minted for a known snowflake tag', async () => {
    const worker = { readiness: { ready: true } as Readiness };
    const { store, allocator } = setup(worker);
    store.answers = false;
    expect((await allocator.readiness()).reason).toMatch(/no snowflake tag was served here yet$/);
    store.answers = true;
    expect(await allocator.next('flake')).toBe(1000n); // learns: flake is a snowflake tag
    store.answers = false;
    store.goDown();
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'snowflake' });
    worker.readiness = { ready: false, reason: 'the lease on worker 3 was not renewed' };
    expect((await allocator.readiness()).reason).toMatch(
      /no snowflake ID can be minted \(the lease on worker 3 was not renewed\)$/,
    );
  });

  it('a ping that hangs (a Redis client waiting on a reconnect) does not hold the answer up', async () => {
    const { store, allocator } = setup();
    await allocator.next('order');
    store.answers = 'hangs';
    store.goDown();
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'buffers' });
  });

  it('store answers but no worker ID is held: ready (segment tags serve), as the store serves', async () => {
    const { allocator } = setup({ readiness: { ready: false, reason: 'no worker ID is held' } });
    expect(await allocator.readiness()).toEqual({ ready: true, serving: 'store' });
  });
});

describe('ReadyState: the phase and the standing faults before the allocator', () => {
  function setup(
    answer: () => Promise<Readiness>,
    extra: { storeFault?: string; grant?: string } = {},
  ) {
    const gauges = { ready: -1, storeUp: -1 };
    const state = new ReadyState({
      allocator: { readiness: answer },
      metrics: {
        setReady: (r) => (gauges.ready = r ? 1 : 0),
        setStoreUp: (u) => (gauges.storeUp = u ? 1 : 0),
      },
      storeFault: () => extra.storeFault,
      grantLogFault: () => extra.grant,
      timeoutMs: 100,
    });
    return { state, gauges };
  }
  const buffers = async (): Promise<Readiness> => ({ ready: true, serving: 'buffers' });

  it('is not ready while starting, whatever the allocator says; ready once up', async () => {
    let asked = 0;
    const { state, gauges } = setup(async () => {
      asked++;
      return buffers();
    });
    expect(await state.check()).toEqual(STARTING);
    expect(asked).toBe(0);
    expect(gauges.ready).toBe(0);
    state.markUp();
    expect(await state.check()).toEqual({ ready: true, serving: 'buffers' });
    expect(gauges).toEqual({ ready: 1, storeUp: 0 }); // ready with the store down
  });

  it('sets idalloc_store_up from whether the allocator was ready from the store', async () => {
    const { state, gauges } = setup(async () => ({ ready: true, serving: 'store' }));
    state.markUp();
    await state.check();
    expect(gauges).toEqual({ ready: 1, storeUp: 1 });
  });

  it('is not ready from the first moment of a drain, for good', async () => {
    const { state, gauges } = setup(buffers);
    state.markUp();
    expect((await state.check()).ready).toBe(true);
    state.beginShutdown();
    expect(gauges.ready).toBe(0); // at once, before any check
    expect(state.shuttingDown).toBe(true);
    expect(await state.check()).toEqual(DRAINING);
    expect(DRAINING.reason).toMatch(/^draining: .*shutting down/);
    state.markUp(); // never undone
    expect(await state.check()).toEqual(DRAINING);
  });

  it('a drain that begins while the allocator is asked still answers draining', async () => {
    let answer: (r: Readiness) => void = () => {};
    const { state } = setup(() => new Promise((resolve) => (answer = resolve)));
    state.markUp();
    const pending = state.check();
    state.beginShutdown();
    answer({ ready: true, serving: 'store' });
    expect(await pending).toEqual(DRAINING);
  });

  it("puts the embedded store's fault and the grant log's before the buffers", async () => {
    const fault = setup(buffers, { storeFault: 'the store file was deleted', grant: 'disk full' });
    fault.state.markUp();
    expect(await fault.state.check()).toEqual({
      ready: false,
      reason: 'the store file was deleted',
    });
    expect(fault.gauges.ready).toBe(0);
    const grant = setup(buffers, { grant: 'the grant log cannot be written' });
    grant.state.markUp();
    expect(await grant.state.check()).toEqual({
      ready: false,
      reason: 'the grant log cannot be written',
    });
  });

  it('answers the allocator not ready, failing or too slow, with the reason', async () => {
    const nothing = setup(async () => ({ ready: false, reason: 'can serve nothing: …' }));
    nothing.state.markUp();
    expect(await nothing.state.check()).toEqual({ ready: false, reason: 'can serve nothing: …' });
    const failing = setup(() => Promise.reject(new Error('boom')));
    failing.state.markUp();
    expect(await failing.state.check()).toEqual({
      ready: false,
      reason: 'readiness check failed: boom',
    });
    const slow = setup(() => new Promise(() => {}));
    slow.state.markUp();
    expect(await slow.state.check()).toEqual({
      ready: false,
      reason: 'readiness check took longer than 100 ms',
    });
  });
});
