/**
 * The snowflake series, read by the operator of a node that issues snowflake IDs: the
 * worker ID it holds (-1 for none: it cannot issue, an alert), and how often the clock
 * moved backwards while issuing (waited it out, or refused).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AllocatorObserver } from '../../allocator/types.js';

export interface SnowflakeSeries {
  readonly observer: Pick<AllocatorObserver, 'clockBackwards'>;
  /** Where the worker ID gauge is read at scrape time (undefined: none held, shown as -1). */
  watchSnowflakeWorker(workerId: () => number | undefined): void;
}

export function snowflakeSeries(registry: Registry): SnowflakeSeries {
  let heldWorker: () => number | undefined = () => undefined;
  new Gauge({
    name: 'idalloc_snowflake_worker_id',
    help: 'The snowflake worker ID this node holds; -1 while it holds none.',
    // WORKERS>1: -1 when any worker holds none (each holds its own).
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.set(heldWorker() ?? -1);
    },
  });
  const backwards = new Counter({
    name: 'idalloc_snowflake_clock_backwards_total',
    help: 'Times the clock moved backwards while issuing snowflake IDs, by outcome (waited, refused).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Both outcomes exist from the start: an alert on them sees 0, not a missing series.
  for (const outcome of ['waited', 'refused'] as const) backwards.inc({ outcome }, 0);
  return {
    observer: { clockBackwards: (outcome) => backwards.inc({ outcome }) },
    watchSnowflakeWorker(workerId) {
      heldWorker = workerId;
    },
  };
}
