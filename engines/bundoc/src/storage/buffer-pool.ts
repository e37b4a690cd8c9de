import type { TreeNode } from './node.js';

export interface PoolStats {
  hits: number;
  misses: number;
  evictions: number;
  pages: number;
  capacityPages: number;
}

/**
 * Node cache with a byte budget and 2Q replacement: first use lands in a small FIFO probation queue, a
 * second use (or a use shortly after being evicted from probation, remembered by a ghost list) promotes
 * to the LRU protected queue. A one-pass scan only churns probation, so the hot set survives it.
 * Eviction runs only between operations (`evict`), never while a caller holds node references.
 */
export class BufferPool {
  readonly capacity: number;
  readonly #probationMax: number;
  readonly #ghostMax: number;
  readonly #probation = new Map<number, TreeNode>();
  readonly #protected = new Map<number, TreeNode>();
  readonly #ghosts = new Set<number>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(cacheBytes: number, pageSize: number) {
    this.capacity = Math.max(16, Math.floor(cacheBytes / pageSize));
    this.#probationMax = Math.max(4, Math.floor(this.capacity / 4));
    this.#ghostMax = Math.max(8, Math.floor(this.capacity / 2));
  }

  get size(): number {
    return this.#probation.size + this.#protected.size;
  }

  get(pgno: number): TreeNode | undefined {
    let n = this.#protected.get(pgno);
    if (n) {
      this.#protected.delete(pgno);
      this.#protected.set(pgno, n);
      this.hits++;
      return n;
    }
    n = this.#probation.get(pgno);
    if (n) {
      this.#probation.delete(pgno);
      this.#protected.set(pgno, n);
      this.hits++;
      return n;
    }
    this.misses++;
    return undefined;
  }

  /** Adds a node just read or created. */
  add(node: TreeNode): void {
    if (this.#ghosts.delete(node.pgno)) this.#protected.set(node.pgno, node);
    else this.#probation.set(node.pgno, node);
  }

  remove(pgno: number): void {
    this.#probation.delete(pgno);
    this.#protected.delete(pgno);
    this.#ghosts.delete(pgno);
  }

  /** Shrinks to the budget; dirty victims go through `writeBack` first. */
  evict(writeBack: (node: TreeNode) => void): void {
    while (this.size > this.capacity) {
      const fromProbation = this.#probation.size > this.#probationMax || this.#protected.size === 0;
      const queue = fromProbation ? this.#probation : this.#protected;
      const first = queue.entries().next().value as [number, TreeNode];
      const [pgno, node] = first;
      if (node.dirty) writeBack(node);
      queue.delete(pgno);
      this.evictions++;
      if (fromProbation) {
        this.#ghosts.add(pgno);
        if (this.#ghosts.size > this.#ghostMax) {
          this.#ghosts.delete(this.#ghosts.values().next().value as number);
        }
      }
    }
  }

  *nodes(): IterableIterator<TreeNode> {
    yield* this.#probation.values();
    yield* this.#protected.values();
  }

  clear(): void {
    this.#probation.clear();
    this.#protected.clear();
    this.#ghosts.clear();
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
