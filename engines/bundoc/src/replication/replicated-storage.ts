import * as path from 'node:path';
import {
  DurableStorage,
  type DurableStorageOptions,
  type GroupStatus,
  type HostStorage,
  type NodeId,
  NotLeaderError,
  RaftGroup,
  type RaftGroupOptions,
  type Transport,
} from '@bunbase/raft';
import { ClosedError, ConflictError, InvalidArgumentError } from '../storage/errors.js';
import type { Storage, StorageOptions } from '../storage/storage.js';
import { CONFLICT_HORIZON } from './conflicts.js';
import { ReplicatedTransaction } from './replicated-transaction.js';
import { isReservedTree } from './reserved.js';
import { StoreStateMachine } from './state-machine.js';
import { RAFT_DIR } from './store-directory.js';
import { encodeWriteSet } from './write-set.js';

export interface ReplicatedStorageOptions {
  /** This member's raft id. */
  readonly id: NodeId;
  /** Founding voters, the same list on every founding member; omit when joining an existing group. */
  readonly peers?: readonly NodeId[];
  /** The member's directory: `store/` (bundoc) and `raft/` (the raft log) live in it. */
  readonly dir: string;
  readonly transport: Transport;
  /**
   * Options of the local store. `pageSize` and `encryptionKey` must be the same on every member
   * (snapshots are copies of the store's files). Durability defaults to 'normal': the raft log, fsynced
   * before anything is acknowledged, is what makes writes durable; a store that lost its unsynced tail
   * in a crash replays it from the log (or restores the last snapshot).
   */
  readonly storage?: StorageOptions;
  /** Raft log storage; default a DurableStorage in `<dir>/raft` with `raftStorageOptions`. */
  readonly raftStorage?: HostStorage;
  readonly raftStorageOptions?: DurableStorageOptions;
  readonly tickMs?: number;
  readonly raft?: RaftGroupOptions<number>['raft'];
  /** Snapshot the store every this many applied entries (0 never; default 10,000). */
  readonly snapshotEvery?: number;
  /** Entries kept behind a snapshot for followers that lag a little (default 1,000). */
  readonly keepEntries?: number;
  /**
   * How many entries a transaction's snapshot may lag behind its own entry before it is rejected as a
   * conflict without looking at keys (at most, and by default, CONFLICT_HORIZON).
   */
  readonly conflictWindow?: number;
  /** A fatal error: the member stopped (its raft group or its local store failed). */
  readonly onError?: (err: unknown) => void;
}

export interface ReplicatedStatus extends GroupStatus {
  /** The raft index of the last entry the local store reflects. */
  readonly storeApplied: number;
  readonly storeRestores: number;
  /** Entries this process applied to the store (a restart does not re-apply what the store has). */
  readonly storeEntriesApplied: number;
}

/**
 * A bundoc store replicated by raft. Every write transaction runs on the leader against a local
 * snapshot and is proposed as one log entry ({ writes, readIndex }); every member applies the entries
 * in log order, each in one storage transaction, and rejects the same ones as conflicts. Reads are
 * linearizable on the leader (ReadIndex), or explicitly stale on any member.
 */
export class ReplicatedStorage {
  readonly id: NodeId;
  /** The raft group (membership changes, leadership transfer, status). */
  readonly group: RaftGroup<number>;
  readonly #sm: StoreStateMachine;
  readonly #window: number;
  #failure: unknown;
  #closing: Promise<void> | undefined;

  private constructor(id: NodeId, group: RaftGroup<number>, sm: StoreStateMachine, window: number) {
    this.id = id;
    this.group = group;
    this.#sm = sm;
    this.#window = window;
  }

  static async open(options: ReplicatedStorageOptions): Promise<ReplicatedStorage> {
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    if (!Number.isInteger(options.id) || options.id <= 0)
      throw new InvalidArgumentError('id must be a positive integer');
    if (typeof options.dir !== 'string' || options.dir.length === 0)
      throw new InvalidArgumentError('dir must be a non-empty string');
    const window = options.conflictWindow ?? CONFLICT_HORIZON;
    if (!Number.isInteger(window) || window < 1 || window > CONFLICT_HORIZON)
      throw new InvalidArgumentError(`conflictWindow must be an integer in 1..${CONFLICT_HORIZON}`);
    const sm = await StoreStateMachine.open(options.dir, { durability: 'normal', ...options.storage });
    let ownRaft: HostStorage | undefined;
    try {
      if (!options.raftStorage)
        ownRaft = await DurableStorage.open(
          path.join(options.dir, RAFT_DIR),
          options.raftStorageOptions ?? {},
        );
      const raftStorage = options.raftStorage ?? (ownRaft as HostStorage);
      // entries reach the store only after this member's raft log holds them: a store ahead of the log
      // means the raft directory was lost or belongs to another store, and applying would skip entries
      const last = raftStorage.lastIndex();
      if (sm.applied > last) {
        throw new InvalidArgumentError(
          `the store reflects raft index ${sm.applied} but the raft log ends at ${last}: the raft directory was lost or belongs to another store`,
        );
      }
      let rs: ReplicatedStorage | undefined;
      const group = await RaftGroup.start<number>({
        id: options.id,
        ...(options.peers ? { peers: options.peers } : {}),
        storage: raftStorage,
        transport: options.transport,
        stateMachine: sm,
        ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
        ...(options.raft ? { raft: options.raft } : {}),
        ...(options.snapshotEvery !== undefined ? { snapshotEvery: options.snapshotEvery } : {}),
        ...(options.keepEntries !== undefined ? { keepEntries: options.keepEntries } : {}),
        onError: (err) => {
          if (rs) rs.#failure ??= err;
          options.onError?.(err);
        },
      });
      rs = new ReplicatedStorage(options.id, group, sm, window);
      return rs;
    } catch (err) {
      await ownRaft?.close().catch(() => {});
      await sm.close().catch(() => {});
      throw err;
    }
  }

