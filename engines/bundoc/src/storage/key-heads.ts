import { comparePacked, type EntryOffsets, packedKey } from './node.js';

/**
 * Key heads: a clean node's keys summarised as numbers, so its binary search reads one contiguous
 * Float64Array instead of chasing a Uint8Array object and its bytes per probe. A random point lookup
 * spent most of its time in those probes (cache misses on key objects scattered over the heap).
 *
 * All keys of a node share the prefix of its first and last key (they are sorted); a key's head is the
 * HEAD_BYTES bytes after that prefix as a base-257 number (byte + 1, 0 past the key's end), exact in a
 * double and ordered as the keys are: a smaller head means a smaller key, a larger head a larger one,
 * and only keys with equal heads need comparing byte by byte, from the end of the head on.
 *
 * A packed leaf's heads are read from its page (buildPackedHeads) and searched there.
 * Heads are built lazily. A leaf's insert or delete keeps them, updated in place (headsInserted,
 * headsRemoved), unless the new key falls outside the shared prefix; the B+tree's other changes of a
 * node's keys (a split, a merge, a new separator: BTree's keysChanged) drop them; copy-on-write and
 * replacing a value keep them. Writing a node drops them too. Searches build them at a clean node's
 * second search, or for a dirty node at its DIRTY_BUILD_AFTER-th since they last changed. An index leaf
 * taking inserts at random positions was searched key object by key object before (a few cache misses
 * per probe): a tenth of an insert's time.
 */

export const HEAD_BYTES = 6;
/** Nodes with fewer keys are searched directly (a few probes cost less than building heads). */
export const MIN_HEAD_KEYS = 8;

export interface KeyHeads {
  /** Searches counted before the heads are built (`heads` empty until then). */
  seen: number;
  /** The prefix every key of the node shares (a copy, next to the heads in memory). */
  prefix: Uint8Array;
  /** A plain array of doubles: its elements sit on the heap with it, not in a separate allocation. */
  heads: number[];
}

/**
 * A clean node gets heads at its this-many-th search (a page read for one lookup, as in random reads
 * over more than the cache holds, is searched once: building heads would cost more than it saves).
 */
export const CLEAN_BUILD_AFTER = 2;
/** A dirty node gets heads at its this-many-th search by a reader since it last changed. */
export const DIRTY_BUILD_AFTER = 4;

const NO_PREFIX = new Uint8Array(0);

/** A node's search counter, before it has heads. */
export function pendingHeads(): KeyHeads {
  return { seen: 1, prefix: NO_PREFIX, heads: [] };
}

/**
 * Set by searchHeads: whether the key at the returned position (lower bound) or before it (upper bound)
 * is known to equal the search key, without a byte comparison (equal heads, and the key ends inside
 * its head: nothing after it could differ).
 */
export let lastExact = false;

function headOf(k: Uint8Array, p: number): number {
  let h = 0;
  const end = p + HEAD_BYTES;
  for (let j = p; j < end; j++) h = h * 257 + (j < k.length ? k[j]! + 1 : 0);
  return h;
}

/**
 * Keeps built heads valid after `key` was inserted at `pos` of the node's keys; false when they cannot
 * stay (the key does not share their prefix): the caller drops them. Unbuilt heads keep counting.
 */
export function headsInserted(h: KeyHeads, pos: number, key: Uint8Array): boolean {
  if (h.heads.length === 0) return true;
  const prefix = h.prefix;
  const p = prefix.length;
  if (key.length < p) return false;
  for (let j = 0; j < p; j++) if (key[j] !== prefix[j]) return false;
  h.heads.splice(pos, 0, headOf(key, p));
  return true;
}

/**
 * Keeps built heads valid after the key at `pos` was removed (the others still share the prefix; it may
 * be shorter than theirs now, which only makes searches compare a few more bytes).
 */
export function headsRemoved(h: KeyHeads, pos: number): void {
  if (h.heads.length > 0) h.heads.splice(pos, 1);
}

/** Heads of a node's keys: at least one key, sorted, distinct. */
export function buildHeads(keys: readonly Uint8Array[]): KeyHeads {
  const n = keys.length;
  const a = keys[0]!;
  const b = keys[n - 1]!;
  const m = Math.min(a.length, b.length);
  let p = 0;
  while (p < m && a[p] === b[p]) p++;
  const heads: number[] = new Array(n);
  for (let i = 0; i < n; i++) heads[i] = headOf(keys[i]!, p);
  return { seen: 0, prefix: new Uint8Array(a.subarray(0, p)), heads };
}

/** buildHeads of a packed leaf's keys, read in its page. */
export function buildPackedHeads(page: Buffer, offs: EntryOffsets): KeyHeads {
  const n = offs.length;
  const a = packedKey(page, offs[0]!);
  const b = packedKey(page, offs[n - 1]!);
  const m = Math.min(a.length, b.length);
  let p = 0;
  while (p < m && a[p] === b[p]) p++;
  const heads: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const off = offs[i]!;
    const len = page[off]! | (page[off + 1]! << 8);
    const at = off + 2;
    let h = 0;
    for (let j = p; j < p + HEAD_BYTES; j++) h = h * 257 + (j < len ? page[at + j]! + 1 : 0);
    heads[i] = h;
  }
  return { seen: 0, prefix: new Uint8Array(a.subarray(0, p)), heads };
}

/** Byte comparison of two keys that are equal before `start`. */
function compareFrom(a: Uint8Array, b: Uint8Array, start: number): number {
  const n = Math.min(a.length, b.length);
  for (let i = start; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * First index whose key is > key (`upper`) or >= key (not `upper`), given the node's keys and heads;
 * sets lastExact.
 */
export function searchHeads(
  keys: readonly Uint8Array[] | null,
  page: Buffer | null,
  offs: EntryOffsets | null,
  h: KeyHeads,
  key: Uint8Array,
  upper: boolean,
): number {
  const n = h.heads.length;
  const prefix = h.prefix;
  const p = prefix.length;
  lastExact = false;
  // The key against the shared prefix: outside it, the key is below or above every key of the node.
  const m = Math.min(p, key.length);
  for (let j = 0; j < m; j++) {
    const d = key[j]! - prefix[j]!;
    if (d !== 0) return d < 0 ? 0 : n;
  }
  if (key.length < p) return 0; // a proper prefix of every key: below them all
  const hk = headOf(key, p);
  const heads = h.heads;
  // a: first head >= hk; keys before it are smaller than key
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (heads[mid]! < hk) lo = mid + 1;
    else hi = mid;
  }
  if (lo === n || heads[lo] !== hk) return lo;
  if (key.length < p + HEAD_BYTES) {
    // Both end inside the head, at the same byte: the same key (keys are distinct: there is one).
    lastExact = true;
    return upper ? lo + 1 : lo;
  }
  // b: first head > hk; keys from it on are larger than key. Between a and b, compare the bytes.
  const a = lo;
  hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (heads[mid]! <= hk) lo = mid + 1;
    else hi = mid;
  }
  hi = lo;
  lo = a;
  const start = p + HEAD_BYTES;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c =
      offs !== null ? comparePacked(page!, offs[mid]!, key, start) : compareFrom(keys![mid]!, key, start);
    if (c < 0 || (upper && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
