/**
 * The Redis script reply parsers (store/redis/reply-shapes.ts, worker-replies.ts) without
 * Redis: each accepts the reply its script's header promises, refuses every malformed
 * field with the INTERNAL "unexpected reply" error (a damaged reply must never become a
 * grant or a lease), and answers or throws each negative ScriptCode as its refusal.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError } from '../../src/core/errors.js';
import {
  allocateReply,
  bumpReply,
  createReply,
  doneReply,
  importReply,
} from '../../src/store/redis/reply-shapes.js';
import { ScriptCode, scriptError } from '../../src/store/redis/replies.js';
import type { ScriptReply } from '../../src/store/redis/scripts.js';
import {
  claimReply,
  inspectReply,
  releaseReply,
  renewReply,
  workerExportReply,
  workerImportReply,
} from '../../src/store/redis/worker-replies.js';

function thrown(f: () => unknown): IdAllocError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(IdAllocError);
    return err as IdAllocError;
  }
  throw new Error('expected an error');
}

function expectBadReply(f: () => unknown): void {
  const err = thrown(f);
  expect(err.code).toBe(ErrorCode.INTERNAL);
  expect(err.message).toMatch(/^unexpected reply from /);
}

/** A code as ioredis hands it over with `stringNumbers` (outside ScriptReply's type). */
const asString = (code: number) => String(code) as unknown as ScriptReply;

/** `good` with field `i` replaced by `bad`. */
function withField(good: readonly string[], i: number, bad: string | number): ScriptReply {
  return good.map((v, k) => (k === i ? bad : v));
}

