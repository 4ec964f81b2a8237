/**
 * A cluster worker's questions to the primary over IPC: `/metrics` (worker-metrics.ts)
 * and `/v1/status` (worker-status.ts) each ask for the node's answer and wait for it
 * under a time limit. One mechanism for both: a numbered question, the answer matched
 * by its `id`, and every way it can fail turned into a 503 naming what was asked for.
 */
import { unavailable } from '../../core/errors.js';
import { isClusterMessage, type ClusterMessage } from './messages.js';

/** The answers a worker waits for; each carries the question's `id` and, failing, `error`. */
type Answer = Extract<ClusterMessage, { type: 'idalloc:metrics' | 'idalloc:status' }>;
type Question = Extract<ClusterMessage, { type: 'idalloc:metrics?' | 'idalloc:status?' }>;

/**
 * Asks the primary `question` and resolves with what `value` finds in its answer.
 * @param what the thing asked for, as the refusals name it ("metrics", "status")
 * @returns ask: rejects with UNAVAILABLE when the primary is gone, is late, or answers
 *   with an error
 */
export function primaryAsker<A extends Answer, T>(
  question: Question['type'],
  answer: A['type'],
  what: string,
  timeoutMs: number,
  value: (m: A) => T | undefined,
): () => Promise<T> {
  const waiting = new Map<number, (m: A) => void>();
  let nextId = 0;
  process.on('message', (m: unknown) => {
    if (isClusterMessage(m) && m.type === answer) waiting.get((m as A).id)?.(m as A);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const settle = () => {
        clearTimeout(timer);
        waiting.delete(id);
      };
      const timer = setTimeout(() => {
        settle();
        reject(unavailable(`the cluster primary did not answer with the ${what} in time`, 1));
      }, timeoutMs);
      waiting.set(id, (m) => {
        settle();
        const v = value(m);
        if (v !== undefined) resolve(v);
        else
          reject(
            unavailable(`the node's ${what} could not be gathered: ${m.error ?? 'no answer'}`, 1),
          );
      });
      const ask = { type: question, id } as ClusterMessage;
      if (!process.send?.(ask)) {
        settle();
        reject(unavailable('the cluster primary is gone', 1));
      }
    });
}
