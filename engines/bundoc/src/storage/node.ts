import { NODE_HEADER, PAGE_BRANCH, PAGE_LEAF } from './constants.js';
import { ARENA_MAX_COPY, EMPTY_BYTES, isOwnedArena, ownedCopy } from './copy-out.js';
import type { KeyHeads } from './key-heads.js';

/** A value stored in a leaf: inline bytes or a pointer to an overflow chain. */
export type LeafValue = Uint8Array | OverflowRef;
export interface OverflowRef {
  readonly page: number;
  readonly length: number;
}

export function isOverflow(v: LeafValue): v is OverflowRef {
  return !(v instanceof Uint8Array);
}

/** Start of each entry in a packed leaf's page. */
export type EntryOffsets = Uint16Array | Uint32Array;

/**
 * A B+tree leaf as cached by the buffer pool. Keys and inline values are never mutated in place (they may
 * be shared with snapshots), only replaced.
 *
 * A leaf read from a page, or written to one, is *packed*: its entries stay in the page bytes, found
 * through `offs`, and readers search and read them there (btree.ts); nothing per entry lives on the heap
 * (a key or value view costs ~100 bytes, and an index leaf held ~5x its page in them). `keys` and
 * `values` unpack it on first use into views of the page. A put that replaces the value of a key the
 * leaf holds keeps it packed: the new value is a *patch* over the page's (the keys, and so every search,
 * stay as they are), and whoever reads a packed leaf's values checks `patchAt` first. Anything else that
 * writes (inserts, deletes, splits, merges) goes through `keys`/`values`, which unpack it, patches
 * applied. Unpacking a leaf on its first write after a checkpoint made a view per key and value (~60
 * for a leaf of documents) that lived until the next checkpoint: most of a durable update's CPU.
 */
export class LeafNode {
  readonly kind = 'leaf' as const;
  pgno: number;
  lsn: number;
  /** Encoded payload bytes after the header. */
  size: number;
  dirty: boolean;
  /** Search heads of the node's keys (key-heads.ts); dropped where its keys change. */
  heads: KeyHeads | undefined = undefined;
  /** While packed: the page, and each entry's start in it. */
  page: Buffer | null = null;
  offs: EntryOffsets | null = null;
  #keys: Uint8Array[] | null;
  #values: LeafValue[] | null;
  /** While packed: replaced values by entry index (null: none). */
  #patches: Map<number, LeafValue> | null = null;

  constructor(
    pgno: number,
    lsn: number,
    size: number,
    dirty: boolean,
    keys: Uint8Array[],
    values: LeafValue[],
  ) {
    this.pgno = pgno;
    this.lsn = lsn;
    this.size = size;
    this.dirty = dirty;
    this.#keys = keys;
    this.#values = values;
  }

  static packed(pgno: number, lsn: number, size: number, page: Buffer, offs: EntryOffsets): LeafNode {
    const n = new LeafNode(pgno, lsn, size, false, EMPTY_KEYS, EMPTY_VALUES);
    n.#keys = null;
    n.#values = null;
    n.page = page;
    n.offs = offs;
    return n;
  }

