import { EMPTY_BYTES } from './copy-out.js';
import { CorruptionError } from './errors.js';
import {
  buildHeads,
  buildPackedHeads,
  CLEAN_BUILD_AFTER,
  DIRTY_BUILD_AFTER,
  headsInserted,
  headsRemoved,
  type KeyHeads,
  lastExact,
  MIN_HEAD_KEYS,
  pendingHeads,
  searchHeads,
} from './key-heads.js';
import {
  BRANCH_BASE_SIZE,
  type BranchNode,
  branchEntrySize,
  compareBytes,
  comparePacked,
  type EntryOffsets,
  isOverflow,
  type LeafNode,
  type LeafValue,
  leafEntrySize,
  newBranch,
  newLeaf,
  type OverflowRef,
  own,
  ownValue,
  packedLcp,
  packedValue,
  type TreeNode,
} from './node.js';
import type { Pager } from './pager.js';

export interface Bound {
  key: Uint8Array;
  inclusive: boolean;
}

/**
 * A cheap first look at a stored value, bytes[start, end), before an entry is visited: false skips the
 * entry (no views of it are made). BTree.each applies it to inline values (in their page where the leaf
 * is packed); Storage.eachAt to overflow values once read.
 */
export type ValueSieve = (bytes: Uint8Array, start: number, end: number) => boolean;

/**
 * Where a value lies, without a view made for it: bytes buf[start..end) (a leaf's page, or a value's own
 * array), or an overflow chain to read. Filled by BTree.getRange and the reads built on it; the caller's
 * object, reused from one read to the next, valid until the store changes.
 */
export class ValueRange {
  buf: Uint8Array = EMPTY_BYTES;
  start = 0;
  end = 0;
  overflow: OverflowRef | undefined = undefined;

  /** Points the range at all of `bytes`. */
  whole(bytes: Uint8Array): void {
    this.buf = bytes;
    this.start = 0;
    this.end = bytes.length;
    this.overflow = undefined;
  }
}

export interface Change {
  root: number;
  old: LeafValue | undefined;
}

/** Length of the common prefix found by the last `compareFrom`. */
let lastLcp = 0;

/**
 * compareBytes(a, b) for two keys known to share their first `start` bytes; also leaves their common
 * prefix length in `lastLcp`.
 */
function compareFrom(a: Uint8Array, b: Uint8Array, start: number): number {
  const n = Math.min(a.length, b.length);
  for (let i = start; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y) {
      lastLcp = i;
      return x - y;
    }
  }
  lastLcp = n;
  return a.length - b.length;
}

/*
 * Binary searches that skip the prefix every key of the remaining interval shares with the search key:
 * if A <= M <= B and the key shares p bytes with both A and B, it shares at least p bytes with M. Tree
 * keys often share long prefixes (counters, encoded index values, ids), and comparisons were most of
 * the time of every get and put.
 */

/** First index whose key is > key. */
function upperBound(keys: Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  let lcpLo = 0;
  let lcpHi = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareFrom(keys[mid], key, Math.min(lcpLo, lcpHi)) <= 0) {
      lo = mid + 1;
      lcpLo = lastLcp;
    } else {
      hi = mid;
      lcpHi = lastLcp;
    }
  }
  return lo;
}

/** First index whose key is >= key. */
function lowerBound(keys: Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  let lcpLo = 0;
  let lcpHi = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareFrom(keys[mid], key, Math.min(lcpLo, lcpHi)) < 0) {
      lo = mid + 1;
      lcpLo = lastLcp;
    } else {
      hi = mid;
      lcpHi = lastLcp;
    }
  }
  return lo;
}

/** upperBound over a packed leaf's keys, in its page. */
function packedUpper(page: Buffer, offs: EntryOffsets, key: Uint8Array): number {
  let lo = 0;
  let hi = offs.length;
  let lcpLo = 0;
  let lcpHi = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePacked(page, offs[mid]!, key, Math.min(lcpLo, lcpHi)) <= 0) {
      lo = mid + 1;
      lcpLo = packedLcp;
    } else {
      hi = mid;
      lcpHi = packedLcp;
    }
  }
  return lo;
}

/** lowerBound over a packed leaf's keys, in its page. */
function packedLower(page: Buffer, offs: EntryOffsets, key: Uint8Array): number {
  let lo = 0;
  let hi = offs.length;
  let lcpLo = 0;
  let lcpHi = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePacked(page, offs[mid]!, key, Math.min(lcpLo, lcpHi)) < 0) {
      lo = mid + 1;
      lcpLo = packedLcp;
    } else {
      hi = mid;
      lcpHi = packedLcp;
    }
  }
  return lo;
}

