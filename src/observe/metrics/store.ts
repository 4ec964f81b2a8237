/**
 * The store's health, read by the operator's alerts: whether the store answered the last
 * readiness check, whether the start-up check found it durable (docs/design.md §8.5), and
 * grants refused because the store went backwards (§8.4) — each a page, not a dashboard.
 *
 * The regressions counter has a tag label (which tag's counter was lowered) but belongs
 * here: what it says is that the store lost writes, not how the tag is doing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AllocatorObserver } from '../../allocator/types.js';
import type { TagLabeller } from './labels.js';

export interface StoreSeries {
  readonly observer: Pick<AllocatorObserver, 'storeRegression'>;
  setStoreUp(up: boolean): void;
  setStoreDurable(durable: boolean): void;
}

/** The store series; up and durable start at 0 until a check says otherwise. */
export function storeSeries(registry: Registry, tags: TagLabeller): StoreSeries {
  const regressions = new Counter({
    name: 'idalloc_store_regressions_total',
    help: 'Segments refused because the store granted IDs at or below ones it granted before.',
    labelNames: ['tag'] as const,
    registers: [registry],
  });
  const storeUp = new Gauge({
    name: 'idalloc_store_up',
    help: 'Whether the store answered the last readiness check (1) or not (0).',
    // WORKERS>1: 0 when any worker's store is down.
    aggregator: 'min',
    registers: [registry],
  });
  const storeDurable = new Gauge({
    name: 'idalloc_store_durable',
    help: 'Whether the start-up durability check found a store that cannot lose acknowledged writes.',
    // WORKERS>1: 0 when any worker found the store not durable.
    aggregator: 'min',
    registers: [registry],
  });
  storeUp.set(0);
  storeDurable.set(0);
  return {
    // A regression needs an earlier grant: the tag exists.
    observer: { storeRegression: (tag) => regressions.inc({ tag: tags.served(tag) }) },
    setStoreUp: (up) => storeUp.set(up ? 1 : 0),
    setStoreDurable: (durable) => storeDurable.set(durable ? 1 : 0),
  };
}