/** Each ScriptCode and the error code of the refusal it becomes (for a tag or a worker). */
const REFUSAL_CODE: readonly [number, ErrorCode, RegExp][] = [
  [ScriptCode.TAG_NOT_FOUND, ErrorCode.TAG_NOT_FOUND, /does not exist/],
  [ScriptCode.TAG_DAMAGED, ErrorCode.INTERNAL, /is damaged in the store \(its hash/],
  [ScriptCode.WRONG_MODE, ErrorCode.WRONG_MODE, /-mode tag/],
  [ScriptCode.TAG_EXHAUSTED, ErrorCode.TAG_EXHAUSTED, /reached its max/],
  [ScriptCode.WOULD_LOWER, ErrorCode.REFUSED, /bump would lower/],
  [ScriptCode.TAG_EXISTS, ErrorCode.TAG_EXISTS, /already exists/],
  [ScriptCode.MAX_BELOW_NEXT, ErrorCode.REFUSED, /below IDs already issued/],
  [ScriptCode.SHAPE_OF_DELETED, ErrorCode.REFUSED, /was deleted after issuing IDs as another/],
  [ScriptCode.NOT_HOLDER, ErrorCode.UNAVAILABLE, /not this node's any more/],
  [ScriptCode.HORIZON_BEHIND, ErrorCode.UNAVAILABLE, /is fenced until/],
  [ScriptCode.WORKER_TAKEN, ErrorCode.UNAVAILABLE, /leased by another node/],
  [ScriptCode.WORKER_DAMAGED, ErrorCode.INTERNAL, /its horizon hash/],
  // No refusal of its own outside a claim: a bug, named by its number.
  [ScriptCode.WORKER_MOVED, ErrorCode.INTERNAL, /unexpected script reply -12/],
];

describe('tag script replies: a refusal is its code, for the store to add what it knows', () => {
  const parsers: [string, (r: ScriptReply) => { ok: boolean; code?: number }][] = [
    ['allocate', allocateReply],
    ['bump', bumpReply],
    ['create', createReply],
    ['update', (r) => doneReply('update', r)],
    ['delete', (r) => doneReply('delete', r)],
    ['import', (r) => importReply('order', r)],
  ];
  for (const [name, parse] of parsers) {
    it(`${name}: every ScriptCode, as a number or a string, maps to its refusal`, () => {
      for (const [code, errorCode, message] of REFUSAL_CODE) {
        for (const reply of [code, asString(code)]) {
          const out = parse(reply);
          expect(out).toEqual({ ok: false, code });
          const err = scriptError(out.code!, 'order');
          expect(err.code).toBe(errorCode);
          expect(err.message).toMatch(message);
        }
      }
    });
  }
});

describe('allocateReply', () => {
  const good = ['1001', '2000', '1', '9223372036854775807', '1', 'ab12', '5', '', '', '', '', ''];

  it('reads a good reply (no shape fields: plain, one region)', () => {
    expect(allocateReply(good)).toEqual({
      ok: true,
      value: {
        start: 1001n,
        end: 2000n,
        step: 1,
        max: 9223372036854775807n,
        bumped: true,
        incarnation: 'ab12',
        skipped: 5n,
        shape: { kind: 'plain' },
        regions: 1,
      },
    });
  });

  it('reads the shape fields the tag has', () => {
    const key = '0123456789abcdef0123456789abcdef';
    const shaped = [...good.slice(0, 7), 'permute', 'ord', '40', key, '3'];
    expect(allocateReply(shaped)).toMatchObject({
      ok: true,
      value: { shape: { kind: 'permute', prefix: 'ord', width: 40, key }, regions: 3 },
    });
  });

  it('refuses each malformed field and a wrong length', () => {
    const bad: [number, string | number][] = [
      [0, 'x'],
      [0, 1001],
      [1, '-1'],
      [2, '0'],
      [2, 'NaN'],
      [3, '1e3'],
      [4, 2],
      [5, 'XYZ'],
      [5, ''],
      [6, '-1'],
      [7, 'rot13'],
      [8, 'Ord'],
      [9, '40'],
      [10, 'nothex'],
      [11, '0'],
      [11, '1025'],
    ];
    for (const [i, value] of bad) expectBadReply(() => allocateReply(withField(good, i, value)));
    expectBadReply(() => allocateReply(good.slice(0, 6)));
    expectBadReply(() => allocateReply(good.slice(0, 7)));
    expectBadReply(() => allocateReply([]));
  });
});

describe('bumpReply, createReply, doneReply', () => {
  it('bump: reads previous, next, clamped; refuses non-decimal IDs and other shapes', () => {
    expect(bumpReply(['10', '20', '1'])).toEqual({
      ok: true,
      value: { previous: 10n, next: 20n, clamped: true },
    });
    expectBadReply(() => bumpReply(['x', '20', '0']));
    expectBadReply(() => bumpReply(['10', '', '0']));
    expectBadReply(() => bumpReply(['10', '20', 0]));
    expectBadReply(() => bumpReply(['10', '20']));
  });

  it('create: reads whether a tombstone raised the start; refuses other shapes', () => {
    expect(createReply(['1', '1'])).toEqual({ ok: true, value: { raisedByTombstone: true } });
    expect(createReply(['1', '0'])).toEqual({ ok: true, value: { raisedByTombstone: false } });
    expectBadReply(() => createReply(['1', 1]));
    expectBadReply(() => createReply(['1']));
  });

  it('update and delete: 1 is done, any other number a code, anything else a bad reply', () => {
    for (const what of ['update', 'delete'] as const) {
      expect(doneReply(what, 1)).toEqual({ ok: true, value: undefined });
      expect(doneReply(what, asString(1))).toEqual({ ok: true, value: undefined });
      expect(doneReply(what, 2)).toEqual({ ok: false, code: 2 });
      expect(scriptError(2, 'order').message).toMatch(/unexpected script reply 2/);
      expectBadReply(() => doneReply(what, ['1']));
    }
  });
});

describe('importReply', () => {
  const good = ['raised', 'segment', '10', '20'];

  it('reads a good reply, before and after optional', () => {
    expect(importReply('order', good)).toEqual({
      ok: true,
      value: { outcome: 'raised', found: 'segment', before: 10n, after: 20n },
    });
    expect(importReply('order', ['created', 'none', '', '20'])).toEqual({
      ok: true,
      value: { outcome: 'created', found: 'none', after: 20n },
    });
  });

  it('refuses each malformed field, naming the tag', () => {
    for (const [i, value] of [
      [0, 'lowered'],
      [1, 'hash'],
      [2, 'x'],
      [3, '-1'],
    ] as const) {
      const err = thrown(() => importReply('order', withField(good, i, value)));
      expect(err.code).toBe(ErrorCode.INTERNAL);
      expect(err.message).toBe("unexpected reply from import of 'order'");
    }
    expectBadReply(() => importReply('order', good.slice(0, 3)));
  });
});

describe('worker script replies', () => {
  it('inspect: held, free with its floor, damaged; refuses other shapes and codes', () => {
    expect(inspectReply(3, ['1', '0'])).toEqual({ id: 3, state: 'held' });
    expect(inspectReply(3, ['0', '77'])).toEqual({ id: 3, state: 'free', floor: 77 });
    expect(inspectReply(3, ScriptCode.WORKER_DAMAGED)).toEqual({ id: 3, state: 'damaged' });
    expectBadReply(() => inspectReply(3, ['2', '0']));
    expectBadReply(() => inspectReply(3, ['0', 'x']));
    expectBadReply(() => inspectReply(3, ['0']));
    expectBadReply(() => inspectReply(3, ScriptCode.NOT_HOLDER));
  });

  it('claim: reads a grant; maps its four refusals; throws any other code', () => {
    expect(claimReply(3, ['100', '200', '1', 'ab'])).toEqual({
      kind: 'claimed',
      floor: 100,
      horizon: 200,
      margin: true,
      runId: 'ab',
    });
    expect(claimReply(3, ['100', '200', '0', ''])).toMatchObject({ margin: false, runId: '' });
    expect(claimReply(3, ScriptCode.WORKER_TAKEN)).toEqual({ kind: 'taken' });
    expect(claimReply(3, ScriptCode.HORIZON_BEHIND)).toEqual({ kind: 'fenced' });
    expect(claimReply(3, ScriptCode.WORKER_DAMAGED)).toEqual({ kind: 'damaged' });
    expect(claimReply(3, asString(ScriptCode.WORKER_MOVED))).toEqual({ kind: 'moved' });
    for (const [i, value] of [
      [0, 'x'],
      [1, -1],
      [2, '2'],
      [3, 'XY'],
    ] as const) {
      expectBadReply(() => claimReply(3, withField(['100', '200', '1', 'ab'], i, value)));
    }
    expectBadReply(() => claimReply(3, ['100', '200', '1']));
    const err = thrown(() => claimReply(3, ScriptCode.NOT_HOLDER));
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toMatch(/worker 3/);
  });

  it('renew: reads horizon, floor, run_id; lost, damaged; throws any other code', () => {
    expect(renewReply(3, ['200', '0', 'ab'])).toEqual({
      kind: 'renewed',
      horizon: 200,
      floor: 0,
      runId: 'ab',
    });
    expect(renewReply(3, ScriptCode.NOT_HOLDER)).toEqual({ kind: 'lost' });
    expect(renewReply(3, ScriptCode.WORKER_DAMAGED)).toEqual({ kind: 'damaged' });
    expectBadReply(() => renewReply(3, ['x', '0', 'ab']));
    expectBadReply(() => renewReply(3, ['200', 'x', 'ab']));
    expectBadReply(() => renewReply(3, ['200', '0', 'XY']));
    expect(thrown(() => renewReply(3, ScriptCode.WORKER_TAKEN)).code).toBe(ErrorCode.UNAVAILABLE);
  });

  it('release: released, lost, damaged; a bad reply or another code thrown', () => {
    expect(releaseReply(3, 1)).toBe('released');
    expect(releaseReply(3, ScriptCode.NOT_HOLDER)).toBe('lost');
    expect(releaseReply(3, ScriptCode.WORKER_DAMAGED)).toBe('damaged');
    expectBadReply(() => releaseReply(3, ['1']));
    expect(thrown(() => releaseReply(3, ScriptCode.WORKER_MOVED)).message).toMatch(
      /unexpected script reply -12 for 'worker 3'/,
    );
  });

  it('export: reads horizon, holder, imported; gone; damaged thrown; bad fields refused', () => {
    const good = ['500', '0123456789abcdef', '1'];
    expect(workerExportReply(3, good)).toEqual({
      id: 3,
      horizon: 500,
      holder: '0123456789abcdef',
      imported: true,
    });
    expect(workerExportReply(3, ['500', '', '0'])).toEqual({
      id: 3,
      horizon: 500,
      imported: false,
    });
    expect(workerExportReply(3, [])).toBeUndefined();
    const err = thrown(() => workerExportReply(3, ScriptCode.WORKER_DAMAGED));
    expect(err.message).toMatch(/worker 3 is damaged/);
    for (const [i, value] of [
      [0, 'x'],
      [1, 'abc'],
      [2, '2'],
    ] as const) {
      expectBadReply(() => workerExportReply(3, withField(good, i, value)));
    }
    expectBadReply(() => workerExportReply(3, ScriptCode.NOT_HOLDER));
  });

  it('import: reads outcome and horizon; a code thrown as its refusal; bad fields refused', () => {
    expect(workerImportReply(3, ['raised', '500'])).toEqual({ outcome: 'raised', horizon: 500 });
    expectBadReply(() => workerImportReply(3, ['lowered', '500']));
    expectBadReply(() => workerImportReply(3, ['raised', 'x']));
    expectBadReply(() => workerImportReply(3, ['raised']));
    for (const [code, errorCode, message] of REFUSAL_CODE) {
      const err = thrown(() => workerImportReply(3, code));
      expect(err.code).toBe(errorCode);
      expect(err.message).toMatch(message);
    }
  });
});
