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

/**
 * Decoded B+tree node as cached by the buffer pool. Keys and inline values are never mutated in place
 * (they may be shared with snapshots), only replaced.
 */
export interface LeafNode {
  kind: 'leaf';
  pgno: number;
  lsn: number;
  keys: Uint8Array[];
  values: LeafValue[];
  /** Encoded payload bytes after the header. */
  size: number;
  dirty: boolean;
  /** Search heads of a clean node's keys (key-heads.ts); dropped when the node becomes writable. */
  heads?: KeyHeads | undefined;
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
  return { kind: 'leaf', pgno, lsn: 0, keys: [], values: [], size: 0, dirty: true };
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

function holdsArenaViews(node: TreeNode): boolean {
  for (const k of node.keys) if (inArena(k)) return true;
  if (node.kind === 'leaf') for (const v of node.values) if (!isOverflow(v) && inArena(v)) return true;
  return false;
}

/**
 * After `node` was encoded into `page` (encodeNode's layout): if it holds views into ownedCopy's arenas,
 * points all its keys and inline values at their bytes in the page (equal bytes; entries are replaced,
 * never mutated), so the node references one page buffer again — the arenas and any older origin are
 * released (see decodeNode, ownedCopy).
 */
export function rebaseNode(node: TreeNode, page: Buffer): void {
  if (!holdsArenaViews(node)) return;
  const ab = page.buffer;
  const base = page.byteOffset;
  const keys = node.keys;
  let o = NODE_HEADER;
  if (node.kind === 'branch') o += 4;
  for (let i = 0; i < keys.length; i++) {
    const n = keys[i].length;
    keys[i] = new Uint8Array(ab, base + o + 2, n);
    o += 2 + n;
    if (node.kind === 'branch') {
      o += 4;
      continue;
    }
    const v = node.values[i];
    if (isOverflow(v)) {
      o += 9;
      continue;
    }
    if (v.length > 0) node.values[i] = new Uint8Array(ab, base + o + 5, v.length);
    o += 5 + v.length;
  }
}

/** Serializes a node into a logical page of `logicalSize` bytes. */
export function encodeNode(node: TreeNode, logicalSize: number): Buffer {
  const buf = Buffer.alloc(logicalSize);
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

/**
 * Parses a logical page; throws a plain Error with the reason when the structure is impossible.
 * Keys and inline values are views into the page buffer (a copy each made decoding, and later its
 * garbage, the dominant cost of a cache miss). The buffer is the node's *origin*: copy-on-write keeps
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
    const keys: Uint8Array[] = new Array(count);
    const values: LeafValue[] = new Array(count);
    for (let i = 0; i < count; i++) {
      keys[i] = readKey();
      need(5);
      const flag = buf[o];
      const len = buf.readUInt32LE(o + 1);
      if (flag === 1) {
        need(9);
        values[i] = { length: len, page: buf.readUInt32LE(o + 5) };
        o += 9;
      } else if (flag === 0) {
        need(5 + len);
        values[i] = len === 0 ? EMPTY_BYTES : new Uint8Array(ab, base + o + 5, len);
        o += 5 + len;
      } else {
        throw new Error(`bad value flag ${flag}`);
      }
    }
    return { kind: 'leaf', pgno, lsn, keys, values, size: o - NODE_HEADER, dirty: false };
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
