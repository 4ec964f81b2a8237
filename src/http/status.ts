/**
 * The live status of this node: `GET /` (the status page, public, no data in it) and
 * `GET /v1/status` (the JSON it polls, behind the bearer token like every `/v1` route).
 *
 * The JSON is built from memory only (the allocator's buffers, the worker lease, the
 * metrics' store gauges, {@link TagActivity}), plus a readiness check reused for up to
 * a second, so any number of open pages costs the store at most one ping a second.
 *
 * A node is every process serving its port: under `WORKERS` each worker has its own
 * buffers and lease, so an answer lists every worker (`workers`, gathered through the
 * cluster primary as `/metrics` is: {@link StatusCluster}) and names the node (`node`).
 * The top-level fields stay the answering worker's own, as they were before.
 */
import type { Express } from 'express';
import type { Gauge, Registry } from 'prom-client';
import type { TagActivity } from '../observe/activity.js';
import type { Readiness } from '../allocator/types.js';
import type { TagMode } from '../core/store-ports.js';
import { JSON_TYPE, sendOk, type RouteContext } from './context.js';
import { ROUTES } from './routes.js';
import { stateJson } from './tags.js';
import { STATUS_PAGE, STATUS_PAGE_HEADERS } from './status-page.js';
import { readQuery } from './validate.js';
import { nodeIdentity, type NodeIdentity } from './node-identity.js';
import { NO_REGION, publicShape, regionText, type Region } from '../core/shape.js';

/** The most tags one status answer lists (busiest first); `tagsServed` counts them all. */
export const STATUS_MAX_TAGS = 200;
/** How long one readiness check answers every status request. */
const CHECK_REUSE_MS = 1000;

/** One worker's own status: its entry in `workers`, and the top level of its answers. */
export interface WorkerStatus {
  /** The cluster worker's id (1, 2, …); null when the node is one process (no `WORKERS`). */
  readonly worker: number | null;
  readonly pid: number;
  readonly startedAt: string | null;
  readonly ready: { readonly ready: boolean; readonly reason: string | null };
  readonly store: { readonly kind: string; readonly up: boolean; readonly durable: boolean };
  readonly snowflake: {
    readonly workerId: number | null;
    readonly pinned: boolean;
    readonly floor: string | null;
    readonly horizon: string | null;
    readonly ready: boolean;
    readonly reason: string | null;
  } | null;
  readonly tagsServed: number;
  readonly tags: readonly StatusTag[];
}

/** Every worker of the node, as the cluster primary gathered them. */
export interface NodeView {
  readonly node: NodeIdentity;
  /** How many workers the node runs (`WORKERS`); `workers` lacks those that did not answer. */
  readonly workerCount: number;
  readonly workers: readonly WorkerStatus[];
}

/**
 * A node of several processes (service/cluster/): this worker offers its own status to
 * the others, and gathers every worker's for its answers.
 */
export interface StatusCluster {
  offer(own: () => Promise<WorkerStatus>): void;
  /** @throws IdAllocError (503) when the primary does not answer */
  gather(): Promise<NodeView>;
}

/** What the status needs beyond the route context; all optional for embedders. */
export interface StatusDeps {
  /** `redis`, `sentinel`, `cluster` or `embedded`. */
  readonly storeKind: string;
  /** Per-tag IDs issued and IDs/s (fed as an allocator observer). */
  readonly activity?: TagActivity;
  /** The node's snowflake generator, when it serves snowflake tags. */
  readonly snowflake?: {
    readonly fence:
      | {
          readonly workerId: number;
          readonly floor: number;
          readonly horizon: number;
          readonly pinned: boolean;
        }
      | undefined;
    readiness(): Readiness;
  };
  /** When the process started (Unix ms). @default when the app was built */
  readonly startedAt?: number;
  /** Who the node is. @default this process, unnamed (hostname:pid) */
  readonly node?: NodeIdentity;
  /** This process's cluster worker id, under `WORKERS`. */
  readonly worker?: number;
  /** Under `WORKERS`: how the other workers' status is gathered. */
  readonly cluster?: StatusCluster;
  /** The node's region (`REGION`). @default 0/1 */
  readonly region?: Region;
}

const NONE = [] as const;

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();

/** The value of an unlabelled gauge of the registry, or undefined when it has none. */
async function gaugeValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name) as Gauge | undefined;
  const values = (await metric?.get())?.values;
  return values && values.length > 0 ? values[0]!.value : undefined;
}

