/**
 * The double-buffer engine (buffer/range-buffer.ts) that the segment allocator and IdClient
 * share, on an injected clock and a scripted fetch: no store, no HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RangeBuffer, type BufferRules, type FetchedRange } from '../../src/buffer/range-buffer.js';
import { ErrorCode, IdAllocError, invalidArgument, unavailable } from '../../src/core/errors.js';
import { draw, failure, ids } from '../support/draw.js';
import { ManualClock, settle } from '../support/manual-timers.js';

/** What the fake source does with one fetch. */
type Answer = 'range' | 'hang' | IdAllocError | { start: bigint; end: bigint };

/** A counter per key handing out ranges, or the answers a test scripts. */
class FakeSource {
  readonly calls: { key: string; size: number; fence: bigint | null }[] = [];
  private counter = 1n;
  private readonly answers: Answer[] = [];
  private held: (() => void)[] = [];
  holding = false;

  script(...answers: Answer[]): void {
    this.answers.push(...answers);
  }

  release(): void {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
  }

  fetch = async (key: string, size: number, fence: bigint | null): Promise<FetchedRange> => {
    this.calls.push({ key, size, fence });
    if (this.holding) await new Promise<void>((go) => this.held.push(go));
    const a = this.answers.shift() ?? 'range';
    if (a === 'hang') return new Promise<never>(() => {});
    if (a instanceof IdAllocError) throw a;
    if (a !== 'range') return a;
    const start = this.counter;
    this.counter += BigInt(size);
    return { start, end: this.counter - 1n };
  };
}

const engines: RangeBuffer<FetchedRange>[] = [];
afterEach(() => {
  // Not awaited: a fetch a test left hanging never settles.
  for (const e of engines.splice(0)) void e.close(unavailable('closed by the test'));
});

function setup(rules: Partial<BufferRules> = {}, size = 10) {
  const clock = new ManualClock();
  const source = new FakeSource();
  const waits: string[] = [];
  const dropped: string[] = [];
  const engine = new RangeBuffer<FetchedRange>({
    fetch: source.fetch,
    size: () => size,
    clock,
    random: () => 1, // the upper end of the jitter: delays of exactly base × 2^attempt
    rules: {
      refillAt: 0.2,
      waitTimeoutMs: 1000,
      retryBaseMs: 50,
      retryMaxMs: 400,
      refusalHoldMs: 500,
      backgroundFailure: 'hold',
      failFastWhileRefused: false,
      ...rules,
    },
    checkKey: (key) => {
      if (key.includes(' ')) throw invalidArgument(`key '${key}' is not allowed`);
    },
    closedError: () => unavailable('the engine is closed'),
    timeoutError: (key, last) =>
      unavailable(`no IDs for '${key}' in time${last ? `: ${last.message}` : ''}`, 1),
    asError: (_key, err) =>
      err instanceof IdAllocError ? err : unavailable(`fetch failed: ${String(err)}`),
    onWait: (key) => waits.push(key),
    onDropped: (key, start, end) => dropped.push(`${key} ${start}..${end}`),
  });
  engines.push(engine);
  return { clock, source, engine, waits, dropped };
}