/**
 * A node's key heads if it has or should get them (key-heads.ts): built at a clean node's
 * CLEAN_BUILD_AFTER-th search and a dirty one's DIRTY_BUILD_AFTER-th since its keys last changed, by
 * readers and writers alike (a leaf's inserts and deletes keep them).
 */
function headsOf(node: TreeNode): KeyHeads | undefined {
  const packed = node.kind === 'leaf' && node.offs !== null;
  if ((packed ? node.count : node.keys.length) < MIN_HEAD_KEYS) return undefined;
  const h = node.heads;
  if (h !== undefined && h.heads.length > 0) return h;
  if (h === undefined) {
    node.heads = pendingHeads();
    return undefined;
  }
  if (++h.seen < (node.dirty ? DIRTY_BUILD_AFTER : CLEAN_BUILD_AFTER)) return undefined;
  node.heads = packed ? buildPackedHeads(node.page!, node.offs!) : buildHeads(node.keys);
  return node.heads;
}

/** upperBound over a node's keys (in its page where packed), through its key heads where it has them. */
function nodeUpper(node: TreeNode, key: Uint8Array): number {
  const h = headsOf(node);
  if (node.kind === 'leaf' && node.offs !== null) {
    const page = node.page!;
    return h === undefined
      ? packedUpper(page, node.offs, key)
      : searchHeads(null, page, node.offs, h, key, true);
  }
  return h === undefined ? upperBound(node.keys, key) : searchHeads(node.keys, null, null, h, key, true);
}

/** lowerBound over a node's keys, as nodeUpper; sets exactLower. */
function nodeLower(node: TreeNode, key: Uint8Array): number {
  const h = headsOf(node);
  if (h === undefined) {
    exactLower = false;
    if (node.kind === 'leaf' && node.offs !== null) return packedLower(node.page!, node.offs, key);
    return lowerBound(node.keys, key);
  }
  const pos =
    node.kind === 'leaf' && node.offs !== null
      ? searchHeads(null, node.page!, node.offs, h, key, false)
      : searchHeads(node.keys, null, null, h, key, false);
  exactLower = lastExact;
  return pos;
}

/** Set by nodeLower: the key at the position it returned is known to equal the search key. */
let exactLower = false;

/**
 * Drops a node's key heads: called wherever its keys change (an insert, a delete, a split, a merge, a
 * new separator). Copy-on-write and value replacements keep them: a durable update made the root-to-leaf
 * path writable on every commit, and dropping heads there left every search of those nodes without them.
 */
function keysChanged(node: TreeNode): void {
  node.heads = undefined;
}

/** Whether lo <= key < hi (an undefined end is open). */
function within(key: Uint8Array, lo: Uint8Array | undefined, hi: Uint8Array | undefined): boolean {
  return (lo === undefined || compareBytes(key, lo) >= 0) && (hi === undefined || compareBytes(key, hi) < 0);
}

/** Path slots a PutCursor starts with (deeper trees grow its arrays). */
const CURSOR_SLOTS = 16;

/**
 * The writable root-to-leaf path of the last put, with the key interval each node covers. Only valid
 * while nothing else touches the tree: callers reset it (or use a new one) after anything but a put.
 */
export class PutCursor {
  root = -1;
  /** Nodes on the path: nodes[0, depth); nodes[0] is the root, the last one the leaf. */
  depth = 0;
  /** nodes[l]: all writable (allocated this epoch). */
  readonly nodes: TreeNode[] = new Array(CURSOR_SLOTS);
  /** idxs[l]: the child of nodes[l] that nodes[l + 1] is. */
  readonly idxs: number[] = new Array(CURSOR_SLOTS).fill(0);
  /** The interval [los[l], his[l]) of keys nodes[l] covers (undefined: unbounded). */
  readonly los: Array<Uint8Array | undefined> = new Array(CURSOR_SLOTS);
  readonly his: Array<Uint8Array | undefined> = new Array(CURSOR_SLOTS);

  /**
   * Forgets the path. The arrays are kept at their size and written by index: new ones per put (or a
   * length set to 0, which drops their storage) were ~1 KB of garbage per commit.
   */
  reset(): void {
    this.root = -1;
    for (let l = 0; l < this.depth; l++) {
      this.nodes[l] = undefined as unknown as TreeNode;
      this.los[l] = undefined;
      this.his[l] = undefined;
    }
    this.depth = 0;
  }
}

/**
 * B+tree algorithms over pager pages. Stateless: a tree is identified by its root page, and every
 * mutation returns the (possibly new) root because copy-on-write may move any page on the path.
 * No sibling pointers: they would force copying neighbours on every copy-on-write.
 */