  isLeader(): boolean {
    return this.group.isLeader();
  }

  /** The known leader (0: none). */
  leaderId(): NodeId {
    return this.group.status().leaderId;
  }

  status(): ReplicatedStatus {
    return {
      ...this.group.status(),
      storeApplied: this.#sm.applied,
      storeRestores: this.#sm.restores,
      storeEntriesApplied: this.#sm.appliedEntries,
    };
  }

  #assertLeader(): void {
    if (this.#failure) throw this.#failure;
    if (!this.group.isLeader()) throw new NotLeaderError(this.leaderId());
  }

  /**
   * Starts a write transaction on the leader (NotLeaderError elsewhere). By default it first waits for a
   * ReadIndex round, so its snapshot holds every write acknowledged before the call; `fresh: false`
   * skips that and reads what this leader has applied (writes are still checked for conflicts).
   */
  async begin(opts?: { fresh?: boolean }): Promise<ReplicatedTransaction> {
    checkFlag(opts, 'fresh');
    this.#assertLeader();
    if (opts?.fresh !== false) await this.group.read();
    const store = await this.#sm.store();
    const inner = store.begin();
    let readIndex: number;
    try {
      readIndex = this.#sm.appliedIn(inner);
    } catch (err) {
      inner.abort();
      throw err;
    }
    return new ReplicatedTransaction(inner, readIndex, async (ws) => {
      const data = encodeWriteSet({ ...ws, window: this.#window });
      return this.group.propose(data);
    });
  }

  /** Runs `fn` in a write transaction and commits it, retrying on ConflictError (default 5 retries). */
  async transaction<T>(
    fn: (tx: ReplicatedTransaction) => Promise<T> | T,
    opts?: { retries?: number; fresh?: boolean },
  ): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a function');
    checkFlag(opts, 'fresh');
    const retries = opts?.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 0)
      throw new InvalidArgumentError('retries must be an integer >= 0');
    for (let attempt = 0; ; attempt++) {
      const tx = await this.begin(opts?.fresh === undefined ? undefined : { fresh: opts.fresh });
      try {
        const result = await fn(tx);
        if (tx.state === 'open') await tx.commit();
        return result;
      } catch (err) {
        tx.abort();
        if (!(err instanceof ConflictError) || attempt >= retries) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 2 * (attempt + 1)));
      }
    }
  }

  /**
   * Reads in a read-only snapshot. On the leader (NotLeaderError elsewhere) it is linearizable: it
   * reflects every write acknowledged before the call. `stale: true` reads whatever this member has
   * applied, on any member (if a snapshot from the leader replaces the store meanwhile, `fn` runs again
   * on the new one).
   */
  async read<T>(fn: (tx: ReplicatedTransaction) => Promise<T> | T, opts?: { stale?: boolean }): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('read needs a function');
    checkFlag(opts, 'stale');
    if (opts?.stale === true) {
      if (this.#failure) throw this.#failure;
    } else {
      this.#assertLeader();
      await this.group.read();
    }
    for (let attempt = 0; ; attempt++) {
      const generation = this.#sm.generation;
      const store = await this.#sm.store();
      const inner = store.begin({ readOnly: true });
      const tx = new ReplicatedTransaction(inner, this.#sm.appliedIn(inner), undefined);
      try {
        return await fn(tx);
      } catch (err) {
        // a snapshot from the leader replaced the store under this read: read the new one
        if (err instanceof ClosedError && this.#sm.generation !== generation && attempt < 3) continue;
        throw err;
      } finally {
        tx.abort();
      }
    }
  }

  /** The user's trees in the local store (reserved ones hidden). */
  async trees(): Promise<string[]> {
    return (await this.#sm.store()).trees().filter((t) => !isReservedTree(t));
  }

  /** The member's local store, to inspect (tests, tools). Writing to it directly breaks replication. */
  localStore(): Promise<Storage> {
    return this.#sm.store();
  }

  /** Stops the raft group (transport and raft log closed), then closes the store. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.group.stop();
      await this.#sm.close();
    })();
    return this.#closing;
  }
}

/** Options objects are optional; a flag in one, when given, must be a boolean. */
function checkFlag(opts: unknown, flag: string): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError('options must be an object');
  const v = (opts as Record<string, unknown>)[flag];
  if (v !== undefined && typeof v !== 'boolean') throw new InvalidArgumentError(`${flag} must be a boolean`);
}