describe('RangeBuffer', () => {
  it('returns a buffered ID synchronously, without a promise', async () => {
    const { engine } = setup();
    const first = engine.next('k');
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(1n);
    const second = engine.next('k');
    expect(typeof second).toBe('bigint');
    expect(second).toBe(2n);
    expect(engine.nextBatch('k', 3)).toEqual([3n, 4n, 5n]); // an array, not a promise
  });

  it('fetches the next range once an ID at the mark is handed out, and only then', async () => {
    const { engine, source } = setup({ refillAt: 0.2 });
    expect(await draw(engine, 'k', 2)).toEqual([1n, 2n]); // mark of 1..10 is 3
    await settle();
    expect(source.calls).toHaveLength(1);
    expect(engine.next('k')).toBe(3n);
    await settle();
    expect(source.calls).toHaveLength(2);
    expect(engine.entries.get('k')?.next?.start).toBe(11n); // the second buffer is full
    expect(await draw(engine, 'k', 17)).toEqual(ids(4, 20)); // across both, no gap
  });

  it('runs one fetch per key at a time, however many calls pass the mark', async () => {
    const { engine, source } = setup();
    await draw(engine, 'k', 1);
    source.holding = true;
    await draw(engine, 'k', 8);
    expect(source.calls).toHaveLength(2);
    source.release();
    await settle();
    expect(source.calls).toHaveLength(2);
  });

  it('queues requests that find both buffers empty, serving them in call order', async () => {
    const { engine, source, waits } = setup({}, 3);
    source.holding = true;
    const waiting = [engine.next('k'), engine.nextBatch('k', 4), engine.next('k')];
    await settle();
    expect(source.calls).toHaveLength(1);
    expect(waits).toEqual([]); // a key's first load is a cold start, not a wait
    source.release();
    expect(await Promise.all(waiting)).toEqual([1n, [2n, 3n, 4n, 5n], 6n]);
    await settle();
    source.holding = true;
    await draw(engine, 'k', 3); // 7..9, the rest of the buffers
    const late = engine.next('k');
    expect(late).toBeInstanceOf(Promise);
    expect(waits).toEqual(['k']); // a key that had served: reported
    source.release();
    expect(await late).toBe(10n);
  });

  it('fails a waiting request with the timeout error after waitTimeoutMs', async () => {
    const { engine, source, clock } = setup({ waitTimeoutMs: 300 });
    source.script('hang');
    const waiting = failure(engine.next('k'));
    await clock.advance(299);
    await clock.advance(1);
    const err = await waiting;
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toBe("no IDs for 'k' in time");
    expect(source.calls).toHaveLength(1); // waited on the one fetch, started no other
  });

  it('retries a failed fetch with jittered backoff while a request waits, and names the failure on timeout', async () => {
    const { engine, source, clock } = setup({ waitTimeoutMs: 1000 });
    for (let i = 0; i < 20; i++) source.script(unavailable('store down'));
    const waiting = failure(engine.next('k'));
    await clock.advance(1000);
    const err = await waiting;
    expect(err.message).toBe("no IDs for 'k' in time: store down");
    // At 0 ms, then after delays of 50, 100, 200 and 400: at 50, 150, 350 and 750 ms.
    expect(source.calls).toHaveLength(5);
  });

  it('recovers after failures, serving the waiter from the first range that arrives', async () => {
    const { engine, source, clock } = setup();
    source.script(unavailable('down'), unavailable('down'));
    const waiting = engine.next('k');
    await clock.advance(150);
    expect(await waiting).toBe(1n);
    expect(source.calls).toHaveLength(3);
  });

  it('fails every waiting request with a refusal and holds background fetches back', async () => {
    const { engine, source, clock } = setup({ refusalHoldMs: 500 });
    await draw(engine, 'k', 1);
    await settle();
    source.script(new IdAllocError(ErrorCode.TAG_EXHAUSTED, 'exhausted'));
    await draw(engine, 'k', 2); // ID 3 passes the mark: the background fetch is refused
    await settle();
    expect(source.calls).toHaveLength(2);
    await draw(engine, 'k', 7); // past the mark again, within the hold: nothing asked
    await settle();
    expect(source.calls).toHaveLength(2);
    const [a, b] = [failure(engine.next('k')), failure(engine.nextBatch('k', 2))];
    source.script(new IdAllocError(ErrorCode.TAG_EXHAUSTED, 'still exhausted'));
    expect((await a).code).toBe(ErrorCode.TAG_EXHAUSTED); // a waiter asks anyway
    expect((await b).message).toBe('still exhausted');
    await clock.advance(500);
    expect(await engine.next('k')).toBe(11n); // after the hold, fetched again
  });

  it('fails at once while a refusal holds when failFastWhileRefused', async () => {
    const { engine, source, clock } = setup({ failFastWhileRefused: true, refusalHoldMs: 500 });
    await draw(engine, 'k', 10);
    await settle(); // 11..20 buffered
    source.script(new IdAllocError(ErrorCode.TAG_EXHAUSTED, 'exhausted'));
    await draw(engine, 'k', 10);
    await settle();
    const calls = source.calls.length;
    expect((await failure(engine.next('k'))).code).toBe(ErrorCode.TAG_EXHAUSTED);
    expect(source.calls).toHaveLength(calls); // answered from the refusal, no fetch
    await clock.advance(500);
    expect(await engine.next('k')).toBe(21n);
  });

  it('never serves a range at or below the fence, and passes the fence to the fetch', async () => {
    const { engine, source, clock } = setup();
    expect(await engine.nextBatch('k', 10)).toEqual(ids(1, 10));
    source.script({ start: 5n, end: 14n }); // the source went back
    const waiting = engine.next('k');
    await clock.advance(50); // refused as a failed fetch, retried after the backoff
    expect(await waiting).toBe(11n);
    expect(source.calls.map((c) => c.fence)).toEqual([null, 10n, 10n]);
  });

  it('keeps retrying a background failure while the current range serves, in retry mode', async () => {
    const { engine, source, clock } = setup({ backgroundFailure: 'retry' });
    await draw(engine, 'k', 1);
    source.script(unavailable('down'), unavailable('down'));
    await draw(engine, 'k', 2); // passes the mark of 1..10
    await settle();
    await clock.advance(150); // retried after 50, then 100 ms, with nobody waiting
    expect(source.calls).toHaveLength(4);
    expect(engine.entries.get('k')?.next?.start).toBe(11n);
  });

  it('holds a background failure back for the backoff delay, in hold mode', async () => {
    const { engine, source, clock } = setup({ backgroundFailure: 'hold' });
    await draw(engine, 'k', 1);
    source.script(unavailable('down'));
    await draw(engine, 'k', 2); // the mark: a background fetch that fails
    await settle();
    await draw(engine, 'k', 3);
    await settle();
    expect(source.calls).toHaveLength(2); // held: no fetch on every ID
    await clock.advance(50);
    await draw(engine, 'k', 1); // past the mark after the hold: asked again
    await settle();
    expect(source.calls).toHaveLength(3);
  });

  it('gives a direct fetch its own range in the key line, behind the fence', async () => {
    const { engine, source } = setup();
    await draw(engine, 'k', 1);
    const own = await engine.fetchDirect('k', (fence) => source.fetch('k', 100, fence));
    expect(own).toEqual({ start: 11n, end: 110n });
    engine.dropBelow('k', own.start);
    expect(await engine.next('k')).toBe(111n); // the buffered 2..10 was dropped
  });

  it('keeps a key while a direct fetch of it is queued, so that fetch sets the fence', async () => {
    const { engine, source, clock } = setup({ waitTimeoutMs: 300 });
    // A request's fetch is held, then fails; a direct fetch waits behind it in the line.
    source.script(unavailable('down'));
    source.holding = true;
    const timedOut = failure(engine.next('k'));
    await settle();
    const direct = engine.fetchDirect('k', (fence) => source.fetch('k', 100, fence));
    await clock.advance(300); // the request gives up; its fetch is still out
    expect((await timedOut).code).toBe(ErrorCode.UNAVAILABLE);
    source.release(); // the request's fetch fails with nobody waiting; then the direct one
    expect(await direct).toEqual({ start: 1n, end: 100n });
    // The key was not forgotten in between: the next fetch is fenced above the direct range.
    expect(engine.entries.get('k')?.highWater).toBe(100n);
    await clock.advance(1000); // past the hold of the failed fetch
    expect(await engine.next('k')).toBe(101n);
    expect(source.calls.at(-1)?.fence).toBe(100n);
  });

  it('keeps no state for a key whose fetch was refused', async () => {
    const { engine, source } = setup();
    source.script(new IdAllocError(ErrorCode.TAG_NOT_FOUND, 'no such key'));
    expect((await failure(engine.next('ghost'))).code).toBe(ErrorCode.TAG_NOT_FOUND);
    await settle();
    expect(engine.entries.size).toBe(0);
    expect(engine.keys()).toEqual([]);
  });

  it('reports the IDs a request collected and then gave up on: timed out or refused', async () => {
    const { engine, source, clock, dropped } = setup({ waitTimeoutMs: 300 }, 3);
    // 1..3 go to the batch, which waits for two more; the next fetch never answers.
    source.script('range', 'hang');
    const timedOut = failure(engine.nextBatch('k', 5));
    await clock.advance(300);
    expect((await timedOut).code).toBe(ErrorCode.UNAVAILABLE);
    expect(dropped).toEqual(['k 1..3']);

    // Across two ranges with a hole between them: one report per run of consecutive IDs.
    const { engine: e2, source: s2, dropped: d2 } = setup({}, 3);
    s2.script(
      { start: 1n, end: 3n },
      { start: 10n, end: 11n },
      new IdAllocError(ErrorCode.TAG_EXHAUSTED, 'exhausted'),
    );
    expect((await failure(e2.nextBatch('k', 6))).code).toBe(ErrorCode.TAG_EXHAUSTED);
    expect(d2).toEqual(['k 1..3', 'k 10..11']);
    expect(s2.calls).toHaveLength(3);
  });

  it('reports a range whose fetch comes back after close, and serves none of it', async () => {
    const { engine, source, dropped } = setup();
    source.holding = true;
    const waiting = failure(engine.next('k'));
    await settle();
    const closed = engine.close(unavailable('shutting down'));
    expect((await waiting).message).toBe('shutting down');
    source.release();
    await closed; // settles once the fetch in flight has
    expect(dropped).toEqual(['k 1..10']);
  });

  it('refuses a bad key synchronously, and every call once closed', async () => {
    const { engine, source } = setup();
    expect(() => engine.next('bad key')).toThrow(/key 'bad key' is not allowed/);
    source.holding = true;
    const waiting = failure(engine.next('k'));
    await settle();
    void engine.close(unavailable('shutting down')); // the held fetch never settles
    expect((await waiting).message).toBe('shutting down');
    expect(() => engine.next('k')).toThrow(/the engine is closed/);
  });
});
