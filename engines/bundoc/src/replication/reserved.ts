import { InvalidArgumentError } from '../storage/errors.js';
import type { Transaction } from '../storage/transaction.js';

/**
 * Trees the replicated mode keeps beside the user's, in the same store so that they change in the same
 * storage transaction as the writes they describe (and travel in the same snapshots). The prefix is not
 * `__bundoc/`, which the document layer owns.
 */
export const RESERVED_PREFIX = '__bundoc_replication/';
/** `applied` → u64: the raft index of the last entry this store reflects. */
export const STATE_TREE = `${RESERVED_PREFIX}state`;
/** hash(tree, key) → u64: index of the last entry that wrote the key (within the conflict horizon). */
export const WRITTEN_TREE = `${RESERVED_PREFIX}written`;
/** u64 index → the key hashes that entry wrote, so they can be pruned once they leave the horizon. */
export const LOG_TREE = `${RESERVED_PREFIX}log`;

const APPLIED_KEY = new TextEncoder().encode('applied');

export function isReservedTree(tree: unknown): boolean {
  return typeof tree === 'string' && tree.startsWith(RESERVED_PREFIX);
}

export function assertUserTree(tree: unknown): void {
  if (isReservedTree(tree))
    throw new InvalidArgumentError(
      `tree names starting with "${RESERVED_PREFIX}" are reserved for replication`,
    );
}

export function encodeIndex(index: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(index));
  return b;
}

export function decodeIndex(b: Uint8Array): number {
  return Number(Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE(0));
}

/** The raft index the transaction's snapshot reflects (0: nothing applied yet). */
export function readApplied(tx: Transaction): number {
  const v = tx.get(STATE_TREE, APPLIED_KEY);
  return v === undefined ? 0 : decodeIndex(v);
}

export function writeApplied(tx: Transaction, index: number): void {
  tx.put(STATE_TREE, APPLIED_KEY, encodeIndex(index));
}
