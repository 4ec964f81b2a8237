import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/core/errors.js';

/** The one line a bad value stops the process with. */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the docs/design.md §10 defaults and freezes the result', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      KEY_PREFIX: 'idalloc:',
      DATA_DIR: './data',
      LOG_LEVEL: 'info',
      MAX_BATCH: 1000,
      MAX_RANGE: 100_000,
      IDEMPOTENCY_TTL_SECONDS: 86_400,
      PREFETCH_AT: 0.1,
      SEGMENT_TARGET_SECONDS: 900,
      MAX_STEP: 1_000_000,
      FETCH_TIMEOUT_MS: 2000,
      REDIS_MIN_REPLICAS: 0,
      REDIS_WAIT_TIMEOUT_MS: 100,
      REQUIRE_DURABLE_STORE: false,
      SNOWFLAKE_EPOCH: Date.parse('2024-01-01T00:00:00Z'),
      SNOWFLAKE_WORKER_BITS: 10,
      SNOWFLAKE_SEQUENCE_BITS: 12,
      SNOWFLAKE_LEASE_MS: 30_000,
      MAX_BACKWARD_MS: 5,
    });
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.API_TOKENS).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads WORKERS as a count or auto (one per available core, within the CPU quota), default 1', async () => {
    const { availableParallelism } = await import('node:os');
    const { autoWorkers } = await import('../../src/config/cpu-quota.js');
    expect(loadConfig({}).WORKERS).toBe(1);
    expect(loadConfig({ WORKERS: '3' }).WORKERS).toBe(3);
    expect(loadConfig({ WORKERS: 'auto' }).WORKERS).toBe(autoWorkers(availableParallelism()));
    for (const bad of ['0', '-1', 'two', '1.5', '257', 'AUTO']) {
      expect(refusal({ WORKERS: bad })).toBe(
        `invalid configuration: WORKERS=${JSON.stringify(bad)}: expected an integer from 1 to 256, or auto`,
      );
    }
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' }).PORT).toBe(8080);
  });

  it('parses lists and flags', () => {
    const c = loadConfig({
      API_TOKENS: ' a, b ,,',
      REDIS_SENTINELS: 'h1:26379,[::1]:26380',
      REDIS_SENTINEL_MASTER: 'm',
      REQUIRE_DURABLE_STORE: 'true',
    });
    expect(c.API_TOKENS).toEqual(['a', 'b']);
    expect(c.REDIS_SENTINELS).toEqual([
      { host: 'h1', port: 26379 },
      { host: '::1', port: 26380 },
    ]);
    expect(c.REQUIRE_DURABLE_STORE).toBe(true);
  });

  it('names the variable, the value and what is allowed in one line', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { PORT: 'eighty' },
        /^invalid configuration: PORT="eighty": expected an integer from 0 to 65535$/,
      ],
      [{ PORT: '70000' }, /PORT="70000": expected an integer from 0 to 65535/],
      [{ MAX_BATCH: '0' }, /MAX_BATCH="0": expected an integer from 1 to/],
      [{ PREFETCH_AT: '1.5' }, /PREFETCH_AT="1.5": expected a number between 0 and 1/],
      [{ PREFETCH_AT: '0' }, /PREFETCH_AT="0": expected a number above 0/],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud": expected/],
      [
        { REDIS_URL: 'http://x' },
        /REDIS_URL="http:\/\/x": expected a redis:\/\/ or rediss:\/\/ URL/,
      ],
      [
        { REDIS_CLUSTER_NODES: 'a:1,b' },
        /REDIS_CLUSTER_NODES="a:1,b": expected 'b' is not host:port/,
      ],
      [{ REQUIRE_DURABLE_STORE: 'maybe' }, /REQUIRE_DURABLE_STORE="maybe": expected true or false/],
      [{ SNOWFLAKE_EPOCH: '2999-01-01T00:00:00Z' }, /SNOWFLAKE_EPOCH=.*in the past/],
      [{ KEY_PREFIX: 'a b' }, /KEY_PREFIX="a b": expected up to 64 of/],
      [{ SNOWFLAKE_LAYOUT: 'tiny' }, /SNOWFLAKE_LAYOUT="tiny": expected default or js-safe/],
    ];
    for (const [env, message] of cases) {
      const line = refusal(env);
      expect(line).toMatch(message);
      expect(line).not.toContain('\n');
    }
  });

  it('refuses an API_TOKENS value with no token in it rather than switching auth off', () => {
    expect(refusal({ API_TOKENS: ',' })).toMatch(/API_TOKENS=",": expected .*at least one token/);
    expect(refusal({ API_TOKENS: ' , ' })).toMatch(/API_TOKENS/);
  });

  it('refuses a Cluster hash tag in KEY_PREFIX, which would pin every tag to one slot', () => {
    expect(refusal({ KEY_PREFIX: '{ids}:' })).toMatch(/KEY_PREFIX="\{ids\}:"/);
  });

  it('never repeats a password from REDIS_URL', () => {
    const line = refusal({ REDIS_URL: 'http://user:s3cret@host:6379' });
    expect(line).not.toContain('s3cret');
    expect(line).toContain('http://***@host:6379');
  });

  it('checks settings against each other', () => {
    expect(refusal({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:1' })).toMatch(
      /set at most one of them/,
    );
    expect(refusal({ REDIS_SENTINELS: 'a:1' })).toMatch(/REDIS_SENTINEL_MASTER is unset/);
    expect(refusal({ SNOWFLAKE_WORKER_BITS: '12', SNOWFLAKE_SEQUENCE_BITS: '12' })).toMatch(
      /= 24: expected at most 22/,
    );
    expect(refusal({ SNOWFLAKE_WORKER_ID: '3', WORKERS: '2' })).toMatch(
      /SNOWFLAKE_WORKER_ID=3 with WORKERS=2: a pinned worker ID serves one process only/,
    );
    expect(loadConfig({ SNOWFLAKE_WORKER_ID: '3', WORKERS: '1' }).SNOWFLAKE_WORKER_ID).toBe(3);
    expect(refusal({ SNOWFLAKE_WORKER_ID: '1024' })).toMatch(
      /SNOWFLAKE_WORKER_ID=1024: expected 0 to 1023/,
    );
    expect(refusal({ SNOWFLAKE_LAYOUT: 'js-safe', SNOWFLAKE_WORKER_BITS: '10' })).toMatch(
      /at most 12 with SNOWFLAKE_LAYOUT=js-safe/,
    );
  });

  it('gives the js-safe preset its widths unless they are set', () => {
    const c = loadConfig({ SNOWFLAKE_LAYOUT: 'js-safe' });
    expect([c.SNOWFLAKE_WORKER_BITS, c.SNOWFLAKE_SEQUENCE_BITS]).toEqual([4, 8]);
  });
});
