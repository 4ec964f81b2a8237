/**
 * The readiness rule of a node's allocator (docs/fleet-readiness.md): ready while it can
 * serve IDs in any way, not ready only once it can serve none. A store outage is shared by
 * every node of a deployment; a rule that needed the store would take the whole fleet out
 * of a balancer's rotation at once, while the double buffers exist to ride the outage out.
 *
 * Pure: the facade (index.ts) gathers the facts, this decides, and the unit tests can
 * walk every branch without a store.
 */
import type { Readiness } from './types.js';

/** What the facade knows when asked. */
export interface ServingFacts {
  /** The store answered a ping: every tag can be served. */
  readonly storeAnswers: boolean;
  /** Some segment tag's buffers hold an ID: those tags can be served without the store. */
  readonly buffered: boolean;
  /** The snowflake generator's own readiness, when the node has one. */
  readonly snowflake?: Readiness;
  /**
   * This node knows a snowflake tag (it served one): with a minting worker ID it serves
   * that tag without the store. Without one, a worker ID alone serves nothing.
   */
  readonly snowflakeTags: boolean;
}

/** Ready by the strongest way that works (store, buffers, snowflake); else why none does. */
export function readinessOf(f: ServingFacts): Readiness {
  if (f.storeAnswers) return { ready: true, serving: 'store' };
  if (f.buffered) return { ready: true, serving: 'buffers' };
  const s = f.snowflake;
  if (s?.ready === true && f.snowflakeTags) return { ready: true, serving: 'snowflake' };
  let flake = '';
  if (s !== undefined && !s.ready) {
    flake = `, and no snowflake ID can be minted (${s.reason ?? 'no worker ID is held'})`;
  } else if (s !== undefined) flake = ', and no snowflake tag was served here yet';
  return {
    ready: false,
    reason: `can serve nothing: the store does not answer, no segment tag has IDs buffered${flake}`,
  };
}

/**
 * How long a readiness check waits for the store's ping. A store that does not answer in
 * time counts as not answering: the node is then ready from its buffers or its worker ID
 * if it can be, and the check stays short enough for a balancer's probe timeout (1 s by
 * default in Kubernetes) even while a Redis client waits on a reconnect.
 */
export const PING_TIMEOUT_MS = 750;

/** True when `ping` answers true within `ms`; false when it answers false, fails or is late. */
export function answersWithin(ping: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const answered = ping.then(
    (up) => up,
    () => false,
  );
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}
