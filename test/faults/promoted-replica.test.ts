/**
 * docs/design.md §8.1 incarnation bump: a replica promoted while the old master keeps granting
 * ranges it never replicated. The promoted server's first range must start above all of
 * them — and, as the counterfactual that shows this test can fail, a tag whose gap is 0
 * does hand out a range the old master already granted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis/store.js';
import { GrantLogs } from '../support/grant-audit.js';
import { IdLedger } from '../support/ledger.js';
import { startReplicated, type ReplicatedSet } from '../support/replication.js';
import { segmentTag } from '../support/store.js';
import { standalone, storeOn } from '../support/topology-store.js';
import { info } from '../support/wait.js';

let set: ReplicatedSet;
let oldMaster: RedisStore;
let promoted: RedisStore;
const granted = new IdLedger();
/** What the two sides' nodes would log for each grant they took. */
const trail = new GrantLogs();

beforeAll(async () => {
  set = await startReplicated({ replicas: 1 });
  oldMaster = storeOn(standalone(set.master.port));
  // Same prefix: the same tags, as a failover would present them to the nodes.
  promoted = storeOn(standalone(set.replicas[0]!.port), {}, oldMaster.keys.prefix);
});
afterAll(async () => {
  await oldMaster.close();
  await promoted.close();
  await set.dispose();
});

async function take(store: RedisStore, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const g = await store.allocate(tag, 100, false);
    granted.addRange(tag, g.start, g.end);
    trail.recordGrant(nodeOf(store), tag, g);
  }
}

const nodeOf = (store: RedisStore) => (store === oldMaster ? 'old-side-node' : 'new-side-node');

describe('a replica promoted while the old master keeps granting', () => {
  it('starts its first range above everything the old master granted, thanks to the gap', async () => {
    await oldMaster.createTag(segmentTag('guarded', { step: 100, gap: 1_000_000n }));
    await oldMaster.createTag(segmentTag('unguarded', { step: 100, gap: 0n }));
    await take(oldMaster, 'guarded', 5);
    await take(oldMaster, 'unguarded', 5);
    await set.waitInSync();

    // Split: the replica stops following; the old master, unaware, keeps granting.
    const replica = set.replicas[0]!;
    await set.promote(replica);
    const replicatedGuarded = granted.max('guarded')!;
    const replicatedUnguarded = granted.max('unguarded')!;
    await take(oldMaster, 'guarded', 20);
    await take(oldMaster, 'unguarded', 20);
    expect((await info(replica.port, 'replication')).role).toBe('master');
    expect((await promoted.getTag('guarded'))?.next).toBe(replicatedGuarded + 1n);

    const first = await promoted.allocate('guarded', 100, false);
    expect(first.bumped).toBe(true);
    expect(first.start).toBe(replicatedGuarded + 1n + 1_000_000n);
    expect(first.start).toBeGreaterThan(granted.max('guarded')!);
    granted.addRange('guarded', first.start, first.end);
    trail.recordGrant('new-side-node', 'guarded', first);
    await take(promoted, 'guarded', 5);

    // The counterfactual: without a gap the promoted server repeats the old master's IDs.
    const bare = await promoted.allocate('unguarded', 100, false);
    expect(bare.start).toBe(replicatedUnguarded + 1n);
    granted.addRange('unguarded', bare.start, bare.end);
    trail.recordGrant('new-side-node', 'unguarded', bare);

    const overlaps = granted.overlaps();
    expect(overlaps.filter((o) => o.tag === 'guarded')).toEqual([]);
    expect(overlaps.filter((o) => o.tag === 'unguarded').length).toBeGreaterThan(0);

    // audit over the grant lines finds the same: the guarded tag clean, its gap an
    // incarnation jump; the unguarded one granted twice, by a node on each side.
    const report = trail.audit();
    const guarded = report.tags.find((t) => t.tag === 'guarded')!;
    expect(guarded.overlaps).toBe(0);
    // The jump skipped 1 000 000 IDs; 2000 of them the old master had granted meanwhile.
    expect(guarded.skipped.incarnation_jump).toBe('1000000');
    expect(guarded.gapCauses).toEqual({
      incarnation_jump: '998000',
      discarded_grant: '0',
      fence: '0',
      unexplained: '0',
    });
    expect(guarded.incarnations).toHaveLength(2);
    const unguarded = report.tags.find((t) => t.tag === 'unguarded')!;
    expect(unguarded.overlaps).toBeGreaterThan(0);
    expect(unguarded.overlapList[0]).toMatchObject({
      first: { node: 'old-side-node' },
      second: { node: 'new-side-node' },
    });
  });
});
