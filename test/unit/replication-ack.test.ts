import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import { confirmReplicated, type ReplicationAck } from '../../src/store/redis/replication.js';

const grant = { start: 1001n, end: 2000n, step: 1000, max: 2n ** 63n - 1n, bumped: false };

function ack(over: Partial<ReplicationAck>): ReplicationAck {
  return {
    tag: 'order',
    grant,
    minReplicas: 1,
    waitTimeoutMs: 100,
    wait: async () => '1',
    epochAtGrant: 3,
    epochNow: () => 3,
    ...over,
  };
}

async function refusal(a: ReplicationAck): Promise<IdAllocError> {
  const err = await confirmReplicated(a).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof IdAllocError)) throw new Error(`expected an IdAllocError, got ${err}`);
  return err;
}

describe('confirmReplicated', () => {
  it('confirms when WAIT reports enough replicas on the same connection', async () => {
    const calls: [number, number][] = [];
    await confirmReplicated(
      ack({
        minReplicas: 2,
        waitTimeoutMs: 250,
        wait: async (n, ms) => {
          calls.push([n, ms]);
          return 2;
        },
      }),
    );
    expect(calls).toEqual([[2, 250]]);
  });

  it('discards the segment when fewer replicas acknowledged', async () => {
    const err = await refusal(ack({ minReplicas: 2, wait: async () => '1' }));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.details).toMatchObject({
      discarded: true,
      tag: 'order',
      start: '1001',
      end: '2000',
      acked: 1,
    });
    expect(err.message).toContain('1 of 2 required replicas');
  });

  it('discards the segment when the connection was re-established before WAIT answered', async () => {
    let epoch = 3;
    const err = await refusal(
      ack({
        wait: async () => {
          epoch += 1; // a reconnect: this WAIT ran on a connection that wrote nothing
          return '1';
        },
        epochNow: () => epoch,
      }),
    );
    expect(err.details.discarded).toBe(true);
    expect(err.message).toContain('re-established');
  });

  it('discards the segment when WAIT itself fails', async () => {
    const err = await refusal(
      ack({
        wait: async () => {
          throw new Error('Connection is closed.');
        },
      }),
    );
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.details.discarded).toBe(true);
    expect(err.message).toContain('Connection is closed.');
    expect(err.retryAfterSeconds).toBe(1);
  });

  it('discards the segment when WAIT answers something that is not a count', async () => {
    const err = await refusal(ack({ wait: async () => 'OK' }));
    expect(err.details.discarded).toBe(true);
  });
});
