import type { Transaction } from '../../src/storage/index.js';

/** Deterministic crash-test workload shared by the child writer, the power-loss test and the checkers. */
export function keyFor(i: number): Uint8Array {
  return Buffer.from(`k${String(i).padStart(8, '0')}`);
}

/** Sizes vary from a few bytes to overflow chains of several pages. */
export function expectedValue(i: number): Uint8Array {
  const size = i % 17 === 0 ? 9000 + (i % 5) * 1000 : 20 + ((i * 37) % 300);
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 13 + j) & 255;
  return b;
}

/** Commit i deletes key i-7 unless i % 4 === 0: most keys are short-lived (merges, free-list reuse). */
function deletes(i: number): boolean {
  return i >= 7 && i % 4 !== 0;
}

/** The commit that deletes key i, if any. */
export function deleterOf(i: number): number | undefined {
  return deletes(i + 7) ? i + 7 : undefined;
}

/**
 * Commit i: puts key i and may delete key i-7, in one transaction. Returns whether the delete removed the
 * key: concurrent writers commit out of order, and a commit i-7 that lands after commit i (it conflicted
 * and retried, say) puts a key that commit i found absent and did not remove.
 */
export function applyCommit(tx: Transaction, i: number, tree = 'crash'): boolean {
  tx.put(tree, keyFor(i), expectedValue(i));
  return deletes(i) ? tx.delete(tree, keyFor(i - 7)) : false;
}
