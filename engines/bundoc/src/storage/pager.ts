import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BufferPool } from './buffer-pool.js';
import { META_PAGES, NODE_HEADER, PAGE_OVERFLOW } from './constants.js';
import { CorruptionError } from './errors.js';
import { syncFile } from './fsync-observer.js';
import { decodeNode, encodeNode, LeafNode, rebaseNode, type TreeNode } from './node.js';
import type { PageSealer } from './page-seal.js';
import type { SharedCache } from './shared-cache.js';

/** Bytes of an overflow/blob page payload header: next page u32, chunk length u32. */
const CHAIN_HEADER = 8;

export interface ChainRead {
  bytes: Buffer;
  pages: number[];
}

/**
 * Page-level access to the data file: reads verify checksums, nodes are cached in the buffer pool, and
 * page allocation follows the checkpoint epochs (see FORMAT.md "Copy-on-write between checkpoints"):
 * a page that the last durable checkpoint references is never overwritten; it is copied to a page
 * allocated in the current epoch (`fresh`) and freed only once the next checkpoint is durable.
 */
export class Pager {
  /** Name used in errors (relative to the store directory). */
  readonly fileName: string;
  readonly filePath: string;
  readonly sealer: PageSealer;
  readonly pool: BufferPool;
  readonly fh: FileHandle;
  readonly fd: number;
  pageCount: number;
  /** Pages free in the durable checkpoint and in the current state: reusable now. */
  freeList: number[];
  /** Pages freed in this epoch that the durable checkpoint still references. */
  pendingFree: number[] = [];
  /** Pages allocated in this epoch: no checkpoint references them, so they may change in place. */
  fresh = new Set<number>();
  pagesRead = 0;
  pagesWritten = 0;
  readonly #shared: SharedCache | undefined;

  constructor(
    fh: FileHandle,
    filePath: string,
    fileName: string,
    sealer: PageSealer,
    cacheBytes: number,
    pageCount: number,
    freeList: number[],
    shared?: SharedCache,
  ) {
    this.fh = fh;
    this.fd = fh.fd;
    this.filePath = filePath;
    this.fileName = fileName;
    this.sealer = sealer;
    this.pool = new BufferPool(cacheBytes, sealer.pageSize, shared);
    this.#shared = shared;
    shared?.join(this.pool, (n) => this.writeNode(n));
    this.pageCount = pageCount;
    this.freeList = freeList;
  }

  corrupt(pgno: number | undefined, reason: string): CorruptionError {
    return new CorruptionError(this.fileName, pgno, reason);
  }

  readLogical(pgno: number): Buffer {
    if (pgno < META_PAGES || pgno >= this.pageCount) {
      throw this.corrupt(pgno, `page number out of range (page count ${this.pageCount})`);
    }
    const size = this.sealer.pageSize;
    // Its own memory whatever Buffer.poolSize an app sets: cached pages are long-lived, and scans search
    // ahead past a document in the page's memory (see readChain).
    const buf = Buffer.allocUnsafeSlow(size);
    const n = fs.readSync(this.fd, buf, 0, size, pgno * size);
    this.pagesRead++;
    const r = this.sealer.unseal(pgno, n === size ? buf : buf.subarray(0, n));
    if (!r.ok) throw this.corrupt(pgno, r.reason);
    return r.logical;
  }

  writeLogical(pgno: number, logical: Buffer): void {
    const size = this.sealer.pageSize;
    const phys = this.sealer.seal(pgno, logical);
    fs.writeSync(this.fd, phys, 0, size, pgno * size);
    this.pagesWritten++;
  }

  /** The decoded node of a page, cached; `promote` false marks a scan's access (see BufferPool.get). */
  node(pgno: number, promote = true): TreeNode {
    const cached = this.pool.get(pgno, promote);
    if (cached) return cached;
    const logical = this.readLogical(pgno);
    let node: TreeNode;
    try {
      node = decodeNode(logical, pgno);
    } catch (e) {
      throw this.corrupt(pgno, (e as Error).message);
    }
    this.pool.add(node);
    return node;
  }

  writeNode(node: TreeNode): void {
    const logical = encodeNode(node, this.sealer.logicalSize);
    this.writeLogical(node.pgno, logical);
    rebaseNode(node, logical);
    node.dirty = false;
    node.heads = undefined;
  }

  /**
   * The dirty cached nodes, for writeDirty. After a checkpoint's snapshot (which resets `fresh`) no
   * commit changes them in place: writers copy them onto new pages (see writable).
   */
  dirtyNodes(): TreeNode[] {
    const out: TreeNode[] = [];
    for (const node of this.pool.nodes()) if (node.dirty) out.push(node);
    return out;
  }

  /**
   * Writes nodes[from..] that are still dirty (an eviction may have written some meanwhile) until
   * performance.now() reaches `deadline`; returns the index to resume from. No fsync.
   */
  writeDirty(nodes: readonly TreeNode[], from: number, deadline: number): number {
    let i = from;
    while (i < nodes.length) {
      const node = nodes[i++]!;
      if (node.dirty) this.writeNode(node);
      // The clock is read every few pages (one takes ~10-20 µs to encode and write).
      if ((i & 7) === 0 && performance.now() >= deadline) break;
    }
    return i;
  }