/** Registers `GET /` and `GET /v1/status` on `app`. */
export function statusRoutes(app: Express, ctx: RouteContext, deps: StatusDeps): void {
  const own = workerStatus(ctx, deps);
  const node = deps.node ?? nodeIdentity();
  deps.cluster?.offer(own);
  // One process: the node is this process alone.
  const gather = deps.cluster
    ? () => deps.cluster!.gather()
    : async (): Promise<NodeView> => ({ node, workerCount: 1, workers: [await own()] });

  app.get(ROUTES.statusPage.pattern, (req, res) => {
    readQuery(req, NONE);
    for (const [name, value] of Object.entries(STATUS_PAGE_HEADERS)) res.setHeader(name, value);
    sendOk(res, 'text/html; charset=utf-8', STATUS_PAGE);
  });

  app.get(ROUTES.status.pattern, ctx.auth, async (req, res) => {
    readQuery(req, NONE);
    const [mine, view] = await Promise.all([own(), gather()]);
    // The top level is the answering worker's (as before workers were listed), for
    // clients that read it; `node` and `workers` are the whole node.
    const body = {
      time: new Date().toISOString(),
      ...mine,
      node: {
        id: view.node.id,
        host: view.node.host,
        region: regionText(deps.region ?? NO_REGION),
        version: view.node.version,
        startedAt: iso(view.node.startedAt),
        workers: view.workerCount,
      },
      workers: view.workers,
    };
    sendOk(res, JSON_TYPE, JSON.stringify(body));
  });
}

/** This process's own status, from memory and a readiness check reused for a second. */
function workerStatus(ctx: RouteContext, deps: StatusDeps): () => Promise<WorkerStatus> {
  const startedAt = deps.startedAt ?? Date.now();
  let lastCheck: { at: number; answer: Promise<Readiness> } | undefined;
  const readiness = () => {
    const now = Date.now();
    if (!lastCheck || now - lastCheck.at >= CHECK_REUSE_MS) {
      lastCheck = { at: now, answer: ctx.ready.check() };
    }
    return lastCheck.answer;
  };
  return async () => {
    const ready = await readiness();
    const registry = ctx.metrics.registry;
    const [up, durable] = await Promise.all([
      gaugeValue(registry, 'idalloc_store_up'),
      gaugeValue(registry, 'idalloc_store_durable'),
    ]);
    const tags = tagsJson(ctx, deps.activity);
    const fence = deps.snowflake?.fence;
    const flake = deps.snowflake?.readiness();
    return {
      worker: deps.worker ?? null,
      pid: process.pid,
      startedAt: iso(startedAt),
      ready: { ready: ready.ready, reason: ready.reason ?? null, serving: ready.serving ?? null },
      store: { kind: deps.storeKind, up: up === 1, durable: durable === 1 },
      snowflake: deps.snowflake
        ? {
            workerId: fence?.workerId ?? null,
            pinned: fence?.pinned ?? false,
            floor: fence && !fence.pinned ? iso(fence.floor) : null,
            horizon: fence && !fence.pinned ? iso(fence.horizon) : null,
            ready: flake?.ready ?? false,
            reason: flake?.reason ?? null,
          }
        : null,
      tagsServed: tags.length,
      tags: tags.slice(0, STATUS_MAX_TAGS),
    };
  };
}

type StatusTag = ReturnType<typeof tagsJson>[number];

/** Every tag this node serves, busiest first, then by name. */
function tagsJson(ctx: RouteContext, activity: TagActivity | undefined) {
  const { allocator } = ctx;
  const names = new Set([...allocator.segmentTags(), ...(activity?.tagNames() ?? [])]);
  const out = [...names].map((name) => {
    const act = activity?.view(name);
    const state = allocator.segmentState(name);
    const mode: TagMode = allocator.modeOf(name) ?? act?.mode ?? (state ? 'segment' : 'snowflake');
    const s = state ? stateJson(state) : undefined;
    const remaining = state
      ? ((state.current?.remaining ?? 0n) + (state.next?.remaining ?? 0n)).toString()
      : null;
    const shaped = allocator.shapeOf(name);
    return {
      name,
      mode,
      // As the last grant said; null before one (and for snowflake tags). Never the key.
      shape: shaped ? publicShape(shaped.shape) : null,
      regions: shaped?.regions ?? null,
      issued: act?.issued ?? 0,
      idsPerSecond: act?.idsPerSecond ?? 0,
      remaining,
      step: s?.step ?? null,
      configuredStep: s?.configuredStep ?? null,
      current: s?.current ?? null,
      next: s?.next ?? null,
      nextReady: s?.nextReady ?? null,
      fetching: s?.fetching ?? null,
      lastFetchAt: s?.lastFetchAt ?? null,
    };
  });
  out.sort((a, b) => b.idsPerSecond - a.idsPerSecond || (a.name < b.name ? -1 : 1));
  return out;
}
