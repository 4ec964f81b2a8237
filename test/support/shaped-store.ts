/**
 * An in-memory store of segment tags with shapes and region counts (issue 19), as the
 * stores will keep them: a counter per tag, grants that carry the tag's shape and
 * region count, and the tag's config for `getTag`. It lets the serving side (the
 * allocator facade, the HTTP routes, IdClient) be proved on shaped grants with a real
 * app on a real socket, whatever store holds the tags.
 */
import type { Server } from 'node:http';
import { pino } from 'pino';
import { createAllocator } from '../../src/allocator/index.js';
import type { IdAllocator } from '../../src/allocator/types.js';
import { ErrorCode, IdAllocError, tagNotFound } from '../../src/core/errors.js';
import type { HttpSettings } from '../../src/core/settings.js';
import { NO_REGION, type Region, type TagShape } from '../../src/core/shape.js';
import type {
  Grant,
  KeyedGrant,
  KeyedRequest,
  SegmentTagConfig,
  TagConfig,
} from '../../src/core/store-ports.js';
import { createApp } from '../../src/http/app.js';
import { ReadyState } from '../../src/http/ready.js';
import { createHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/observe/metrics/index.js';

export class ShapedTagStore {
  private readonly tags = new Map<string, SegmentTagConfig>();
  /** Every grant, as [tag, start, end]: what a grant log would show. */
  readonly grants: [string, bigint, bigint][] = [];

  add(name: string, shape: TagShape, regions = 1, step = 10): void {
    this.tags.set(name, {
      name,
      mode: 'segment',
      description: '',
      createdAt: 0,
      step,
      max: 2n ** 40n,
      gap: 0n,
      next: 1n,
      shape,
      regions,
    });
  }

  async allocate(tag: string, count: number, exact: boolean): Promise<Grant> {
    void exact;
    const t = this.tags.get(tag);
    if (t === undefined) throw tagNotFound(tag);
    const n = BigInt(count === 0 ? t.step : count);
    const start = t.next!;
    this.tags.set(tag, { ...t, next: start + n });
    this.grants.push([tag, start, start + n - 1n]);
    return {
      start,
      end: start + n - 1n,
      step: t.step,
      max: t.max,
      bumped: false,
      shape: t.shape,
      regions: t.regions,
    };
  }

  /** Idempotency-Key records by record name (never expiring here). */
  private readonly keyed = new Map<string, { params: string; grant: KeyedGrant }>();

  /** A grant recorded under a key, or the recorded one replayed (as the stores do). */
  async allocateKeyed(tag: string, req: KeyedRequest): Promise<KeyedGrant> {
    const name = `${tag}\n${req.record}`;
    const had = this.keyed.get(name);
    if (had !== undefined) {
      if (had.params !== req.params) {
        throw new IdAllocError(
          ErrorCode.IDEMPOTENCY_MISMATCH,
          `other parameters than ${req.params}`,
        );
      }
      return { ...had.grant, replay: true };
    }
    const grant = {
      ...(await this.allocate(tag, req.count, true)),
      region: req.region,
      replay: false,
    };
    this.keyed.set(name, { params: req.params, grant });
    return grant;
  }

  async raiseFloor(): Promise<void> {}

  async getTag(name: string): Promise<TagConfig | undefined> {
    return this.tags.get(name);
  }

  async listTags(): Promise<TagConfig[]> {
    return [...this.tags.values()];
  }

  async ping(): Promise<boolean> {
    return true;
  }
}

/** A real app (createApp) on 127.0.0.1:0 over an allocator on `store`. */
export interface ShapedService {
  readonly base: string;
  readonly allocator: IdAllocator;
  close(): Promise<void>;
}

export async function startShapedService(
  store: ShapedTagStore,
  opts: { region?: Region; http?: Partial<HttpSettings> } = {},
): Promise<ShapedService> {
  const region = opts.region ?? NO_REGION;
  const allocator = createAllocator({ store, region });
  const metrics = createMetrics({ defaultMetrics: false });
  const ready = new ReadyState({ allocator, metrics });
  const app = createApp({
    allocator,
    tags: store,
    metrics,
    config: {
      maxBatch: 1000,
      maxRange: 100_000,
      apiTokens: undefined,
      metricsPublic: true,
      ...opts.http,
    },
    logger: pino({ level: 'silent' }),
    ready,
    status: { storeKind: 'memory', region },
  });
  const server: Server = createHttpServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ready.markUp();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}`,
    allocator,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await allocator.close();
    },
  };
}
