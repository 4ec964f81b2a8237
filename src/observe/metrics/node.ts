/**
 * The node's own health, read by the operator and the balancer's owner: whether this node
 * was ready at its last readiness check (`/readyz`, the 5 s poll): up, not draining, and
 * able to serve IDs in some way (docs/fleet-readiness.md). `idalloc_store_up` (store.ts)
 * says whether the shared store answers; this says whether the node serves anyway.
 */
import { Gauge, type Registry } from 'prom-client';

export interface NodeSeries {
  setReady(ready: boolean): void;
}

/** The node series; ready starts at 0 until a check says otherwise. */
export function nodeSeries(registry: Registry): NodeSeries {
  const ready = new Gauge({
    name: 'idalloc_ready',
    help: 'Whether this node was ready at the last readiness check (1) or not (0): starting, draining, or able to serve nothing.',
    // WORKERS>1: 0 when any worker is not ready (a balancer may route to that one).
    aggregator: 'min',
    registers: [registry],
  });
  ready.set(0);
  return { setReady: (r) => ready.set(r ? 1 : 0) };
}
