/**
 * The one key builder (docs/design.md §4). No Redis key is spelled anywhere else.
 *
 * Each tag is one hash, so an allocation touches one key and tags spread over Cluster
 * slots. Worker leases and horizons share a hash tag per worker ID (`{…}`), so the
 * scripts that touch both run on one Cluster slot.
 */
import { TAG_NAME_PATTERN } from '../../core/tags.js';

export interface Keys {
  readonly prefix: string;
  /** `{prefix}tag:{name}` — the tag's hash (mode, next, step, max, gap, run_id, …). */
  tag(name: string): string;
  /** The SCAN pattern matching every tag hash. */
  readonly tagPattern: string;
  /**
   * Recovers the tag name from a key matched by {@link tagPattern}; undefined when the
   * rest of the key is not a tag name — a key of another deployment whose `KEY_PREFIX`
   * is nested in this one (`a:` and `a:tag:`): every key of that one has a `:` there,
   * which no tag name has.
   */
  tagName(key: string): string | undefined;
  /**
   * `{<tag key>}:idem:<hex>` — an Idempotency-Key's record (expires). Its hash tag is the
   * whole tag key, so it lives in the tag's Cluster slot (allocate-keyed-2 touches both);
   * prefixes and tag names cannot hold braces, so the hash tag ends where the tag key
   * does. It starts with `{`, so no tag or worker pattern of any prefix matches it.
   */
  idempotency(name: string, hex: string): string;
  /** `{prefix}worker:{id}` — a snowflake worker's lease (expires). */
  worker(id: number): string;
  /** `{prefix}worker:{id}:horizon` — the worker's horizon (never expires). */
  workerHorizon(id: number): string;
  /** The SCAN pattern matching every worker lease and horizon key. */
  readonly workerPattern: string;
  /** Recovers the worker ID from a key matched by {@link workerPattern}. */
  workerId(key: string): number | undefined;
  /**
   * `{prefix}deployment:id` — the deployment's identity (core/deployment.ts). The `:` after
   * `deployment` keeps it out of an outer deployment's tag listing when prefixes nest.
   */
  readonly deployment: string;
  /** `{prefix}snowflake:layout` — the layout this store's snowflake IDs are minted with. */
  readonly snowflakeLayout: string;
}

export function createKeys(prefix: string): Keys {
  const tagHead = `${prefix}tag:`;
  return Object.freeze({
    prefix,
    tag: (name: string) => tagHead + name,
    tagPattern: `${escapeGlob(tagHead)}*`,
    tagName: (key: string) => {
      const name = key.startsWith(tagHead) ? key.slice(tagHead.length) : undefined;
      return name !== undefined && TAG_NAME_PATTERN.test(name) ? name : undefined;
    },
    idempotency: (name: string, hex: string) => `{${tagHead}${name}}:idem:${hex}`,
    worker: (id: number) => `${prefix}worker:{${id}}`,
    workerHorizon: (id: number) => `${prefix}worker:{${id}}:horizon`,
    workerPattern: `${escapeGlob(prefix)}worker:{*`,
    workerId: (key: string) => {
      const m = key.startsWith(prefix)
        ? /^worker:\{(\d{1,7})\}(?::horizon)?$/.exec(key.slice(prefix.length))
        : null;
      return m ? Number(m[1]) : undefined;
    },
    snowflakeLayout: `${prefix}snowflake:layout`,
    deployment: `${prefix}deployment:id`,
  });
}

/** SCAN MATCH treats * ? [ ] \ as glob syntax; a prefix must match itself literally. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