  get keys(): Uint8Array[] {
    if (this.#keys === null) this.unpack();
    return this.#keys!;
  }

  set keys(keys: Uint8Array[]) {
    this.#keys = keys;
  }

  get values(): LeafValue[] {
    if (this.#values === null) this.unpack();
    return this.#values!;
  }

  set values(values: LeafValue[]) {
    this.#values = values;
  }

  get count(): number {
    return this.offs !== null ? this.offs.length : this.#keys!.length;
  }

  valueAt(i: number): LeafValue {
    if (this.offs === null) return this.#values![i]!;
    return this.#patches?.get(i) ?? packedValue(this.page!, this.offs[i]!);
  }

  /** While packed: the value a put put over entry `i`'s in the page, if any. */
  patchAt(i: number): LeafValue | undefined {
    return this.#patches === null ? undefined : this.#patches.get(i);
  }

  /** Whether a packed leaf has patches (readers of its page then check patchAt). */
  get patched(): boolean {
    return this.#patches !== null;
  }

  /** Replaces the value of entry `i` of a packed leaf, keeping it packed (the caller keeps `size`). */
  patch(i: number, value: LeafValue): void {
    this.#patches ??= new Map();
    this.#patches.set(i, value);
  }

  /** A packed copy sharing this packed leaf's page (which never changes) and its patches. */
  packedCopy(pgno: number): LeafNode {
    const n = LeafNode.packed(pgno, this.lsn, this.size, this.page!, this.offs!);
    if (this.#patches !== null) n.#patches = new Map(this.#patches);
    return n;
  }

  /** Entries as arrays of views into the page from now on (a no-op when unpacked). */
  unpack(): void {
    if (this.offs === null) return;
    const { keys, values } = this.entries();
    this.#keys = keys;
    this.#values = values;
    this.page = null;
    this.offs = null;
    this.#patches = null;
  }

  /** New arrays of the entries (views into the page where packed, patches applied), leaving the node. */
  entries(): { keys: Uint8Array[]; values: LeafValue[] } {
    if (this.offs === null) return { keys: this.#keys!.slice(), values: this.#values!.slice() };
    const page = this.page!;
    const offs = this.offs;
    const keys: Uint8Array[] = new Array(offs.length);
    const values: LeafValue[] = new Array(offs.length);
    for (let i = 0; i < offs.length; i++) {
      keys[i] = packedKey(page, offs[i]!);
      values[i] = packedValue(page, offs[i]!);
    }
    if (this.#patches !== null) for (const [i, v] of this.#patches) values[i] = v;
    return { keys, values };
  }

  /** Packs the node into `page`, its encoding (encodeNode): the entries are found there from now on. */
  pack(page: Buffer): void {
    const n = this.count;
    const offs = page.length <= 0xffff ? new Uint16Array(n) : new Uint32Array(n);
    let o = NODE_HEADER;
    for (let i = 0; i < n; i++) {
      offs[i] = o;
      const klen = page[o]! | (page[o + 1]! << 8);
      o += 2 + klen;
      o += page[o] === 1 ? 9 : 5 + page.readUInt32LE(o + 1);
    }
    this.page = page;
    this.offs = offs;
    this.#keys = null;
    this.#values = null;
    this.#patches = null;
  }
}

const EMPTY_KEYS: Uint8Array[] = [];
const EMPTY_VALUES: LeafValue[] = [];

/** The key of the packed entry at `off`: a view into the page. */
export function packedKey(page: Buffer, off: number): Uint8Array {
  return new Uint8Array(page.buffer, page.byteOffset + off + 2, page[off]! | (page[off + 1]! << 8));
}

/** Length of the common prefix found by the last comparePacked. */
export let packedLcp = 0;

/**
 * compareBytes(key of the packed entry at `off`, key) for keys known to share their first `start` bytes;
 * leaves their common prefix length in packedLcp.
 */
export function comparePacked(page: Buffer, off: number, key: Uint8Array, start: number): number {
  const klen = page[off]! | (page[off + 1]! << 8);
  const b = off + 2;
  const n = Math.min(klen, key.length);
  for (let i = start; i < n; i++) {
    const d = page[b + i]! - key[i]!;
    if (d !== 0) {
      packedLcp = i;
      return d;
    }
  }
  packedLcp = n;
  return klen - key.length;
}

/** The value of the packed entry at `off`: a view into the page, or an overflow reference. */
export function packedValue(page: Buffer, off: number): LeafValue {
  const o = off + 2 + (page[off]! | (page[off + 1]! << 8));
  const len = page.readUInt32LE(o + 1);
  if (page[o] === 1) return { length: len, page: page.readUInt32LE(o + 5) };
  return len === 0 ? EMPTY_BYTES : new Uint8Array(page.buffer, page.byteOffset + o + 5, len);
}

/** children[i] holds keys < keys[i]; children[i+1] holds keys >= keys[i]. */
export interface BranchNode {
  kind: 'branch';
  pgno: number;
  lsn: number;
  keys: Uint8Array[];
  children: number[];
  size: number;
  dirty: boolean;
  heads?: KeyHeads | undefined;
}

export type TreeNode = LeafNode | BranchNode;

export function leafEntrySize(key: Uint8Array, value: LeafValue): number {
  return 2 + key.length + 1 + 4 + (isOverflow(value) ? 4 : value.length);
}

export function branchEntrySize(key: Uint8Array): number {
  return 2 + key.length + 4;
}

export const BRANCH_BASE_SIZE = 4;

export function newLeaf(pgno: number): LeafNode {
  return new LeafNode(pgno, 0, 0, true, [], []);
}

export function newBranch(pgno: number): BranchNode {
  return {
    kind: 'branch',
    pgno,
    lsn: 0,
    keys: [],
    children: [],
    size: BRANCH_BASE_SIZE,
    dirty: true,
  };
}

function writeHeader(buf: Buffer, type: number, count: number, pgno: number, lsn: number): void {
  buf[0] = type;
  buf[1] = 0;
  buf.writeUInt16LE(count, 2);
  buf.writeUInt32LE(pgno, 4);
  buf.writeDoubleLE(lsn, 8);
}

/**
 * The copy of a key or value that moves into another (dirty) node: from the write arenas, like a written
 * entry (see decodeNode: entries moving into another node are copied, so that every clean node references
 * at most one page buffer; writing the node rebases arena views onto its page).
 */
export function own(b: Uint8Array): Uint8Array {
  return ownedCopy(b);
}

export function ownValue(v: LeafValue): LeafValue {
  return isOverflow(v) ? v : own(v);
}

/** Whether `b` is a view into one of ownedCopy's arenas (only lengths it carves from one can be). */
function inArena(b: Uint8Array): boolean {
  // The shared empty array is on V8's heap, and reading `.buffer` would move it: checked by length.
  return b.length > 0 && b.length <= ARENA_MAX_COPY && isOwnedArena(b.buffer);
}

/**
 * After `node` was encoded into `page` (encodeNode's layout): a leaf is packed into it; a branch holding
 * views into ownedCopy's arenas gets its keys pointed at their bytes in the page (equal bytes; entries
 * are replaced, never mutated). Either way the node references one page buffer again — the arenas and
 * any older origin are released (see decodeNode, ownedCopy).
 */
export function rebaseNode(node: TreeNode, page: Buffer): void {
  if (node.kind === 'leaf') {
    node.pack(page);
    return;
  }
  const keys = node.keys;
  if (!keys.some(inArena)) return;
  const ab = page.buffer;
  const base = page.byteOffset;
  let o = NODE_HEADER + 4;
  for (let i = 0; i < keys.length; i++) {
    const n = keys[i]!.length;
    keys[i] = new Uint8Array(ab, base + o + 2, n);
    o += 2 + n + 4;
  }
}

/** Serializes a node into a logical page of `logicalSize` bytes. */
export function encodeNode(node: TreeNode, logicalSize: number): Buffer {
  const buf = Buffer.alloc(logicalSize);
  if (node.kind === 'leaf' && node.offs !== null) {
    encodePacked(node, buf);
    return buf;
  }
  writeHeader(buf, node.kind === 'leaf' ? PAGE_LEAF : PAGE_BRANCH, node.keys.length, node.pgno, node.lsn);
  let o = NODE_HEADER;
  if (node.kind === 'leaf') {
    for (let i = 0; i < node.keys.length; i++) {
      const k = node.keys[i];
      const v = node.values[i];
      buf.writeUInt16LE(k.length, o);
      buf.set(k, o + 2);
      o += 2 + k.length;
      if (isOverflow(v)) {
        buf[o] = 1;
        buf.writeUInt32LE(v.length, o + 1);
        buf.writeUInt32LE(v.page, o + 5);
        o += 9;
      } else {
        buf[o] = 0;
        buf.writeUInt32LE(v.length, o + 1);
        buf.set(v, o + 5);
        o += 5 + v.length;
      }
    }
  } else {
    buf.writeUInt32LE(node.children[0], o);
    o += 4;
    for (let i = 0; i < node.keys.length; i++) {
      const k = node.keys[i];
      buf.writeUInt16LE(k.length, o);
      buf.set(k, o + 2);
      o += 2 + k.length;
      buf.writeUInt32LE(node.children[i + 1], o);
      o += 4;
    }
  }
  return buf;
}

/** encodeNode of a packed leaf: its entries copied from its page as they are, patched values written. */
function encodePacked(node: LeafNode, buf: Buffer): void {
  const page = node.page!;
  const offs = node.offs!;
  writeHeader(buf, PAGE_LEAF, offs.length, node.pgno, node.lsn);
  let o = NODE_HEADER;
  for (let i = 0; i < offs.length; i++) {
    const off = offs[i]!;
    const klen = page[off]! | (page[off + 1]! << 8);
    const vo = off + 2 + klen;
    const patch = node.patched ? node.patchAt(i) : undefined;
    if (patch === undefined) {
      const end = vo + (page[vo] === 1 ? 9 : 5 + page.readUInt32LE(vo + 1));
      page.copy(buf, o, off, end);
      o += end - off;
      continue;
    }
    page.copy(buf, o, off, vo);
    o += vo - off;
    if (isOverflow(patch)) {
      buf[o] = 1;
      buf.writeUInt32LE(patch.length, o + 1);
      buf.writeUInt32LE(patch.page, o + 5);
      o += 9;
    } else {
      buf[o] = 0;
      buf.writeUInt32LE(patch.length, o + 1);
      buf.set(patch, o + 5);
      o += 5 + patch.length;
    }
  }
}

/**
 * Parses a logical page; throws a plain Error with the reason when the structure is impossible.
 * A leaf stays packed in the page (LeafNode); a branch's keys are views into it (a copy each made
 * decoding, and later its garbage, the dominant cost of a cache miss). The buffer is the node's
 * *origin*: copy-on-write keeps
 * it, and the B+tree copies every entry that moves into another node (merge, redistribution, a
 * separator going up), so a node references at most one page buffer — its own origin, shared only with
 * the nodes split off it — and the buffer pool's byte budget still bounds memory. Before-images are
 * copied when retained.
 */
export function decodeNode(page: Buffer, pgno: number): TreeNode {
  // A page that shares its memory with other data (a pooled allocation) is copied out first.
  const buf =
    page.buffer.byteLength > page.length + 64
      ? Buffer.from(Uint8Array.prototype.slice.call(page).buffer)
      : page;
  const type = buf[0];
  const count = buf.readUInt16LE(2);
  const self = buf.readUInt32LE(4);
  if (self !== pgno) throw new Error(`page claims number ${self} (misplaced page)`);
  const lsn = buf.readDoubleLE(8);
  const end = buf.length;
  let o = NODE_HEADER;
  const need = (n: number) => {
    if (o + n > end) throw new Error('entry runs past the end of the page');
  };
  const ab = buf.buffer;
  const base = buf.byteOffset;
  const readKey = (): Uint8Array => {
    need(2);
    const len = buf.readUInt16LE(o);
    need(2 + len);
    const k = new Uint8Array(ab, base + o + 2, len);
    o += 2 + len;
    return k;
  };
  if (type === PAGE_LEAF) {
    // Checked here once; readers then trust the offsets (LeafNode, packed).
    const offs = end <= 0xffff ? new Uint16Array(count) : new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      offs[i] = o;
      need(2);
      o += 2 + buf.readUInt16LE(o);
      need(5);
      const flag = buf[o];
      const len = buf.readUInt32LE(o + 1);
      if (flag === 1) {
        need(9);
        o += 9;
      } else if (flag === 0) {
        need(5 + len);
        o += 5 + len;
      } else {
        throw new Error(`bad value flag ${flag}`);
      }
    }
    return LeafNode.packed(pgno, lsn, o - NODE_HEADER, buf, offs);
  }
  if (type === PAGE_BRANCH) {
    const keys: Uint8Array[] = new Array(count);
    const children: number[] = new Array(count + 1);
    need(4);
    children[0] = buf.readUInt32LE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      keys[i] = readKey();
      need(4);
      children[i + 1] = buf.readUInt32LE(o);
      o += 4;
    }
    return { kind: 'branch', pgno, lsn, keys, children, size: o - NODE_HEADER, dirty: false };
  }
  throw new Error(`page type ${type} is not a tree node`);
}

/** Above this common length the native comparison (memcmp) beats the JS loop despite its call cost. */
const NATIVE_COMPARE_FROM = 64;

/**
 * Byte-wise comparison (the order of every tree): negative, zero or positive. Tree keys are mostly
 * short, where a JS loop costs about half of a `Buffer.compare` call (profiled: 57 ns against 102 ns
 * on 12-byte keys, and comparisons were 16-33% of every read and insert).
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  if (n >= NATIVE_COMPARE_FROM) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}
