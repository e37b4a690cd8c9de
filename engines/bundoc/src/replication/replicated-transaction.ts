import { ClosedError } from '../storage/errors.js';
import { keyString } from '../storage/sorted-keys.js';
import type { Transaction } from '../storage/transaction.js';
import type { RangeOptions } from '../storage/validate.js';
import { assertUserTree } from './reserved.js';
import type { WriteOp, WriteSet } from './write-set.js';

/** Proposes a write set through raft; resolves with the log index it committed at. */
export type Proposer = (ws: Omit<WriteSet, 'window'>) => Promise<number>;

/**
 * A transaction of a replicated store, run on the leader. Reads see a local snapshot (as of raft index
 * `readIndex`) plus this transaction's writes; writes are recorded, and `commit()` proposes them as one
 * raft entry that every member applies, or rejects with ConflictError if an entry after `readIndex`
 * wrote one of the same keys (first committer wins, as in Storage). Read-only ones (`read()`) only read.
 */
export class ReplicatedTransaction {
  /** The raft index the snapshot reflects. */
  readonly readIndex: number;
  readonly readOnly: boolean;
  readonly #inner: Transaction;
  readonly #propose: Proposer | undefined;
  readonly #writes = new Map<string, Map<string, WriteOp>>();
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';

  /** `inner` is a local storage transaction used for reads and as the overlay of own writes; never committed. */
  constructor(inner: Transaction, readIndex: number, propose: Proposer | undefined) {
    this.#inner = inner;
    this.readIndex = readIndex;
    this.#propose = propose;
    this.readOnly = propose === undefined;
  }

  get state(): 'open' | 'committing' | 'committed' | 'aborted' {
    return this.#state;
  }

  get(tree: string, key: Uint8Array): Uint8Array | undefined {
    assertUserTree(tree);
    return this.#inner.get(tree, key);
  }

  range(tree: string, opts?: RangeOptions): Iterable<[Uint8Array, Uint8Array]> {
    assertUserTree(tree);
    return this.#inner.range(tree, opts);
  }

  put(tree: string, key: Uint8Array, value: Uint8Array): void {
    assertUserTree(tree);
    this.#inner.put(tree, key, value); // validates, and makes later reads see the write
    this.#record(tree, key, value);
  }

  delete(tree: string, key: Uint8Array): boolean {
    assertUserTree(tree);
    const existed = this.#inner.delete(tree, key);
    this.#record(tree, key, undefined);
    return existed;
  }

  #record(tree: string, key: Uint8Array, value: Uint8Array | undefined): void {
    let t = this.#writes.get(tree);
    if (!t) {
      t = new Map();
      this.#writes.set(tree, t);
    }
    t.set(keyString(key), {
      key: key.slice(),
      value: value?.slice(),
    });
  }

  /**
   * Replicates the writes; resolves with the raft index they committed at (undefined when there were
   * none). ConflictError: nothing was written. NotLeaderError / LeadershipLostError from raft: the write
   * may or may not take effect.
   */
  async commit(): Promise<number | undefined> {
    if (this.#state !== 'open') throw new ClosedError(`transaction (${this.#state})`);
    this.#state = 'committing';
    this.#inner.abort();
    const trees = [...this.#writes].map(([tree, ops]) => ({ tree, ops: [...ops.values()] }));
    this.#writes.clear();
    if (trees.length === 0 || !this.#propose) {
      this.#state = 'committed';
      return undefined;
    }
    try {
      const index = await this.#propose({ readIndex: this.readIndex, trees });
      this.#state = 'committed';
      return index;
    } catch (err) {
      this.#state = 'aborted';
      throw err;
    }
  }

  abort(): void {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    this.#writes.clear();
    this.#inner.abort();
  }
}
