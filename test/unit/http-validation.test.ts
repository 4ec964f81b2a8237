/**
 * The HTTP layer's pure pieces, without a server: query validation, the error mapping,
 * bearer auth, and the metrics' tag labels.
 */
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { ErrorCode, IdAllocError, unavailable } from '../../src/core/errors.js';
import { bearerAuth } from '../../src/http/auth.js';
import { toHttpError } from '../../src/http/errors.js';
import { intParam, readQuery, shown } from '../../src/http/validate.js';
import { createMetrics, UNSERVED_TAG } from '../../src/observe/metrics/index.js';

const req = (url: string, headers: Record<string, string> = {}) =>
  ({ url, headers }) as unknown as Request;

function thrown(fn: () => unknown): IdAllocError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdAllocError) return err;
    throw err;
  }
  throw new Error('expected an IdAllocError');
}

describe('readQuery', () => {
  it('returns the known parameters as a new object', () => {
    const r = req('/v1/ids/a?count=5');
    const q = readQuery(r, ['count']);
    expect(q).toEqual({ count: '5' });
  });

  it('returns nothing for no query or a bare ?', () => {
    expect(readQuery(req('/v1/ids/a'), ['count'])).toEqual({});
    expect(readQuery(req('/v1/ids/a?'), ['count'])).toEqual({});
  });

  it('refuses an unknown parameter, naming it and what the route accepts', () => {
    const e = thrown(() => readQuery(req('/x?count=1&x=2'), ['count']));
    expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(e.message).toBe("unknown query parameter 'x': this route accepts count");
    expect(thrown(() => readQuery(req('/x?x=2'), [])).message).toMatch(/accepts no query/);
  });

  it('refuses a repeated parameter', () => {
    expect(thrown(() => readQuery(req('/x?count=1&count=1'), ['count'])).message).toBe(
      "query parameter 'count' is given more than once: give it once",
    );
  });
});

describe('intParam', () => {
  it('accepts plain decimal integers in range', () => {
    expect(intParam('count', '1', 1, 10)).toBe(1);
    expect(intParam('count', '10', 1, 10)).toBe(10);
    expect(intParam('count', '007', 1, 10)).toBe(7);
  });

  it.each(['0', '11', '-1', '+1', '1e1', '1.0', ' 1', '', 'abc', '0x1', '9'.repeat(17)])(
    "refuses '%s' naming the parameter and the range",
    (v) => {
      expect(thrown(() => intParam('count', v, 1, 10)).message).toMatch(
        /^count '.*' is not allowed: expected an integer from 1 to 10$/,
      );
    },
  );
});

describe('shown', () => {
  it('bounds long values and blanks control characters', () => {
    expect(shown('a'.repeat(100))).toBe(`${'a'.repeat(80)}…`);
    expect(shown('a\nb\u0000')).toBe('a?b?');
  });
});

describe('toHttpError', () => {
  it.each([
    [ErrorCode.INVALID_ARGUMENT, 400],
    [ErrorCode.UNAUTHORIZED, 401],
    [ErrorCode.TAG_NOT_FOUND, 404],
    [ErrorCode.WRONG_MODE, 409],
    [ErrorCode.TAG_EXHAUSTED, 409],
  ] as const)('maps %s to %i with its message', (code, status) => {
    expect(toHttpError(new IdAllocError(code, 'why'))).toEqual({
      status,
      code,
      message: 'why',
      internal: false,
    });
  });

  it('maps UNAVAILABLE to 503 with Retry-After of at least a second', () => {
    expect(toHttpError(unavailable('down', 3))).toMatchObject({
      status: 503,
      retryAfterSeconds: 3,
    });
    expect(toHttpError(unavailable('down', 0.2))).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('hides everything else behind 500 INTERNAL', () => {
    for (const err of [
      new Error('secret detail'),
      new IdAllocError(ErrorCode.INTERNAL, 'damaged tag'),
      new IdAllocError(ErrorCode.TAG_EXISTS, 'admin only'),
      'a string',
    ]) {
      expect(toHttpError(err)).toEqual({
        status: 500,
        code: 'INTERNAL',
        message: 'internal error',
        internal: true,
      });
    }
  });

  it('maps an undecodable URL to 400', () => {
    expect(toHttpError(new URIError('URI malformed'))).toMatchObject({ status: 400 });
    expect(toHttpError(Object.assign(new Error('x'), { status: 400 }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('bearerAuth', () => {
  function run(tokens: string[] | undefined, authorization?: string) {
    const headers: Record<string, string> = {};
    let passed: unknown = 'not called';
    const res = { setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response;
    const next: NextFunction = (err?: unknown) => (passed = err);
    bearerAuth(tokens)(req('/v1/tags', authorization ? { authorization } : {}), res, next);
    return { passed, headers };
  }

  it('lets everything pass without tokens', () => {
    expect(run(undefined).passed).toBeUndefined();
    expect(run([]).passed).toBeUndefined();
  });

  it('lets a configured token pass, the scheme in any case', () => {
    expect(run(['t1', 't2'], 'Bearer t2').passed).toBeUndefined();
    expect(run(['t1'], 'bearer t1').passed).toBeUndefined();
  });

  it('refuses a missing, wrong or prefixed token with WWW-Authenticate', () => {
    for (const header of [undefined, 'Bearer t', 'Bearer t1x', 'Basic dDE=', 'Bearer t1 t1']) {
      const { passed, headers } = run(['t1'], header);
      expect(passed).toBeInstanceOf(IdAllocError);
      expect((passed as IdAllocError).code).toBe(ErrorCode.UNAUTHORIZED);
      expect(headers['WWW-Authenticate']).toMatch(/^Bearer/);
    }
  });
});

describe('metrics tag labels', () => {
  it('labels fetches and waits of a tag never served as _unserved', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.observer.segmentWait?.('nope');
    m.observer.segmentFetched?.('nope', 'error', 0.01);
    m.observer.idsIssued?.('order', 'segment', 2);
    m.observer.segmentFetched?.('order', 'error', 0.01);
    const text = (await m.render()).body;
    expect(text).toContain(`idalloc_segment_waits_total{tag="${UNSERVED_TAG}"} 1`);
    expect(text).toContain(
      `idalloc_segment_fetches_total{tag="${UNSERVED_TAG}",outcome="error"} 1`,
    );
    expect(text).toContain('idalloc_segment_fetches_total{tag="order",outcome="error"} 1');
    expect(text).not.toContain('tag="nope"');
  });
});
