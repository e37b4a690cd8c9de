import type { Storage } from '../../src/storage/index.js';
import { deleterOf, expectedValue, keyFor } from './workload.js';

/**
 * Checks a recovered crash-workload store: every acknowledged commit is present (unless a later commit
 * that may have landed deleted it), nothing present is torn or invented, and acknowledged deletes hold.
 * `removers`: acknowledged commits whose delete removed its key (applyCommit's result); a delete that
 * found its key absent ran before the put, which may then stand. Commits numbered >= maxStarted were never
 * started; `toCheck` limits the per-key checks to a subset of `acked` (the range scan still covers
 * everything present). Throws with the first problem found.
 */
export function checkWorkload(
  st: Storage,
  acked: ReadonlySet<number>,
  removers: ReadonlySet<number>,
  maxStarted: number,
  toCheck: Iterable<number> = acked,
  tree = 'crash',
): number {
  st.verify();
  const tx = st.begin({ readOnly: true });
  try {
    for (const i of toCheck) {
      const v = tx.get(tree, keyFor(i));
      const del = deleterOf(i);
      if (v === undefined) {
        if (del === undefined || del >= maxStarted) throw new Error(`acknowledged commit ${i} is missing`);
        continue;
      }
      if (!Buffer.from(v).equals(expectedValue(i))) throw new Error(`value of commit ${i} is wrong`);
      if (del !== undefined && removers.has(del))
        throw new Error(`key ${i} survived its acknowledged delete ${del}`);
    }
    let present = 0;
    for (const [k, v] of tx.range(tree)) {
      const i = Number(Buffer.from(k).toString().slice(1));
      if (!(i < maxStarted) || !Buffer.from(v).equals(expectedValue(i)))
        throw new Error(`unexpected entry ${i}`);
      present++;
    }
    return present;
  } finally {
    tx.abort();
  }
}
