/**
 * Snowflake worker leases and horizons in `tag export` / `tag import` on Redis
 * (docs/design.md §6 "Moving between stores"): worker-export-2.lua and
 * worker-import-2.lua, one call per worker ID on the slot of its hash tag (a Cluster
 * routes each by its keys); the release of an imported hold is worker-release-2.lua with
 * the imported token.
 */
import {
  IMPORTED_HOLD_TOKEN,
  type WorkerImportRequest,
  type WorkerImportResult,
  type WorkerRecord,
  type WorkerState,
  type WorkerTransfer,
} from '../../core/lease-port.js';
import type { RedisLike } from './client.js';
import type { Keys } from './keys.js';
import { storeFailure } from './replies.js';
import type { ScriptReply } from './scripts.js';
import { RedisWorkerLeaseStore } from './worker-lease.js';
import { workerExportReply, workerImportReply } from './worker-replies.js';

/** How many worker IDs are read at once. */
const READ_BATCH = 64;

export class RedisWorkerTransfer implements WorkerTransfer {
  constructor(
    private readonly client: RedisLike,
    private readonly keys: Keys,
    /** Every worker ID with a lease or a horizon key (a scan of every master). */
    private readonly workerIds: () => Promise<number[]>,
  ) {}

  async exportWorkers(now: number, marginMs: number): Promise<WorkerState[]> {
    const ids = await this.workerIds();
    const out: WorkerState[] = [];
    for (let i = 0; i < ids.length; i += READ_BATCH) {
      const batch = ids.slice(i, i + READ_BATCH);
      let replies: ScriptReply[];
      try {
        replies = await Promise.all(
          batch.map((id) =>
            this.client.idallocWorkerExport(
              this.keys.worker(id),
              this.keys.workerHorizon(id),
              String(Math.floor(now)),
              String(marginMs),
              IMPORTED_HOLD_TOKEN,
            ),
          ),
        );
      } catch (err) {
        throw storeFailure(err, 'an export of snowflake worker IDs');
      }
      batch.forEach((id, k) => {
        const state = workerExportReply(id, replies[k]!);
        if (state) out.push(state);
      });
    }
    return out;
  }

  async importWorker(record: WorkerRecord, req: WorkerImportRequest): Promise<WorkerImportResult> {
    let reply: ScriptReply;
    try {
      reply = await this.client.idallocWorkerImport(
        this.keys.worker(record.id),
        this.keys.workerHorizon(record.id),
        String(record.horizon),
        record.holder ?? '',
        String(Math.floor(req.now)),
        String(req.holdMs),
        String(req.marginMs),
        IMPORTED_HOLD_TOKEN,
        req.dryRun ? '1' : '0',
      );
    } catch (err) {
      throw storeFailure(err, `the import of snowflake worker ${record.id}`);
    }
    return workerImportReply(record.id, reply);
  }

  /**
   * A field `moved` in the horizon hash of every worker ID of the layout: worker-claim-2
   * reads it on its own keys, so the refusal is atomic with the claim on any topology (a
   * Cluster too: one key per slot would not be). Renew and release keep the field.
   */
  async markMoved(workerCount: number): Promise<void> {
    const at = new Date().toISOString();
    for (let i = 0; i < workerCount; i += READ_BATCH) {
      const ids = Array.from({ length: Math.min(READ_BATCH, workerCount - i) }, (_, k) => i + k);
      try {
        await Promise.all(
          ids.map((id) => this.client.hset(this.keys.workerHorizon(id), 'moved', at)),
        );
      } catch (err) {
        throw storeFailure(err, 'the mark of the store as moved');
      }
    }
  }

  releaseImported(id: number, settle: number): Promise<'released' | 'lost' | 'damaged'> {
    return new RedisWorkerLeaseStore(this.client, this.keys).release(
      id,
      IMPORTED_HOLD_TOKEN,
      settle,
    );
  }
}
