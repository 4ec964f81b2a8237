/**
 * `/v1/status` in a cluster worker: the whole node, not one worker. As with `/metrics`
 * (worker-metrics.ts), the worker asks the primary over IPC; the primary asks every
 * worker for its own status (primary-status.ts) and answers with the node's identity and
 * the list. So whichever worker a poll reaches, it answers the same node and the same
 * workers, each labelled with its worker id and pid.
 *
 * This side also answers the primary's asks with this worker's own status.
 */
import type { NodeView, StatusCluster, WorkerStatus } from '../../http/status.js';
import { primaryAsker } from './ask-primary.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';

/** Longer than the primary's own wait for its workers (primary-status.ts). */
const ANSWER_TIMEOUT_MS = 4_000;

type StatusAnswer = Extract<ClusterMessage, { type: 'idalloc:status' }>;

/** The {@link StatusCluster} of a cluster worker process. */
export function clusterWorkerStatus(): StatusCluster {
  let own: (() => Promise<WorkerStatus>) | undefined;
  const send = (m: ClusterMessage) => process.send?.(m) ?? false;

  process.on('message', (m: unknown) => {
    if (!isClusterMessage(m) || m.type !== 'idalloc:worker-status?') return;
    const id = m.id;
    if (own === undefined) {
      send({ type: 'idalloc:worker-status', id, error: 'not serving yet' });
      return;
    }
    own().then(
      (status) => send({ type: 'idalloc:worker-status', id, status }),
      (err: unknown) => send({ type: 'idalloc:worker-status', id, error: String(err) }),
    );
  });

  const gather = primaryAsker<StatusAnswer, NodeView>(
    'idalloc:status?',
    'idalloc:status',
    'status',
    ANSWER_TIMEOUT_MS,
    (m) => m.view,
  );

  return {
    offer(fn) {
      own = fn;
    },
    gather,
  };
}
