import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Entry, SnapshotMetadata, StateMachine } from '@bunbase/raft';
import { ConflictError, InvalidArgumentError } from '../storage/errors.js';
import { Storage, type StorageOptions } from '../storage/storage.js';
import type { Transaction } from '../storage/transaction.js';
import { findConflict, pruneWritten, recordWrites } from './conflicts.js';
import { CorruptReplicationDataError, ReplicaFailedError } from './errors.js';
import { isReservedTree, readApplied, writeApplied } from './reserved.js';
import { packDirectory, snapshotAppliedIndex, unpackDirectory } from './snapshot-container.js';
import {
  INCOMING_DIR,
  recoverStoreDirectory,
  SNAPSHOT_TMP_DIR,
  STORE_DIR,
  swapInIncoming,
} from './store-directory.js';
import { decodeWriteSet, type WriteSet } from './write-set.js';

/**
 * The raft state machine of a replicated bundoc store. Each committed entry is a write set applied in
 * one storage transaction, together with the raft index it reached (so a restart resumes after it,
 * never re-applying) and the bookkeeping of conflict detection. Entries the log says conflict, or that
 * do not decode, change nothing but that index, on every member alike, and reject their proposal.
 * Snapshots are consistent backups of the store; restoring one swaps the store directory crash-safely.
 */
export class StoreStateMachine implements StateMachine<number> {
  readonly #root: string;
  readonly #options: StorageOptions;
  #store: Storage;
  #applied: number;
  #restoring: Promise<void> | undefined;
  #failed: ReplicaFailedError | undefined;
  /** Bumped when the store object is about to be replaced (transactions on the old one will fail). */
  generation = 0;
  /** Entries applied and snapshots restored since open (tests check how a member caught up). */
  appliedEntries = 0;
  restores = 0;

  private constructor(root: string, options: StorageOptions, store: Storage) {
    this.#root = root;
    this.#options = options;
    this.#store = store;
    this.#applied = StoreStateMachine.#appliedOf(store);
  }

  /** Opens (creating if needed) `<root>/store`, after finishing or undoing a swap a crash interrupted. */
  static async open(root: string, options: StorageOptions = {}): Promise<StoreStateMachine> {
    await fsp.mkdir(root, { recursive: true });
    await recoverStoreDirectory(root);
    const store = await Storage.open(path.join(root, STORE_DIR), options);
    return new StoreStateMachine(root, options, store);
  }

