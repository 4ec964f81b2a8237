/**
 * The primary's half of `/v1/status` under `WORKERS` (the worker's half is
 * worker-status.ts): a worker asks for the node's status; the primary asks every worker
 * that listens for its own, waits for the answers (each worker for a bounded time), and
 * answers with the node's identity and the list, sorted by worker id. A worker that does
 * not answer in time (busy starting, dying, being replaced) is left out of the list;
 * `workerCount` still says how many the node runs, so the page can say one is missing.
 */
import type { Worker } from 'node:cluster';
import type { NodeIdentity } from '../../http/node-identity.js';
import type { WorkerStatus } from '../../http/status.js';
import type { ClusterMessage } from './messages.js';

/** How long the primary waits for each worker's own status. */
const WORKER_ANSWER_MS = 2_000;

export interface StatusGathering {
  /** Handles a status message from `worker`; false when it is not one. */
  onMessage(worker: Worker, message: ClusterMessage): boolean;
}

/**
 * @param identity the node's (the primary's process)
 * @param workerCount `WORKERS`
 * @param serving the workers that listen now (only they can answer)
 */
export function statusGathering(
  identity: NodeIdentity,
  workerCount: number,
  serving: () => readonly Worker[],
): StatusGathering {
  const waiting = new Map<number, (status: WorkerStatus | undefined) => void>();
  let nextId = 0;

  const reply = (worker: Worker, m: ClusterMessage) => {
    if (worker.isConnected()) worker.send(m);
  };

  /** One worker's own status, or undefined when it did not give one in time. */
  const ask = (worker: Worker): Promise<WorkerStatus | undefined> =>
    new Promise((resolve) => {
      const id = nextId++;
      const done = (status: WorkerStatus | undefined) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(status);
      };
      const timer = setTimeout(() => done(undefined), WORKER_ANSWER_MS);
      waiting.set(id, done);
      if (!worker.isConnected()) done(undefined);
      else worker.send({ type: 'idalloc:worker-status?', id } satisfies ClusterMessage);
    });

  return {
    onMessage(worker, message) {
      if (message.type === 'idalloc:worker-status') {
        waiting.get(message.id)?.(message.status);
        return true;
      }
      if (message.type !== 'idalloc:status?') return false;
      const asked = message.id;
      Promise.all(serving().map(ask)).then(
        (answers) => {
          const workers = answers
            .filter((s): s is WorkerStatus => s !== undefined)
            .sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0));
          reply(worker, {
            type: 'idalloc:status',
            id: asked,
            view: { node: identity, workerCount, workers },
          });
        },
        (err: unknown) => reply(worker, { type: 'idalloc:status', id: asked, error: String(err) }),
      );
      return true;
    },
  };
}
