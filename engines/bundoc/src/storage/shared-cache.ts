import type { BufferPool } from './buffer-pool.js';
import { InvalidArgumentError } from './errors.js';
import type { TreeNode } from './node.js';

/** Pages a store keeps however tight the shared budget: its root path and a few leaves. */
export const MIN_STORE_PAGES = 16;

interface Member {
  pool: BufferPool;
  writeBack: (node: TreeNode) => void;
  /** Set when writing one of its pages back failed (a failed store): it is left alone from then on. */
  broken: boolean;
}

export interface SharedCacheStats {
  bytes: number;
  usedBytes: number;
  stores: number;
}

/**
 * One cache budget for many open stores (a server with a database per project). Each store keeps its own
 * 2Q pool; when the pages of all of them exceed the budget, pages are taken first from idle stores — not
 * used during the last budget's worth of page accesses, the least recently used first — then, when all
 * are busy, from the store that holds the most; each pool chooses its own victims. So a busy store takes
 * the memory idle ones leave, busy stores share evenly, and none drops below MIN_STORE_PAGES. Eviction
 * runs between operations (after a store's commit or read), like a private pool's.
 */
export class SharedCache {
  readonly bytes: number;
  #used = 0;
  #tick = 0;
  readonly #members = new Map<BufferPool, Member>();

  constructor(bytes: number) {
    if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) {
      throw new InvalidArgumentError(`shared cache bytes must be a number >= 0, got ${String(bytes)}`);
    }
    this.bytes = bytes;
  }

  get usedBytes(): number {
    return this.#used;
  }

  stats(): SharedCacheStats {
    return { bytes: this.bytes, usedBytes: this.#used, stores: this.#members.size };
  }

  /** A clock for pools' recency (a counter: cheaper than reading the time on every page access). */
  tick(): number {
    return ++this.#tick;
  }

  join(pool: BufferPool, writeBack: (node: TreeNode) => void): void {
    this.#members.set(pool, { pool, writeBack, broken: false });
  }

  leave(pool: BufferPool): void {
    this.#members.delete(pool);
  }

  charge(deltaBytes: number): void {
    this.#used += deltaBytes;
  }

  /**
   * Brings the pages of all stores back within the budget (see the class comment). A write-back failure
   * of `requester` (the store evicting after its own operation) is thrown, as from a private pool.
   */
  evict(requester?: BufferPool): void {
    if (this.#used <= this.bytes) return;
    // Idle: no page access during the last budget's worth of accesses (in pages of 8 KiB).
    const idleBefore = this.#tick - Math.max(64, this.bytes / 8192);
    const idle = [...this.#members.values()]
      .filter((m) => m.pool.lastUse < idleBefore && m.pool !== requester)
      .sort((a, b) => a.pool.lastUse - b.pool.lastUse);
    for (const m of idle) {
      this.#shrink(m, requester, () => true);
      if (this.#used <= this.bytes) return;
    }
    while (this.#used > this.bytes) {
      let victim: Member | undefined;
      let runnerUp = 0;
      for (const m of this.#members.values()) {
        if (m.broken || m.pool.size <= MIN_STORE_PAGES) continue;
        const bytes = m.pool.size * m.pool.pageSize;
        const best = victim ? victim.pool.size * victim.pool.pageSize : -1;
        if (bytes > best || (bytes === best && m.pool.lastUse < victim!.pool.lastUse)) {
          if (victim) runnerUp = Math.max(runnerUp, best);
          victim = m;
        } else runnerUp = Math.max(runnerUp, bytes);
      }
      if (!victim) return; // every store is at its minimum
      // Evict from it until it is no longer the largest (or the budget holds), then choose again.
      const pool = victim.pool;
      this.#shrink(victim, requester, () => pool.size * pool.pageSize >= runnerUp);
    }
  }

  /** Evicts from one store while over budget, above its minimum, and `more()`. */
  #shrink(m: Member, requester: BufferPool | undefined, more: () => boolean): void {
    if (m.broken) return;
    try {
      while (this.#used > this.bytes && m.pool.size > MIN_STORE_PAGES && more()) m.pool.evictOne(m.writeBack);
    } catch (e) {
      if (m.pool === requester) throw e;
      m.broken = true;
    }
  }
}
