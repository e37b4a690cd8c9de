import { createHash } from 'node:crypto';
import type { Transaction } from '../storage/transaction.js';
import { decodeIndex, encodeIndex, LOG_TREE, WRITTEN_TREE } from './reserved.js';
import type { WriteSet } from './write-set.js';

/**
 * How many log entries back the store remembers which keys were written. A write set whose snapshot is
 * older than that (or than the proposer's own, smaller window) is rejected without looking at its keys:
 * it cannot be checked. The number is part of the replicated format: every member must use the same.
 */
export const CONFLICT_HORIZON = 10_000;

const HASH_BYTES = 16;

/** A fixed-size name for (tree, key): keys near the size limit could not take a prefix and stay keys. */
export function writtenKey(tree: string, key: Uint8Array): Uint8Array {
  const name = Buffer.from(tree, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(name.length);
  return createHash('sha256').update(len).update(name).update(key).digest().subarray(0, HASH_BYTES);
}

export interface Conflict {
  readonly tree: string;
  readonly detail: string;
}

/**
 * First-committer-wins, decided from the log alone so that every member decides the same: the entry at
 * `index` conflicts if a key it writes was written by an entry after its snapshot (`readIndex`), or if
 * its snapshot is too old for that to be known. Reads only the store as of the entry before `index`.
 */
export function findConflict(tx: Transaction, ws: WriteSet, index: number): Conflict | undefined {
  const first = ws.trees[0]?.tree ?? '';
  if (ws.readIndex >= index)
    return { tree: first, detail: `its snapshot (index ${ws.readIndex}) is not before its entry (${index})` };
  const window = Math.min(ws.window, CONFLICT_HORIZON);
  if (index - ws.readIndex > window) {
    return {
      tree: first,
      detail: `its snapshot (index ${ws.readIndex}) is more than ${window} entries behind its entry (${index}), too old to check`,
    };
  }
  for (const { tree, ops } of ws.trees) {
    for (const op of ops) {
      const at = tx.get(WRITTEN_TREE, writtenKey(tree, op.key));
      if (at !== undefined && decodeIndex(at) > ws.readIndex) {
        return {
          tree,
          detail: `entry ${decodeIndex(at)} wrote the same key after this transaction's snapshot (index ${ws.readIndex})`,
        };
      }
    }
  }
  return undefined;
}

/** Remembers that the entry at `index` wrote these keys (in the same storage transaction as the writes). */
export function recordWrites(tx: Transaction, ws: WriteSet, index: number): void {
  const at = encodeIndex(index);
  const names: Uint8Array[] = [];
  for (const { tree, ops } of ws.trees) {
    for (const op of ops) {
      const k = writtenKey(tree, op.key);
      tx.put(WRITTEN_TREE, k, at);
      names.push(k);
    }
  }
  if (names.length > 0) tx.put(LOG_TREE, at, Buffer.concat(names));
}

/** Forgets writes that left the horizon as of `index`: entries at or before index - CONFLICT_HORIZON. */
export function pruneWritten(tx: Transaction, index: number): void {
  const upto = index - CONFLICT_HORIZON;
  if (upto < 1) return;
  const old = [...tx.range(LOG_TREE, { lte: encodeIndex(upto) })];
  for (const [k, names] of old) {
    const at = decodeIndex(k);
    for (let o = 0; o + HASH_BYTES <= names.length; o += HASH_BYTES) {
      const name = names.subarray(o, o + HASH_BYTES);
      const v = tx.get(WRITTEN_TREE, name);
      // a later entry that wrote the key again owns the record now
      if (v !== undefined && decodeIndex(v) === at) tx.delete(WRITTEN_TREE, name);
    }
    tx.delete(LOG_TREE, k);
  }
}
