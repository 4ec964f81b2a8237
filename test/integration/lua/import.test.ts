/**
 * import-1.lua: every return value, its checks of each argument, the run_id it records,
 * and the incarnation guard it applies to a counter another server wrote last. (What it
 * decides is specified for both stores in tag-transfer.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { luaFixture, segmentTag, type LuaFixture } from './fixture.js';

let f: LuaFixture;
beforeEach(() => {
  f = luaFixture();
});
afterEach(() => f.close());

/** what, target, step, max, gap, description, timestamp, dry run */
const seg = (target: string, over: Partial<Record<number, string>> = {}) => {
  const args = ['segment', target, '100', '9223372036854775807', '1000', 'd', '1700000000000', '0'];
  for (const [i, v] of Object.entries(over)) args[Number(i)] = v!;
  return args;
};

describe('import-1', () => {
  it('creates a missing tag at target with its settings and this server’s run_id', async () => {
    expect(await f.raw.idallocImport(f.key('order'), ...seg('5001'))).toEqual([
      'created',
      'none',
      '',
      '5001',
    ]);
    expect(await f.raw.hgetall(f.key('order'))).toEqual({
      mode: 'segment',
      description: 'd',
      created_at: '1700000000000',
      step: '100',
      max: '9223372036854775807',
      next: '5001',
      gap: '1000',
      run_id: await f.runId(),
    });
    // Same run_id: the next grant starts at target, no second gap.
    expect(await f.store.allocate('order', 1, true)).toMatchObject({ start: 5001n, bumped: false });
  });

  it('creates a tombstone (gap optional) and a snowflake tag without a counter', async () => {
    const tomb = ['tombstone', '77', '1', '0', '', '', '1700000000001', '0'];
    expect(await f.raw.idallocImport(f.key('old'), ...tomb)).toEqual(['created', 'none', '', '77']);
    expect(await f.raw.hgetall(f.key('old'))).toEqual({
      next: '77',
      deleted_at: '1700000000001',
      run_id: await f.runId(),
    });
    const snow = ['snowflake', '', '1', '9223372036854775807', '5', 'c', '1', '0'];
    expect(await f.raw.idallocImport(f.key('ev'), ...snow)).toEqual(['created', 'none', '', '']);
    expect(await f.raw.hget(f.key('ev'), 'next')).toBeNull();
    expect(await f.raw.idallocImport(f.key('ev'), ...snow)).toEqual([
      'unchanged',
      'snowflake',
      '',
      '',
    ]);
  });

  it('first skips the gap of a counter another server wrote last, then raises to target', async () => {
    await f.store.createTag(segmentTag('order', { gap: 300n }));
    await f.raw.hset(f.key('order'), 'run_id', 'another-server', 'next', '1000');
    expect(await f.raw.idallocImport(f.key('order'), ...seg('1200'))).toEqual([
      'raised',
      'segment',
      '1000',
      '1300',
    ]);
    expect(await f.raw.hmget(f.key('order'), 'next', 'run_id')).toEqual(['1300', await f.runId()]);
    expect(await f.raw.idallocImport(f.key('order'), ...seg('2000'))).toEqual([
      'raised',
      'segment',
      '1300',
      '2000',
    ]);
  });

  it('writes nothing on a dry run and answers the same', async () => {
    await f.store.createTag(segmentTag('order'));
    const dry = await f.raw.idallocImport(f.key('order'), ...seg('900', { 7: '1' }));
    expect(dry).toEqual(['raised', 'segment', '1', '900']);
    expect(await f.raw.hget(f.key('order'), 'next')).toBe('1');
    expect(await f.raw.idallocImport(f.key('missing'), ...seg('9', { 7: '1' }))).toEqual([
      'created',
      'none',
      '',
      '9',
    ]);
    expect(await f.raw.exists(f.key('missing'))).toBe('0');
  });

  it('answers conflict for a live tag of the other mode and -2 for a damaged one, writing nothing', async () => {
    await f.store.createTag({ ...segmentTag('ev'), mode: 'snowflake' });
    expect(await f.raw.idallocImport(f.key('ev'), ...seg('5'))).toEqual([
      'conflict',
      'snowflake',
      '',
      '',
    ]);
    await f.store.createTag(segmentTag('broken'));
    await f.raw.hset(f.key('broken'), 'step', '0');
    expect(await f.raw.idallocImport(f.key('broken'), ...seg('5'))).toBe('-2');
    await f.raw.hdel(f.key('broken'), 'mode');
    expect(await f.raw.idallocImport(f.key('broken'), ...seg('5'))).toBe('-2');
    expect(await f.raw.hget(f.key('broken'), 'next')).toBe('1');
  });

  it('refuses a malformed argument with an error reply, writing nothing', async () => {
    const bad: Record<string, string[]> = {
      what: seg('5', { 0: 'counter' }),
      'target not decimal': seg('5x'),
      'target above max + 1': seg('101', { 3: '99' }),
      'target past 2^63': ['tombstone', '9223372036854775809', '1', '0', '', '', '1', '0'],
      'segment without target': seg(''),
      step: seg('5', { 2: '0' }),
      gap: seg('5', { 4: '-1' }),
      'segment without gap': seg('5', { 4: '' }),
      max: seg('5', { 3: '9223372036854775808' }),
      timestamp: seg('5', { 6: 'now' }),
      'dry run': seg('5', { 7: 'yes' }),
    };
    for (const [what, args] of Object.entries(bad)) {
      await expect(f.raw.idallocImport(f.key('t'), ...args), what).rejects.toThrow(
        /idalloc script import-1: expected what, target/,
      );
    }
    expect(await f.raw.exists(f.key('t'))).toBe('0');
  });
});
