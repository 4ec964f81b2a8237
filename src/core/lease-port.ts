/**
 * What the worker lease needs of a store (docs/design.md §6): atomic claim, renew and release of
 * one worker ID each, and a read-only look at many. Redis implements it in
 * store/redis/worker-lease.ts with the worker-*-2.lua scripts.
 */

/** A worker ID as a node choosing one sees it. */
export type WorkerLook =
  | { readonly id: number; readonly state: 'held' }
  | { readonly id: number; readonly state: 'damaged' }
  /** `floor`: the first timestamp (Unix ms) a claim would get now. */
  | { readonly id: number; readonly state: 'free'; readonly floor: number };

export interface ClaimRequest {
  readonly token: string;
  readonly leaseMs: number;
  /** The claimant's clock, Unix ms. */
  readonly now: number;
  /** The new horizon is at least now + aheadMs. */
  readonly aheadMs: number;
  /** Added to the floor when the stored horizon may have lost raises. */
  readonly marginMs: number;
  /** Refuse (`fenced`) when the floor lies more than this after now. */
  readonly maxWaitMs: number;
  /**
   * The claimant's snowflake layout (`layoutFingerprint`). A store that records layouts
   * records it when it holds none (a store that lost its record gets it back from the
   * first claim), and refuses the claim (`layout`) when it records another one.
   */
  readonly layout?: string;
}

export type ClaimOutcome =
  | {
      readonly kind: 'claimed';
      /** The first timestamp the holder may use (Unix ms). */
      readonly floor: number;
      /** The highest timestamp it may use until it renews. */
      readonly horizon: number;
      /** True when the incarnation margin was added to the floor. */
      readonly margin: boolean;
      /** The store incarnation that confirmed it (Redis run_id), for the grant log. */
      readonly incarnation?: string;
    }
  /** moved: the store is marked moved (`tag export --move`): it grants no new lease. */
  | { readonly kind: 'taken' | 'fenced' | 'damaged' | 'moved' }
  /** The store records another snowflake layout, `recorded`: nothing is held. */
  | { readonly kind: 'layout'; readonly recorded: string };

export interface RenewRequest {
  readonly token: string;
  readonly leaseMs: number;
  readonly now: number;
  /** Raise the horizon to at least this (Unix ms). */
  readonly target: number;
  readonly marginMs: number;
  /**
   * The first timestamp the holder uses now (its claim's floor, or the last re-fence it
   * received). A store floor above it — a re-fence whose answer the holder never used,
   * say the replication ack after it failed — is handed back as the renewal's floor.
   */
  readonly floor: number;
  /** As a claim's: recorded when the store holds none; another one ends the lease. */
  readonly layout?: string;
}

export type RenewOutcome =
  | {
      readonly kind: 'renewed';
      readonly horizon: number;
      /**
       * Set when the store's server changed, or the store holds a floor above the
       * holder's (see RenewRequest.floor): the holder starts again from here.
       */
      readonly floor: number | undefined;
      /** The store incarnation that confirmed it (Redis run_id), for the grant log. */
      readonly incarnation?: string;
    }
  | { readonly kind: 'lost' | 'damaged' }
  /** The store records another snowflake layout: the lease is given back. */
  | { readonly kind: 'layout'; readonly recorded: string };

/**
 * Where leases and horizons live (Redis: store/redis/worker-lease.ts). Each call is
 * atomic in the store; a failure to reach it rejects (IdAllocError UNAVAILABLE).
 */
