/**
 * IdClient's lease size: it adapts to consumption like the service's step,
 * within [rangeSize, maxRangeSize], and the next range is leased at the threshold so that
 * a steady caller never waits. A fake service counter answers the leases; time is a
 * manual clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IdClient, type IdClientOptions } from '../../src/client/id-client.js';
import { ManualClock, settle } from '../support/manual-timers.js';

/** One service over one counter; sizes above `maxRange` are refused as the service does. */
function service(maxRange = 100_000_000) {
  let next = 1n;
  const sizes: number[] = [];
  const fetch: typeof globalThis.fetch = async (input) => {
    const url = new URL(String(input));
    const size = Number(url.searchParams.get('size'));
    sizes.push(size);
    if (size > maxRange) {
      const message = `query parameter 'size' is ${size}: an integer from 1 to ${maxRange}`;
      return Response.json({ error: { code: 'INVALID_ARGUMENT', message } }, { status: 400 });
    }
    const start = next;
    next += BigInt(size);
    return Response.json({ tag: 'order', start: String(start), end: String(next - 1n) });
  };
  return { fetch, sizes };
}

const clients: IdClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function setup(over: Partial<IdClientOptions> = {}, maxRange?: number) {
  const svc = service(maxRange);
  const clock = new ManualClock();
  const warnings: string[] = [];
  const log = { error() {}, info() {}, warn: (_o: object, msg: string) => warnings.push(msg) };
  const client = new IdClient({ urls: ['http://a'], fetch: svc.fetch, clock, log, ...over });
  clients.push(client);
  return { client, clock, sizes: svc.sizes, warnings };
}

/** Draws `n` IDs in steps of `chunk`, letting leases land in between; counts waits. */
async function consume(client: IdClient, n: number, chunk: number) {
  let waits = 0;
  let last = 0n;
  for (let drawn = 0; drawn < n; drawn++) {
    let r = client.next('order');
    if (typeof r !== 'bigint') {
      waits++;
      r = await r;
    }
    expect(r > last).toBe(true);
    last = r;
    if (drawn % chunk === 0) await settle(4);
  }
  return waits;
}

describe('IdClient lease size', () => {
  it('grows from rangeSize by doubling while ranges last less than the target, up to 100 000', async () => {
    const { client, sizes } = setup(); // default settings: 1000 .. 100 000, target 1 s
    await consume(client, 400_000, 500); // the manual clock stands still: every range is quick
    expect(sizes.slice(0, 8)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 100_000]);
    expect(new Set(sizes.slice(8))).toEqual(new Set([100_000]));
  });

  it('leases the next range at the threshold, so a steady caller waits only for the first', async () => {
    const { client } = setup();
    expect(await consume(client, 300_000, 100)).toBe(1);
  });

  it('shrinks back towards rangeSize when ranges last twice the target', async () => {
    const { client, clock, sizes } = setup({ rangeTargetMs: 100 });
    await consume(client, 8000, 100); // grown: 1000, 2000, 4000, 8000
    const grown = sizes.at(-1)!;
    expect(grown).toBeGreaterThan(2000);
    for (let i = 0; i < 3; i++) {
      await clock.advance(200); // each range now lasts 2× the target
      await consume(client, sizes.at(-1)!, 100);
    }
    expect(sizes.at(-1)).toBeLessThan(grown);
  });

  it('keeps a rangeSize set by hand fixed unless maxRangeSize is given', async () => {
    const fixed = setup({ rangeSize: 500 });
    await consume(fixed.client, 5000, 100);
    expect(new Set(fixed.sizes)).toEqual(new Set([500]));
    const growing = setup({ rangeSize: 500, maxRangeSize: 2000 });
    await consume(growing.client, 10_000, 100);
    expect(growing.sizes.slice(0, 4)).toEqual([500, 1000, 2000, 2000]);
  });

  it('grows no further than a service with a smaller MAX_RANGE accepts', async () => {
    const { client, sizes, warnings } = setup({}, 5000);
    const waits = await consume(client, 60_000, 100);
    expect(waits).toBe(1);
    expect(sizes.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 4000, 4000]);
    expect(Math.max(...sizes.slice(4))).toBe(4000);
    expect(warnings).toEqual([
      'idalloc refused the lease size: leases grow no further than this from now on',
    ]);
  });

  it('refuses a maxRangeSize below rangeSize', () => {
    expect(() => new IdClient({ urls: ['http://a'], rangeSize: 100, maxRangeSize: 50 })).toThrow(
      "IdClient option 'maxRangeSize' is 50: expected at least rangeSize (100)",
    );
  });
});