export class BTree {
  readonly #pager: Pager;
  /** Payload bytes available in a node page. */
  readonly capacity: number;
  readonly #minFill: number;

  constructor(pager: Pager, capacity: number) {
    this.#pager = pager;
    this.capacity = capacity;
    this.#minFill = Math.floor(capacity / 4);
  }

  createEmpty(): number {
    const leaf = newLeaf(this.#pager.alloc());
    this.#pager.addNew(leaf);
    return leaf.pgno;
  }

  get(root: number, key: Uint8Array): LeafValue | undefined {
    let node = this.#pager.node(root);
    while (node.kind === 'branch') node = this.#pager.node(node.children[nodeUpper(node, key)]);
    const pos = nodeLower(node, key);
    if (pos >= node.count) return undefined;
    // Key heads often prove the match without reading the key's bytes (a cache miss or two).
    if (node.offs !== null) {
      const off = node.offs[pos]!;
      if (!exactLower && comparePacked(node.page!, off, key, 0) !== 0) return undefined;
      return node.patchAt(pos) ?? packedValue(node.page!, off);
    }
    return exactLower || compareBytes(node.keys[pos], key) === 0 ? node.values[pos] : undefined;
  }

  /**
   * get() without a view of the value: fills `out` and returns true when the key is there. A read that
   * decodes at once (a document fetched through an index) was spending ~8% of its time making views.
   */
  getRange(root: number, key: Uint8Array, out: ValueRange): boolean {
    let node = this.#pager.node(root);
    while (node.kind === 'branch') node = this.#pager.node(node.children[nodeUpper(node, key)]);
    const pos = nodeLower(node, key);
    if (pos >= node.count) return false;
    if (node.offs !== null) {
      const page = node.page!;
      const off = node.offs[pos]!;
      if (!exactLower && comparePacked(page, off, key, 0) !== 0) return false;
      const patch = node.patchAt(pos);
      if (patch !== undefined) {
        if (isOverflow(patch)) out.overflow = patch;
        else out.whole(patch);
        return true;
      }
      // The entry layout of packedValue: key length, key, flag, length, then the bytes or a page number.
      const o = off + 2 + (page[off]! | (page[off + 1]! << 8));
      if (page[o] === 1) {
        out.overflow = packedValue(page, off) as OverflowRef;
        return true;
      }
      out.buf = page;
      out.start = o + 5;
      out.end = o + 5 + page.readUInt32LE(o + 1);
      out.overflow = undefined;
      return true;
    }
    if (!exactLower && compareBytes(node.keys[pos], key) !== 0) return false;
    const v = node.values[pos]!;
    if (isOverflow(v)) out.overflow = v;
    else out.whole(v);
    return true;
  }

  /** Copies the root-to-leaf path for `key` onto writable pages; returns the path and the leaf. */
  #writablePath(root: number, key: Uint8Array): { path: BranchNode[]; idxs: number[]; leaf: LeafNode } {
    const pager = this.#pager;
    let node = pager.writable(pager.node(root));
    const path: BranchNode[] = [];
    const idxs: number[] = [];
    while (node.kind === 'branch') {
      const i = nodeUpper(node, key);
      const child = pager.node(node.children[i]);
      const w = pager.writable(child);
      if (w.pgno !== child.pgno) node.children[i] = w.pgno;
      path.push(node);
      idxs.push(i);
      node = w;
    }
    return { path, idxs, leaf: node };
  }