  static #appliedOf(store: Storage): number {
    const tx = store.begin({ readOnly: true });
    try {
      return readApplied(tx);
    } finally {
      tx.abort();
    }
  }

  /** The raft index a transaction of the local store sees as applied. */
  appliedIn(tx: Transaction): number {
    return readApplied(tx);
  }

  /** The raft index of the last entry the local store reflects. */
  get applied(): number {
    return this.#applied;
  }

  /** The local store, once any restore in progress is done. */
  async store(): Promise<Storage> {
    while (this.#restoring) await this.#restoring;
    if (this.#failed) throw this.#failed;
    return this.#store;
  }

  async apply(entry: Entry): Promise<number> {
    if (this.#failed) throw this.#failed;
    const index = entry.index;
    // the store already reflects it: a restart replays the raft log from its last snapshot
    if (index <= this.#applied) return index;
    let ws: WriteSet | undefined;
    let rejection: unknown;
    try {
      ws = decodeWriteSet(entry.data);
      const reserved = ws.trees.find((t) => isReservedTree(t.tree));
      if (reserved) throw new CorruptReplicationDataError(`write set writes reserved tree ${reserved.tree}`);
    } catch (err) {
      rejection = err;
    }
    try {
      let tx = this.#store.begin();
      try {
        if (ws && rejection === undefined) {
          const conflict = findConflict(tx, ws, index);
          if (conflict) rejection = new ConflictError(conflict.tree, conflict.detail);
          else rejection = applyWrites(tx, ws);
          if (rejection === undefined) recordWrites(tx, ws, index);
          else {
            // a write the store refused: nothing of the entry stays
            tx.abort();
            tx = this.#store.begin();
          }
        }
        pruneWritten(tx, index);
        writeApplied(tx, index);
        await tx.commit();
      } catch (err) {
        tx.abort();
        throw err;
      }
    } catch (err) {
      throw this.#fatal(err);
    }
    this.#applied = index;
    this.appliedEntries++;
    if (rejection !== undefined) throw rejection;
    return index;
  }

  /**
   * A consistent copy of the store: everything applied before the call, and possibly entries the
   * group applies while the backup starts (it goes on applying during a snapshot). The packed index is
   * read from the copy itself, so it is exact; raft may record the snapshot at the earlier index of
   * the call, and a member restoring it skips the entries its store already reflects.
   */
  async snapshot(): Promise<Uint8Array> {
    const store = await this.store();
    const tmp = path.join(this.#root, SNAPSHOT_TMP_DIR);
    await fsp.rm(tmp, { recursive: true, force: true });
    try {
      await store.backup(tmp);
      const copy = await Storage.open(tmp, this.#options);
      let applied: number;
      try {
        applied = StoreStateMachine.#appliedOf(copy);
      } finally {
        await copy.close();
      }
      return await packDirectory(tmp, applied);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Replaces the store by the snapshot's, unless the store already reflects it (at start, raft restores
   * its last snapshot and the store is usually ahead of it). The new store is unpacked and opened once
   * to check it before the old one is closed and swapped out.
   */
  async restore(data: Uint8Array, _metadata?: SnapshotMetadata): Promise<void> {
    if (this.#failed) throw this.#failed;
    const applied = snapshotAppliedIndex(data);
    if (applied <= this.#applied) return;
    while (this.#restoring) await this.#restoring;
    let done = () => {};
    this.#restoring = new Promise<void>((r) => {
      done = r;
    });
    try {
      const incoming = path.join(this.#root, INCOMING_DIR);
      await fsp.rm(incoming, { recursive: true, force: true });
      await unpackDirectory(data, incoming);
      const probe = await Storage.open(incoming, this.#options);
      const probed = StoreStateMachine.#appliedOf(probe);
      await probe.close();
      if (probed !== applied)
        throw new CorruptReplicationDataError(`store snapshot says index ${applied}, its store ${probed}`);
      this.generation++;
      await this.#store.close();
      try {
        await swapInIncoming(this.#root);
      } finally {
        // after a failed swap, the old store goes back in place (as at the next open after a crash)
        await recoverStoreDirectory(this.#root);
        this.#store = await Storage.open(path.join(this.#root, STORE_DIR), this.#options);
        this.#applied = StoreStateMachine.#appliedOf(this.#store);
      }
      this.restores++;
    } catch (err) {
      if (err instanceof CorruptReplicationDataError) throw err;
      throw this.#fatal(err);
    } finally {
      this.#restoring = undefined;
      done();
    }
  }

  async close(): Promise<void> {
    while (this.#restoring) await this.#restoring;
    await this.#store.close();
  }

  #fatal(err: unknown): ReplicaFailedError {
    // a ReplicaFailedError is fatal to the raft group (`fatal: true`): it stops and applies nothing more
    this.#failed ??= err instanceof ReplicaFailedError ? err : new ReplicaFailedError(err);
    return this.#failed;
  }
}

/** Buffers the entry's writes; an argument the store refuses (a forged entry) rejects the whole entry. */
function applyWrites(tx: Transaction, ws: WriteSet): unknown {
  try {
    for (const { tree, ops } of ws.trees) {
      for (const op of ops) {
        if (op.value === undefined) tx.delete(tree, op.key);
        else tx.put(tree, op.key, op.value);
      }
    }
    return undefined;
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err;
    throw err;
  }
}
