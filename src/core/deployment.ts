/**
 * A deployment's identity (docs/design.md §8.8): a random id stored in the store itself —
 * Redis: the key `{prefix}deployment:id`; the embedded store: a row of its `meta` table —
 * created the first time a node or the admin script asks for it. Every node of the
 * deployment reads the same id whatever address it reaches the store under, and
 * `tag import` adopts the exported id, so a store move keeps it. Grant lines name it as
 * their `deployment`, and the audit checks each deployment of a log apart.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, IdAllocError } from './errors.js';

/** What a deployment id looks like as stored: `d-` and 16 hex digits when created here. */
export const DEPLOYMENT_ID_PATTERN = /^[\x21-\x7e]{1,64}$/;

/**
 * The stored id, checked: a value hand-edited into something else is refused with the
 * place it was read from, never logged as a deployment.
 * @throws IdAllocError INTERNAL naming `where` and the rule
 */
export function checkedDeploymentId(value: unknown, where: string): string {
  if (typeof value === 'string' && DEPLOYMENT_ID_PATTERN.test(value)) return value;
  throw new IdAllocError(
    ErrorCode.INTERNAL,
    `${where} holds ${JSON.stringify(value)?.slice(0, 80) ?? 'nothing'}, not a deployment id: expected 1 to 64 printable ASCII characters without spaces (d- and 16 hex digits as created); delete it to have a new one created, or 'tag import' the latest export`,
  );
}

/** A new deployment id: `d-` and 16 random hex digits. */
export function newDeploymentId(): string {
  return `d-${randomBytes(8).toString('hex')}`;
}

/** A store's deployment identity. */
export interface DeploymentIdentity {
  /**
   * The id stored in the store, created (if none is yet) in one atomic step, so that
   * nodes starting together agree.
   * @throws IdAllocError UNAVAILABLE when the store cannot be read or written, or INTERNAL
   *   when the stored value is not an id
   */
  deploymentId(): Promise<string>;
  /**
   * Stores `id` as the deployment's id (`tag import` adopts the exported one); with
   * `dryRun` writes nothing. @returns the id stored before, or undefined for none
   */
  adoptDeploymentId(id: string, dryRun: boolean): Promise<string | undefined>;
}