  /**
   * Descends to the leaf for `key` on writable pages, starting from the deepest node of the cursor's
   * last path whose key interval holds `key` (a finger search: keys put in order mostly stay in one leaf
   * and skip the descent). Leaves the cursor on the new path.
   */
  #seek(root: number, key: Uint8Array, cur: PutCursor): LeafNode {
    const pager = this.#pager;
    let level = 0;
    if (cur.root === root && cur.depth > 0) {
      level = cur.depth - 1;
      while (level > 0 && !within(key, cur.los[level], cur.his[level])) level--;
    } else {
      cur.nodes[0] = pager.writable(pager.node(root));
      cur.los[0] = undefined;
      cur.his[0] = undefined;
    }
    let node = cur.nodes[level]!;
    while (node.kind === 'branch') {
      const i = nodeUpper(node, key);
      const child = pager.node(node.children[i]);
      const w = pager.writable(child);
      if (w.pgno !== child.pgno) node.children[i] = w.pgno;
      cur.idxs[level] = i;
      cur.los[level + 1] = i > 0 ? node.keys[i - 1] : cur.los[level];
      cur.his[level + 1] = i < node.keys.length ? node.keys[i] : cur.his[level];
      cur.nodes[level + 1] = w;
      level++;
      node = w;
    }
    // Slots past the new depth keep stale nodes until reset(): cleared there.
    if (level + 1 < cur.depth)
      for (let l = level + 1; l < cur.depth; l++) cur.nodes[l] = undefined as unknown as TreeNode;
    cur.depth = level + 1;
    cur.root = cur.nodes[0]!.pgno;
    return node;
  }

  /**
   * Inserts or replaces `key`. Pass the same cursor to consecutive puts of one synchronous batch (no
   * eviction, checkpoint or other structural change in between) to reuse the path; without one, every
   * put descends from the root.
   */
  put(root: number, key: Uint8Array, value: LeafValue, lsn: number, cursor = new PutCursor()): Change {
    const leaf = this.#seek(root, key, cursor);
    let newRoot = cursor.root;
    if (leaf.offs !== null) {
      // A packed leaf (its first write since a checkpoint, or since it was written out): a value replaced
      // in place where it fits is a patch, and the leaf stays packed (see LeafNode).
      const at = nodeLower(leaf, key);
      if (at < leaf.count && (exactLower || comparePacked(leaf.page!, leaf.offs[at]!, key, 0) === 0)) {
        const old = leaf.valueAt(at);
        const size = leaf.size + leafEntrySize(key, value) - leafEntrySize(key, old);
        if (size <= this.capacity) {
          leaf.patch(at, value);
          leaf.size = size;
          leaf.lsn = lsn;
          return { root: newRoot, old };
        }
      }
    }
    const keys = leaf.keys;
    const n = keys.length;
    // Keys put in ascending order (generated ids, bulk loads) land after the leaf's last key: one
    // comparison instead of a binary search.
    const pos = n > 0 && compareBytes(keys[n - 1], key) < 0 ? n : nodeLower(leaf, key);
    let old: LeafValue | undefined;
    let appended = false;
    if (pos < n && compareBytes(keys[pos], key) === 0) {
      old = leaf.values[pos];
      leaf.size += leafEntrySize(key, value) - leafEntrySize(key, old);
      leaf.values[pos] = value;
    } else {
      if (pos === n) {
        keys.push(key);
        leaf.values.push(value);
        appended = true;
      } else {
        keys.splice(pos, 0, key);
        leaf.values.splice(pos, 0, value);
      }
      if (leaf.heads !== undefined && !headsInserted(leaf.heads, pos, key)) leaf.heads = undefined;
      leaf.size += leafEntrySize(key, value);
    }
    leaf.lsn = lsn;
    if (leaf.size > this.capacity) {
      const path = cursor.nodes.slice(0, cursor.depth - 1) as BranchNode[];
      newRoot = this.#splitUp(leaf, path, cursor.idxs, lsn, appended);
      cursor.reset(); // the path and its key intervals changed
    }
    return { root: newRoot, old };
  }

  /**
   * Splits an overfull leaf in two halves by bytes; when the overflow came from appending at the end
   * (ascending inserts), the left page keeps everything but the new entry so bulk loads fill pages.
   */
  #splitLeaf(leaf: LeafNode, appended: boolean): { right: LeafNode; sep: Uint8Array } {
    const half = leaf.size / 2;
    let acc = 0;
    let m = 0;
    if (appended) m = leaf.keys.length - 1;
    else {
      while (m < leaf.keys.length - 1 && acc < half) {
        acc += leafEntrySize(leaf.keys[m], leaf.values[m]);
        m++;
      }
    }
    if (m === 0) m = 1;
    const right = newLeaf(this.#pager.alloc());
    right.keys = leaf.keys.splice(m);
    right.values = leaf.values.splice(m);
    const h = leaf.heads;
    keysChanged(leaf);
    right.size = 0;
    for (let i = 0; i < right.keys.length; i++) right.size += leafEntrySize(right.keys[i], right.values[i]);
    leaf.size -= right.size;
    right.lsn = leaf.lsn;
    this.#pager.addNew(right);
    if (h !== undefined && h.heads.length > 0) {
      // Both halves' keys still share the prefix: their heads are the two parts of the leaf's (an index
      // leaf taking random inserts splits often, and rebuilding both was ~4% of an insert).
      leaf.heads = { seen: 0, prefix: h.prefix, heads: h.heads.slice(0, m) };
      right.heads = { seen: 0, prefix: h.prefix, heads: h.heads.slice(m) };
    }
    return { right, sep: right.keys[0] };
  }

  #splitBranch(node: BranchNode, appended: boolean): { right: BranchNode; sep: Uint8Array } {
    const half = node.size / 2;
    let acc = BRANCH_BASE_SIZE;
    let m = 0;
    if (appended) m = node.keys.length - 2;
    else {
      while (m < node.keys.length - 2 && acc < half) {
        acc += branchEntrySize(node.keys[m]);
        m++;
      }
    }
    if (m === 0) m = 1;
    const sep = node.keys[m];
    const right = newBranch(this.#pager.alloc());
    right.keys = node.keys.slice(m + 1);
    right.children = node.children.slice(m + 1);
    node.keys = node.keys.slice(0, m);
    node.children = node.children.slice(0, m + 1);
    keysChanged(node);
    node.size = BRANCH_BASE_SIZE;
    for (const k of node.keys) node.size += branchEntrySize(k);
    for (const k of right.keys) right.size += branchEntrySize(k);
    right.lsn = node.lsn;
    this.#pager.addNew(right);
    return { right, sep };
  }

  #splitUp(start: TreeNode, path: BranchNode[], idxs: number[], lsn: number, appended: boolean): number {
    let node: TreeNode = start;
    let level = path.length;
    let atEnd = appended;
    while (node.size > this.capacity) {
      const { right, sep } =
        node.kind === 'leaf' ? this.#splitLeaf(node, atEnd) : this.#splitBranch(node, atEnd);
      if (level === 0) {
        const root = newBranch(this.#pager.alloc());
        root.children = [node.pgno, right.pgno];
        root.keys = [own(sep)];
        root.size = BRANCH_BASE_SIZE + branchEntrySize(sep);
        root.lsn = lsn;
        this.#pager.addNew(root);
        return root.pgno;
      }
      level--;
      const parent = path[level];
      const i = idxs[level];
      // Copied: an entry moving into another node must not reference the child's page (decodeNode).
      parent.keys.splice(i, 0, own(sep));
      parent.children.splice(i + 1, 0, right.pgno);
      keysChanged(parent);
      atEnd = atEnd && i === parent.keys.length - 1;
      parent.size += branchEntrySize(sep);
      parent.lsn = lsn;
      node = parent;
    }
    return path.length > 0 ? path[0].pgno : node.pgno;
  }

  delete(root: number, key: Uint8Array, lsn: number): Change {
    if (this.get(root, key) === undefined) return { root, old: undefined };
    const { path, idxs, leaf } = this.#writablePath(root, key);
    const pos = nodeLower(leaf, key);
    const old = leaf.values[pos];
    leaf.size -= leafEntrySize(key, old);
    leaf.keys.splice(pos, 1);
    leaf.values.splice(pos, 1);
    if (leaf.heads !== undefined) headsRemoved(leaf.heads, pos);
    leaf.lsn = lsn;
    let node: TreeNode = leaf;
    let newRoot = path.length > 0 ? path[0].pgno : leaf.pgno;
    for (let level = path.length - 1; level >= 0; level--) {
      if (node.size >= this.#minFill) break;
      this.#rebalance(node, path[level], idxs[level], lsn);
      node = path[level];
      if (node.size > this.capacity) {
        // A longer separator overfilled the parent (see #evenBranches): split it, as an insert would.
        // Its ancestors only gain a separator each, so none of them is left underfull.
        newRoot = this.#splitUp(node, path.slice(0, level), idxs.slice(0, level), lsn, false);
        break;
      }
    }
    let top = this.#pager.node(newRoot);
    while (top.kind === 'branch' && top.keys.length === 0) {
      newRoot = top.children[0];
      this.#pager.free(top.pgno);
      top = this.#pager.node(newRoot);
    }
    return { root: newRoot, old };
  }

  /** Merges an underfull node with a sibling, or evens them out when a merge would not fit. */
  #rebalance(node: TreeNode, parent: BranchNode, i: number, lsn: number): void {
    const pager = this.#pager;
    const sibIdx = i > 0 ? i - 1 : i + 1;
    if (sibIdx >= parent.children.length) return;
    const sibRead = pager.node(parent.children[sibIdx]);
    const sib = pager.writable(sibRead);
    parent.children[sibIdx] = sib.pgno;
    const [left, right] = i > 0 ? [sib, node] : [node, sib];
    const sepIdx = i > 0 ? i - 1 : i;
    const sep = parent.keys[sepIdx];
    left.lsn = right.lsn = parent.lsn = lsn;
    keysChanged(left);
    keysChanged(right);
    if (left.kind === 'leaf' && right.kind === 'leaf') {
      if (left.size + right.size <= this.capacity) {
        for (let j = 0; j < right.keys.length; j++) {
          left.keys.push(own(right.keys[j]));
          left.values.push(ownValue(right.values[j]));
        }
        left.size += right.size;
        this.#dropSeparator(parent, sepIdx, right.pgno);
        return;
      }
      this.#evenLeaves(left, right, parent, sepIdx);
      return;
    }
    if (left.kind === 'branch' && right.kind === 'branch') {
      const merged = left.size + right.size - BRANCH_BASE_SIZE + branchEntrySize(sep);
      if (merged <= this.capacity) {
        left.keys.push(own(sep));
        for (const k of right.keys) left.keys.push(own(k));
        left.children.push(...right.children);
        left.size = merged;
        this.#dropSeparator(parent, sepIdx, right.pgno);
        return;
      }
      this.#evenBranches(left, right, parent, sepIdx);
      return;
    }
    throw pager.corrupt(parent.pgno, 'children of one branch are at different depths');
  }

  #dropSeparator(parent: BranchNode, sepIdx: number, freed: number): void {
    parent.size -= branchEntrySize(parent.keys[sepIdx]);
    parent.keys.splice(sepIdx, 1);
    parent.children.splice(sepIdx + 1, 1);
    keysChanged(parent);
    this.#pager.free(freed);
  }

  /** `force`: even if it overfills the parent, which the caller then splits (see delete). */
  #setSeparator(parent: BranchNode, sepIdx: number, sep: Uint8Array, force = false): boolean {
    const delta = branchEntrySize(sep) - branchEntrySize(parent.keys[sepIdx]);
    // A longer separator could overflow the parent; an underfull child is allowed, an overfull page is not.
    if (!force && parent.size + delta > this.capacity) return false;
    parent.size += delta;
    parent.keys[sepIdx] = sep;
    keysChanged(parent);
    return true;
  }

  #evenLeaves(left: LeafNode, right: LeafNode, parent: BranchNode, sepIdx: number): void {
    const keys = [...left.keys, ...right.keys];
    const values = [...left.values, ...right.values];
    const total = left.size + right.size;
    let acc = 0;
    let m = 0;
    while (m < keys.length - 1 && acc + leafEntrySize(keys[m], values[m]) <= total / 2) {
      acc += leafEntrySize(keys[m], values[m]);
      m++;
    }
    if (m === 0) m = 1;
    if (total - acc > this.capacity || acc > this.capacity) return;
    if (!this.#setSeparator(parent, sepIdx, own(keys[m]))) return;
    // Entries that change sides are copied (a node references at most one page buffer, see decodeNode).
    const was = left.keys.length;
    for (let j = Math.min(m, was); j < Math.max(m, was); j++) {
      keys[j] = own(keys[j]);
      values[j] = ownValue(values[j]);
    }
    left.keys = keys.slice(0, m);
    left.values = values.slice(0, m);
    right.keys = keys.slice(m);
    right.values = values.slice(m);
    left.size = acc;
    right.size = total - acc;
  }

  /**
   * Redistributes two sibling branches around a new separator. The most even split whose halves fit and
   * whose separator fits the parent wins; with long keys the even split may not, so every split is tried.
   * When none has a separator that fits and one of the branches has no key left (a branch must have
   * one), the most even split whose halves fit is made anyway, overfilling the parent (delete splits it).
   */
  #evenBranches(left: BranchNode, right: BranchNode, parent: BranchNode, sepIdx: number): void {
    const keys = [...left.keys, parent.keys[sepIdx], ...right.keys];
    const children = [...left.children, ...right.children];
    // prefix[m]: size of a branch holding keys[0..m).
    const prefix = [BRANCH_BASE_SIZE];
    for (const k of keys) prefix.push(prefix[prefix.length - 1] + branchEntrySize(k));
    const total = prefix[keys.length];
    const candidates: number[] = [];
    for (let m = 1; m < keys.length - 1; m++) candidates.push(m);
    candidates.sort((a, b) => Math.abs(2 * prefix[a] - total) - Math.abs(2 * prefix[b] - total));
    const fits = candidates.filter(
      (m) => prefix[m] <= this.capacity && total - prefix[m + 1] + BRANCH_BASE_SIZE <= this.capacity,
    );
    let m = fits.find((c) => this.#setSeparator(parent, sepIdx, own(keys[c])));
    if (m === undefined) {
      if (fits.length === 0 || (left.keys.length > 0 && right.keys.length > 0)) return;
      m = fits[0]!;
      this.#setSeparator(parent, sepIdx, own(keys[m]), true);
    }
    // The old separator and the keys that change sides are copied (see decodeNode).
    const was = left.keys.length;
    for (let j = Math.min(m, was); j <= Math.max(m, was); j++) keys[j] = own(keys[j]);
    left.keys = keys.slice(0, m);
    left.children = children.slice(0, m + 1);
    right.keys = keys.slice(m + 1);
    right.children = children.slice(m + 1);
    left.size = prefix[m];
    right.size = total - prefix[m + 1] + BRANCH_BASE_SIZE;
  }

  /**
   * Up to `max` entries in order starting at `from` and not passing `to`. Runs synchronously, so the tree
   * cannot change underneath; callers resume from the last key returned.
   */
  scan(
    root: number,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    max: number,
  ): Array<[Uint8Array, LeafValue]> {
    const out: Array<[Uint8Array, LeafValue]> = [];
    if (max > 0)
      this.each(root, from, to, reverse, (k, v) => {
        out.push([k, v]);
        return out.length < max;
      });
    return out;
  }

  /**
   * Calls `visit` with each entry in order starting at `from` and not passing `to`, until it returns
   * false. The tree's own keys and values, walked leaf by leaf: nothing is collected (a full scan of a
   * collection spent a third of its time building entry pairs). `visit` must not change the tree; it may
   * read it (a node evicted meanwhile stays valid: clean pages never change). Entries whose inline value
   * `sieve` rejects are skipped. `keys` false: packed leaves' keys are passed as an empty array.
   */
  each(
    root: number,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    visit: (key: Uint8Array, value: LeafValue) => boolean,
    sieve?: ValueSieve,
    keys = true,
  ): void {
    const pager = this.#pager;
    const stack: Array<{ node: BranchNode; i: number }> = [];
    let node = pager.node(root, false);
    while (node.kind === 'branch') {
      let i: number;
      if (!from) i = reverse ? node.children.length - 1 : 0;
      else if (!reverse || from.inclusive) i = nodeUpper(node, from.key);
      else i = nodeLower(node, from.key);
      stack.push({ node, i });
      node = pager.node(node.children[i], false);
    }
    let leaf: LeafNode = node;
    let pos: number;
    if (!from) pos = reverse ? leaf.count - 1 : 0;
    else if (!reverse) pos = from.inclusive ? nodeLower(leaf, from.key) : nodeUpper(leaf, from.key);
    else pos = (from.inclusive ? nodeUpper(leaf, from.key) : nodeLower(leaf, from.key)) - 1;
    const toKey = to?.key;
    // Past `to`: for a forward walk, a key above it (or equal, exclusive); backwards, below it.
    const stopAt = to === undefined ? 0 : reverse ? (to.inclusive ? 0 : 1) : to.inclusive ? 1 : 0;
    for (;;) {
      if (leaf.offs !== null) {
        // Packed: keys and values made as views of the page on the way, nothing kept (the layout of
        // packedKey and packedValue, inlined: their calls were a tenth of a full scan).
        const page = leaf.page!;
        const ab = page.buffer;
        const base = page.byteOffset;
        const offs = leaf.offs;
        const step = reverse ? -1 : 1;
        const patched = leaf.patched;
        for (; pos >= 0 && pos < offs.length; pos += step) {
          const off = offs[pos]!;
          if (toKey !== undefined) {
            const c = comparePacked(page, off, toKey, 0);
            if (reverse ? c < stopAt : c >= stopAt) return;
          }
          const klen = page[off]! | (page[off + 1]! << 8);
          const patch = patched ? leaf.patchAt(pos) : undefined;
          if (patch !== undefined) {
            if (sieve !== undefined && !isOverflow(patch) && !sieve(patch, 0, patch.length)) continue;
            if (!visit(keys ? new Uint8Array(ab, base + off + 2, klen) : EMPTY_BYTES, patch)) return;
            continue;
          }
          const o = off + 2 + klen;
          const len = (page[o + 1]! | (page[o + 2]! << 8) | (page[o + 3]! << 16)) + page[o + 4]! * 0x1000000;
          const inline = page[o] !== 1;
          // Sieved in the page: a rejected entry costs no objects at all.
          if (sieve !== undefined && inline && !sieve(page, o + 5, o + 5 + len)) continue;
          const value: LeafValue = !inline
            ? packedValue(page, off)
            : len === 0
              ? EMPTY_BYTES
              : new Uint8Array(ab, base + o + 5, len);
          if (!visit(keys ? new Uint8Array(ab, base + off + 2, klen) : EMPTY_BYTES, value)) return;
        }
      } else if (reverse) {
        const keys = leaf.keys;
        const values = leaf.values;
        for (; pos >= 0; pos--) {
          const k = keys[pos];
          if (toKey !== undefined && compareBytes(k, toKey) < stopAt) return;
          const v = values[pos];
          if (sieve !== undefined && !isOverflow(v) && !sieve(v, 0, v.length)) continue;
          if (!visit(k, v)) return;
        }
      } else {
        const keys = leaf.keys;
        const values = leaf.values;
        const n = keys.length;
        for (; pos < n; pos++) {
          const k = keys[pos];
          if (toKey !== undefined && compareBytes(k, toKey) >= stopAt) return;
          const v = values[pos];
          if (sieve !== undefined && !isOverflow(v) && !sieve(v, 0, v.length)) continue;
          if (!visit(k, v)) return;
        }
      }
      // Climb to the nearest ancestor with another child in the walk's direction, then descend.
      let top = stack.pop();
      while (top && (reverse ? top.i === 0 : top.i === top.node.children.length - 1)) top = stack.pop();
      if (!top) return;
      top.i += reverse ? -1 : 1;
      stack.push(top);
      let n = pager.node(top.node.children[top.i], false);
      while (n.kind === 'branch') {
        const i = reverse ? n.children.length - 1 : 0;
        stack.push({ node: n, i });
        n = pager.node(n.children[i], false);
      }
      leaf = n;
      pos = reverse ? leaf.count - 1 : 0;
    }
  }

  /** Every page of the tree (nodes and overflow chains' head references), for dropping a tree. */
  collect(root: number, onNode: (pgno: number) => void, onOverflow: (ref: OverflowRef) => void): void {
    const node = this.#pager.node(root, false);
    onNode(root);
    if (node.kind === 'leaf') {
      for (let i = 0; i < node.count; i++) {
        const v = node.valueAt(i);
        if (isOverflow(v)) onOverflow(v);
      }
      return;
    }
    for (const c of node.children.slice()) this.collect(c, onNode, onOverflow);
  }

  /**
   * Checks ordering, separator bounds, equal leaf depth, page sizes and non-empty non-root nodes.
   * Returns the number of keys.
   */
  verify(
    root: number,
    onNode: (pgno: number) => void,
    onOverflow: (ref: OverflowRef, pgno: number) => void,
  ): number {
    let leafDepth = -1;
    let count = 0;
    const fail = (pgno: number, why: string) => {
      throw new CorruptionError(this.#pager.fileName, pgno, `tree invariant: ${why}`);
    };
    const visit = (pgno: number, depth: number, lo: Uint8Array | undefined, hi: Uint8Array | undefined) => {
      onNode(pgno);
      const node = this.#pager.node(pgno, false);
      if (node.size > this.capacity) fail(pgno, `node size ${node.size} exceeds capacity ${this.capacity}`);
      // A packed leaf's entries, read without unpacking it (verifying leaves the cache as it was).
      const { keys: nodeKeys, values } =
        node.kind === 'leaf' ? node.entries() : { keys: node.keys, values: [] };
      if (pgno !== root && nodeKeys.length === 0 && node.kind === 'leaf') fail(pgno, 'empty non-root leaf');
      for (let i = 0; i < nodeKeys.length; i++) {
        const k = nodeKeys[i];
        if (i > 0 && compareBytes(nodeKeys[i - 1], k) >= 0) fail(pgno, 'keys out of order');
        if (lo && compareBytes(k, lo) < 0) fail(pgno, 'key below its separator');
        if (hi && compareBytes(k, hi) >= 0) fail(pgno, 'key at or above the next separator');
      }
      if (node.kind === 'leaf') {
        let size = 0;
        for (let i = 0; i < nodeKeys.length; i++) {
          size += leafEntrySize(nodeKeys[i], values[i]);
          const v = values[i];
          if (isOverflow(v)) onOverflow(v, pgno);
        }
        if (size !== node.size) fail(pgno, 'recorded size differs from entries');
        if (leafDepth === -1) leafDepth = depth;
        else if (leafDepth !== depth) fail(pgno, 'leaves at different depths');
        count += nodeKeys.length;
        return;
      }
      if (node.children.length !== node.keys.length + 1) fail(pgno, 'child count is not key count + 1');
      if (node.keys.length === 0) fail(pgno, 'branch without keys');
      const children = node.children.slice();
      const keys = node.keys.slice();
      for (let i = 0; i < children.length; i++) {
        visit(children[i], depth + 1, i === 0 ? lo : keys[i - 1], i === keys.length ? hi : keys[i]);
      }
    };
    visit(root, 0, undefined, undefined);
    return count;
  }
}
