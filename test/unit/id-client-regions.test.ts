/**
 * IdClient never mixes shapes of one tag: a range whose descriptor differs from the ranges
 * it serves (urls reaching two regions or deployments) is refused, never shaped with
 * another range's descriptor — those could be another region's IDs, issued there already.
 */
import { describe, expect, it } from 'vitest';
import { IdClient } from '../../src/client/id-client.js';
import { ErrorCode } from '../../src/core/errors.js';
import { failure } from '../support/draw.js';

/** Two services that each grant counter values from 0: east as region 0/2, west as 1/2. */
function twoRegions(): typeof fetch {
  let leases = 0;
  return (async (input: string | URL | Request) => {
    const url = String(input);
    if (url.includes('/v1/returns/')) return Response.json({ tag: 't', returned: '0' });
    const region = leases++ === 0 ? 0 : 1;
    return Response.json({
      tag: 't',
      start: String(region * 10),
      end: String(region * 10 + 9),
      shape: { kind: 'plain', regions: 2, region },
    });
  }) as typeof fetch;
}

describe('IdClient and ranges of two regions', () => {
  it("serves the first region's range and refuses a range of another region: WRONG_REGION, no foreign ID", async () => {
    const client = new IdClient({
      urls: ['http://east.invalid', 'http://west.invalid'],
      rangeSize: 10,
      refillAt: 0.5,
      fetch: twoRegions(),
    });
    const served: bigint[] = [];
    let refused;
    for (let i = 0; i < 20 && refused === undefined; i++) {
      try {
        served.push(await client.next('t'));
      } catch (err) {
        refused = err;
      }
    }
    await client.close();
    // Region 0 of 2: counter c is c·2 + 0; none of west's region-1 IDs was served.
    expect(served).toEqual(Array.from({ length: 10 }, (_, c) => BigInt(c * 2)));
    expect(refused).toBeDefined();
    const err = await failure(Promise.reject(refused));
    expect(err.code).toBe(ErrorCode.WRONG_REGION);
    expect(err.message).toMatch(/different regions or deployments/);
  });
});