export interface WorkerLeaseStore {
  /** Reads worker IDs without changing them (a hint: claim decides). */
  inspect(ids: readonly number[], now: number, marginMs: number): Promise<WorkerLook[]>;
  /** Leases a free worker ID and fences it: SET NX PX, horizon raised above the floor. */
  claim(workerId: number, req: ClaimRequest): Promise<ClaimOutcome>;
  /** Compare-and-expire, raising the horizon. */
  renew(workerId: number, req: RenewRequest): Promise<RenewOutcome>;
  /**
   * Compare-and-delete; the horizon settles at `settle` (the highest timestamp used),
   * never below what earlier holders could use.
   */
  release(
    workerId: number,
    token: string,
    settle: number,
  ): Promise<'released' | 'lost' | 'damaged'>;
  /**
   * False once the store the leases live in is gone for this process — the embedded
   * store's file deleted or replaced: another process may then lease the same worker ID
   * from a new file. Cheap and synchronous: the generator asks once per millisecond it
   * mints in. Omitted by stores that cannot lose themselves so (Redis).
   */
  usable?(): boolean;
}

/**
 * A worker-lease store opened for one generator, with what closes it: on Redis its own
 * connection (renewals must not queue behind admin work), on the embedded store the
 * store's file (closing the handle then closes nothing).
 */
export interface WorkerLeaseHandle {
  readonly leases: WorkerLeaseStore;
  close(): Promise<void>;
}

/**
 * The token of an imported hold: `tag import` leases, under it, every worker ID a node of
 * the exported store held at the export (docs/design.md §6 "Moving between stores"). No
 * node presents it (nodes use random UUIDs); `idalloc-admin worker release-imported` does.
 */
export const IMPORTED_HOLD_TOKEN = 'imported-hold';

/** A snowflake worker ID as `tag export` carries it to another store. */
export interface WorkerRecord {
  readonly id: number;
  /**
   * The highest timestamp (Unix ms) a holder of the ID may have used, as a claim on the
   * exported store would see it: a new holder starts above it.
   */
  readonly horizon: number;
  /**
   * Set when its lease was held at the export: a short fingerprint of the holder's token
   * (never the token), so that an import onto the same store can tell that holder's own
   * lease from another node's.
   */
  readonly holder?: string;
}

/** A worker ID as the exporting store holds it. */
export interface WorkerState extends WorkerRecord {
  /** Held by an imported hold (not by a node of this store). */
  readonly imported: boolean;
}

export interface WorkerImportRequest {
  /** The importer's clock, Unix ms. */
  readonly now: number;
  /** How long an imported hold lasts unless released. */
  readonly holdMs: number;
  /** As a claim's: added where this store's own horizon may lack raises. */
  readonly marginMs: number;
  readonly dryRun: boolean;
}

/**
 * held: the ID is now held for the exported store's node until `holdUntil`, and no
 * claim starts below `horizon`; kept: its exporting holder still holds it here (an
 * import onto the same store); raised / unchanged: a free ID's horizon; conflict: a
 * node of this store holds an ID the export says was held too — left alone.
 */
export interface WorkerImportResult {
  readonly outcome: 'held' | 'kept' | 'raised' | 'unchanged' | 'conflict';
  /** The horizon afterwards (what a dry run would leave). */
  readonly horizon: number;
}

/** Export and import of worker leases and horizons (`tag export` / `tag import`). */
export interface WorkerTransfer {
  /** Every worker ID the store has a lease or a horizon for, by ID. */
  exportWorkers(now: number, marginMs: number): Promise<WorkerState[]>;
  /** One worker ID, atomically: nothing is lowered, a live lease is never taken over. */
  importWorker(record: WorkerRecord, req: WorkerImportRequest): Promise<WorkerImportResult>;
  /**
   * Ends an imported hold: the horizon settles at `settle` (never below the hold's
   * floor), and the ID is free. 'lost' when it is not (or no longer) an imported hold.
   */
  releaseImported(id: number, settle: number): Promise<'released' | 'lost' | 'damaged'>;
  /**
   * Marks the store moved (`tag export --move`, docs/design.md §6 "Moving between
   * stores"): from then on every claim of the first `workerCount` worker IDs is refused
   * (`moved`), atomically with the claim; renewals and releases of held leases go on.
   * Idempotent; never undone by idalloc.
   */
  markMoved(workerCount: number): Promise<void>;
}
