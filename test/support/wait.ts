/**
 * Polling helpers for the fault tests. Real processes (replication, Sentinel, Cluster
 * gossip) settle in real time, so these tests wait on observed state, never on a fixed
 * sleep, and fail with what they were waiting for.
 */
import { Redis } from 'ioredis';

/** Resolves once `check` returns true; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err; // a node may be down or still starting: keep polling
    }
    await pause(intervalMs);
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `fn` with a short-lived plain client to `host`:`port` (default 127.0.0.1) that
 * fails fast instead of retrying (a down node must not stall a poll).
 */
export async function withClient<T>(
  port: number,
  fn: (c: Redis) => Promise<T>,
  host = '127.0.0.1',
): Promise<T> {
  const c = new Redis(port, host, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 5000,
    enableOfflineQueue: false,
  });
  c.on('error', () => {}); // reported through the rejected command instead
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** `INFO <section>` of a server as a field → value map. */
export async function info(
  port: number,
  section: string,
  host = '127.0.0.1',
): Promise<Record<string, string>> {
  const text = await withClient(port, (c) => c.info(section), host);
  return parseInfo(text);
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
