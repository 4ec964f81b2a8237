/**
 * Who a node is, as `/v1/status` and the status page name it: the id its grant lines
 * carry (`NODE_ID`, else hostname:pid of the process that runs the node — the cluster
 * primary under `WORKERS`), the host, the version and when it started. One value per
 * node: under `WORKERS` the primary's, so every worker answers the same identity.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { API_VERSION } from './openapi.js';

export interface NodeIdentity {
  /** `NODE_ID`, or `hostname:pid` when it is unset. */
  readonly id: string;
  readonly host: string;
  /** The package version. */
  readonly version: string;
  /** When the node's process started (Unix ms). */
  readonly startedAt: number;
}

/** This process's identity as a node; `nodeId` is `NODE_ID` when set. */
export function nodeIdentity(nodeId?: string): NodeIdentity {
  const host = hostname();
  return Object.freeze({
    id: nodeId ?? `${host}:${process.pid}`,
    host,
    version: API_VERSION,
    // When this process started: the same for every answer of the node.
    startedAt: Math.round(performance.timeOrigin),
  });
}
