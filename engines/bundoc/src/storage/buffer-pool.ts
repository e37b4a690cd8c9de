import { Fifo } from './fifo.js';
import type { TreeNode } from './node.js';
import type { SharedCache } from './shared-cache.js';

export interface PoolStats {
  hits: number;
  misses: number;
  evictions: number;
  pages: number;
  capacityPages: number;
}

/** A protected entry: `ref` is set on every hit and gives the entry a second chance at eviction. */
interface Slot {
  node: TreeNode;
  ref: boolean;
}

/**
 * Node cache with a byte budget and 2Q replacement: first use lands in a small FIFO probation queue, a
 * second use (or a use shortly after being evicted from probation, remembered by a ghost list) promotes
 * to the protected queue. A one-pass scan only churns probation, so the hot set survives it.
 * The protected queue is a CLOCK (second chance) rather than an exact LRU: a hit only sets a flag, where
 * re-ordering a Map on every hit of the root page cost half of all insert time.
 * The maps answer lookups; the order of each queue is kept apart in a Fifo (see fifo.ts for why not the
 * maps' own order), whose entries go stale when a page leaves its map by another way (a promotion, a
 * removal): they are skipped when they come round, and dropped when they outnumber the live ones.
 * Eviction runs only between operations (`evict`), never while a caller holds node references.
 */
export class BufferPool {
  readonly capacity: number;
  readonly pageSize: number;
  /** The shared budget this pool is part of, if any (then `capacity` only sizes the queues). */
  readonly #shared: SharedCache | undefined;
  /** Pages last reported to the shared cache. */
  #charged = 0;
  /** When this pool was last used, on the shared cache's clock. */
  lastUse = 0;
  readonly #probationMax: number;
  readonly #ghostMax: number;
  readonly #probation = new Map<number, TreeNode>();
  /** Probation nodes, oldest first (with stale entries: see the class comment). */
  readonly #probationOrder = new Fifo<TreeNode>();
  readonly #protected = new Map<number, Slot>();
  /** The clock's hand: protected slots in the order it visits them. */
  readonly #clock = new Fifo<Slot>();
  readonly #ghosts = new Set<number>();
  readonly #ghostOrder = new Fifo<number>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(cacheBytes: number, pageSize: number, shared?: SharedCache) {
    this.pageSize = pageSize;
    this.#shared = shared;
    this.capacity = Math.max(16, Math.floor((shared ? shared.bytes : cacheBytes) / pageSize));
    this.#probationMax = Math.max(4, Math.floor(this.capacity / 4));
    this.#ghostMax = Math.max(8, Math.floor(this.capacity / 2));
  }

  get size(): number {
    return this.#probation.size + this.#protected.size;
  }

  /**
   * A cached node, or undefined. `promote` false is for range scans: they touch a leaf again at every
   * batch boundary, and those correlated touches must not pass for reuse, or a scan would flush the
   * hot set out of the protected queue.
   */
  get(pgno: number, promote = true): TreeNode | undefined {
    if (this.#shared) this.lastUse = this.#shared.tick();
    const slot = this.#protected.get(pgno);
    if (slot) {
      if (promote) slot.ref = true;
      this.hits++;
      return slot.node;
    }
    const n = this.#probation.get(pgno);
    if (n && !promote) {
      this.hits++;
      return n;
    }
    if (n) {
      this.#probation.delete(pgno);
      this.#protect(n);
      this.hits++;
      return n;
    }
    this.misses++;
    return undefined;
  }

  /** Adds a node just read or created. */
  add(node: TreeNode): void {
    if (this.#ghosts.delete(node.pgno)) this.#protect(node);
    else {
      this.#probation.set(node.pgno, node);
      this.#probationOrder.push(node);
      if (this.#probationOrder.length > 2 * this.#probation.size + 1024) {
        this.#probationOrder.retain((x) => this.#probation.get(x.pgno) === x);
      }
    }
    if (this.#shared) this.#report();
  }

  #protect(node: TreeNode): void {
    const slot: Slot = { node, ref: false };
    this.#protected.set(node.pgno, slot);
    this.#clock.push(slot);
    if (this.#clock.length > 2 * this.#protected.size + 1024) {
      this.#clock.retain((x) => this.#protected.get(x.node.pgno) === x);
    }
  }

  #addGhost(pgno: number): void {
    this.#ghosts.add(pgno);
    this.#ghostOrder.push(pgno);
    while (this.#ghosts.size > this.#ghostMax) {
      const oldest = this.#ghostOrder.shift();
      if (oldest === undefined) break;
      this.#ghosts.delete(oldest); // false for a stale entry: go on
    }
    if (this.#ghostOrder.length > 2 * this.#ghosts.size + 1024) {
      this.#ghostOrder.retain((p) => this.#ghosts.has(p));
    }
  }

  remove(pgno: number): void {
    this.#probation.delete(pgno);
    this.#protected.delete(pgno);
    this.#ghosts.delete(pgno);
    if (this.#shared) this.#report();
  }

  /** Tells the shared cache how many bytes this pool holds now. */
  #report(): void {
    const size = this.size;
    if (size !== this.#charged) {
      this.#shared!.charge((size - this.#charged) * this.pageSize);
      this.#charged = size;
    }
  }

  /** Shrinks to the budget (a shared one: across its stores); dirty victims go through `writeBack` first. */
  evict(writeBack: (node: TreeNode) => void): void {
    if (this.#shared) {
      this.#shared.evict(this);
      return;
    }
    while (this.size > this.capacity) this.evictOne(writeBack);
  }

  /** Evicts one page (a protected page given a second chance does not count). */
  evictOne(writeBack: (node: TreeNode) => void): void {
    const before = this.size;
    while (this.size === before && this.size > 0) {
      const fromProbation = this.#probation.size > this.#probationMax || this.#protected.size === 0;
      if (fromProbation) {
        const node = this.#probationOrder.shift()!;
        if (this.#probation.get(node.pgno) !== node) continue; // stale
        if (node.dirty) writeBack(node);
        this.#probation.delete(node.pgno);
        this.evictions++;
        this.#addGhost(node.pgno);
        continue;
      }
      const slot = this.#clock.shift()!;
      const pgno = slot.node.pgno;
      if (this.#protected.get(pgno) !== slot) continue; // stale
      if (slot.ref) {
        // Used since it last came round: second chance at the back of the clock.
        slot.ref = false;
        this.#clock.push(slot);
        continue;
      }
      // Written before it leaves: a failed write must not drop a dirty page.
      if (slot.node.dirty) writeBack(slot.node);
      this.#protected.delete(pgno);
      this.evictions++;
    }
    if (this.#shared) this.#report();
  }

  *nodes(): IterableIterator<TreeNode> {
    yield* this.#probation.values();
    for (const s of this.#protected.values()) yield s.node;
  }

  clear(): void {
    this.#probation.clear();
    this.#probationOrder.clear();
    this.#protected.clear();
    this.#clock.clear();
    this.#ghosts.clear();
    this.#ghostOrder.clear();
    if (this.#shared) this.#report();
  }

  stats(): PoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      pages: this.size,
      capacityPages: this.capacity,
    };
  }
}
