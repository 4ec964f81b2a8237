/**
 * The messages between the cluster primary (primary.ts) and its workers, over the
 * cluster's IPC channel.
 */
import type { NodeView, WorkerStatus } from '../../http/status.js';

export type ClusterMessage =
  /** Worker → primary: serving on `port`. */
  | { readonly type: 'idalloc:listening'; readonly port: number }
  /** Worker → primary: the node's metrics, please (answer with the same `id`). */
  | { readonly type: 'idalloc:metrics?'; readonly id: number }
  /** Primary → worker: the aggregated exposition text, or why there is none. */
  | {
      readonly type: 'idalloc:metrics';
      readonly id: number;
      readonly body?: string;
      readonly error?: string;
    }
  /** Worker → primary: the node's status, please (every worker's; same `id` back). */
  | { readonly type: 'idalloc:status?'; readonly id: number }
  /** Primary → worker: the node's identity and every worker that answered in time. */
  | {
      readonly type: 'idalloc:status';
      readonly id: number;
      readonly view?: NodeView;
      readonly error?: string;
    }
  /** Primary → worker: your own status, please (same `id` back). */
  | { readonly type: 'idalloc:worker-status?'; readonly id: number }
  /** Worker → primary: its own status, or why there is none. */
  | {
      readonly type: 'idalloc:worker-status';
      readonly id: number;
      readonly status?: WorkerStatus;
      readonly error?: string;
    };

/** True for the messages above (the channel also carries prom-client's and Node's own). */
export function isClusterMessage(m: unknown): m is ClusterMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('idalloc:')
  );
}