  /** Called after every read and commit: the write-back is made once, not a closure per call. */
  evict(): void {
    this.pool.evict(this.#writeBack);
  }

  readonly #writeBack = (n: TreeNode): void => this.writeNode(n);

  /** Empties the cache and leaves the shared budget (the file is closed). */
  release(): void {
    this.#shared?.leave(this.pool);
    this.pool.clear();
  }

  alloc(): number {
    const pgno = this.freeList.length > 0 ? this.freeList.pop()! : this.pageCount++;
    this.fresh.add(pgno);
    return pgno;
  }

  free(pgno: number): void {
    this.pool.remove(pgno);
    if (this.fresh.delete(pgno)) this.freeList.push(pgno);
    else this.pendingFree.push(pgno);
  }

  /**
   * A node that may be modified: itself when allocated this epoch, otherwise a copy on a fresh page.
   * A packed leaf stays packed (its copy shares the page): a put replacing a value patches it, and
   * whatever else the B+tree's writers do unpacks it (see LeafNode).
   */
  writable(node: TreeNode): TreeNode {
    // Key heads stay: they depend on the keys alone, and the B+tree drops them where it changes keys.
    if (this.fresh.has(node.pgno)) {
      node.dirty = true;
      return node;
    }
    const pgno = this.alloc();
    let copy: TreeNode;
    if (node.kind === 'leaf') {
      if (node.offs !== null) copy = node.packedCopy(pgno);
      else copy = new LeafNode(pgno, node.lsn, node.size, true, node.keys.slice(), node.values.slice());
      copy.dirty = true;
    } else {
      copy = { ...node, pgno, keys: node.keys.slice(), children: node.children.slice(), dirty: true };
    }
    copy.heads = node.heads;
    this.free(node.pgno);
    this.pool.add(copy);
    return copy;
  }

  addNew(node: TreeNode): void {
    node.dirty = true;
    node.heads = undefined;
    this.pool.add(node);
  }

  get chainCapacity(): number {
    return this.sealer.logicalSize - NODE_HEADER - CHAIN_HEADER;
  }

  /** Writes bytes into a chain of fresh pages at once (they are not referenced by any checkpoint). */
  writeChain(type: number, bytes: Uint8Array, lsn: number, pages?: number[]): number[] {
    const cap = this.chainCapacity;
    const count = Math.max(1, Math.ceil(bytes.length / cap));
    const list = pages ?? Array.from({ length: count }, () => this.alloc());
    for (let i = 0; i < count; i++) {
      const buf = Buffer.alloc(this.sealer.logicalSize);
      buf[0] = type;
      buf.writeUInt32LE(list[i], 4);
      buf.writeDoubleLE(lsn, 8);
      const chunk = bytes.subarray(i * cap, Math.min(bytes.length, (i + 1) * cap));
      buf.writeUInt32LE(i + 1 < count ? list[i + 1] : 0, NODE_HEADER);
      buf.writeUInt32LE(chunk.length, NODE_HEADER + 4);
      buf.set(chunk, NODE_HEADER + CHAIN_HEADER);
      this.writeLogical(list[i], buf);
    }
    return list;
  }

  readChain(type: number, head: number, length: number): ChainRead {
    // An allocation of its own, never a slice of Node's shared pool: scans search ahead past a value in
    // the memory after it (NeedleSieve), where the pool would put the next value read meanwhile.
    const out = Buffer.allocUnsafeSlow(length);
    const pages: number[] = [];
    let off = 0;
    let pgno = head;
    const maxPages = Math.max(1, Math.ceil(length / this.chainCapacity));
    while (true) {
      if (pages.length >= maxPages) throw this.corrupt(pgno, 'chain longer than its recorded length');
      const buf = this.readLogical(pgno);
      if (buf[0] !== type) throw this.corrupt(pgno, `expected page type ${type}, found ${buf[0]}`);
      if (buf.readUInt32LE(4) !== pgno) throw this.corrupt(pgno, 'page claims another number (misplaced)');
      pages.push(pgno);
      const next = buf.readUInt32LE(NODE_HEADER);
      const len = buf.readUInt32LE(NODE_HEADER + 4);
      if (len > this.chainCapacity || off + len > length) throw this.corrupt(pgno, 'chain chunk length');
      buf.copy(out, off, NODE_HEADER + CHAIN_HEADER, NODE_HEADER + CHAIN_HEADER + len);
      off += len;
      if (next === 0) break;
      pgno = next;
    }
    if (off !== length) throw this.corrupt(head, `chain holds ${off} bytes, expected ${length}`);
    return { bytes: out, pages };
  }

  writeOverflow(bytes: Uint8Array, lsn: number): number {
    return this.writeChain(PAGE_OVERFLOW, bytes, lsn)[0];
  }

  readOverflow(head: number, length: number): ChainRead {
    return this.readChain(PAGE_OVERFLOW, head, length);
  }

  async sync(): Promise<void> {
    await syncFile(this.fh, this.filePath);
  }
}
