/**
 * Redaction by allow-list (src/observe/logger.ts): only known-safe header and query values are
 * logged, by one rule for a request target, a parsed query and a `Referer`.
 */
import { describe, expect, it } from 'vitest';
import { CENSOR, censorHeaders, censorQuery, censorUrl } from '../../src/observe/logger.js';

describe('censorUrl', () => {
  it('keeps the values of the API parameters only, deciding on the decoded name', () => {
    expect(censorUrl('/v1/ids/a?count=3&%63ount=4&sig=x&co%64e=y&c+ount=z')).toBe(
      `/v1/ids/a?count=3&%63ount=4&sig=${CENSOR}&co%64e=${CENSOR}&c+ount=${CENSOR}`,
    );
    expect(censorUrl('/v1/tags?limit=10&after=order&%zz=1')).toBe(
      `/v1/tags?limit=10&after=order&%zz=${CENSOR}`,
    );
  });

  it('censors the user and password of an absolute URL and any fragment', () => {
    expect(censorUrl('https://user:pw@h.example/p?size=2#access_token=x')).toBe(
      `https://${CENSOR}@h.example/p?size=2#${CENSOR}`,
    );
    expect(censorUrl('/plain/path')).toBe('/plain/path');
  });
});

describe('censorQuery and censorHeaders', () => {
  it('apply the same names to a parsed query', () => {
    expect(censorQuery({ count: '2', token: 'x', jwt: ['a', 'b'] })).toEqual({
      count: '2',
      token: CENSOR,
      jwt: CENSOR,
    });
  });

  it('keep the safe headers, censor the rest, and censor a Referer like a URL', () => {
    expect(
      censorHeaders({
        'user-agent': 'curl/8',
        'x-request-id': 'r1',
        signature: 'x',
        'x-anything': 'y',
        referer: 'https://a.example/?token=t&count=1',
      }),
    ).toEqual({
      'user-agent': 'curl/8',
      'x-request-id': 'r1',
      signature: CENSOR,
      'x-anything': CENSOR,
      referer: `https://a.example/?token=${CENSOR}&count=1`,
    });
  });
});
