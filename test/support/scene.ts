/**
 * Everything one partition scenario started, so that it is all stopped in one place —
 * from the test's `afterAll`, after a failure too: service nodes, stores, Redis
 * processes, and last the network (which also kills anything still running in its
 * namespaces).
 */
import type { Network } from './netns.js';
import type { RedisServer } from './redis-server.js';
import type { ServiceProcess } from './service-process.js';

interface Closable {
  close(): Promise<void>;
}

export class Scene {
  net: Network | undefined;
  readonly services: ServiceProcess[] = [];
  readonly servers: RedisServer[] = [];
  readonly stores: Closable[] = [];
  readonly others: (() => Promise<void> | void)[] = [];

  async dispose(): Promise<void> {
    await Promise.allSettled(this.services.map((s) => s.dispose()));
    await Promise.allSettled(this.stores.map((s) => s.close()));
    await Promise.allSettled(this.others.map(async (f) => f()));
    await Promise.allSettled(this.servers.map((s) => s.dispose()));
    await this.net?.dispose();
  }
}
