import type { DocumentCacheSpace } from '../document/decoded-cache.js';
import { ConflictError } from '../storage/errors.js';
import type { PutNote } from '../storage/ops.js';
import type { Storage } from '../storage/storage.js';
import type { Transaction } from '../storage/transaction.js';
import { type CollectionMeta, type IndexMeta, nextId, readCollection, writeCollection } from './catalog.js';
import { IndexKeyer } from './index-keys.js';
import { SharedExclusiveLock } from './rwlock.js';
import { type AuditOptions, SecurityRegistry } from './security-registry.js';

/** Internal retries of single-operation writes that lose a write-write race (e.g. creating one collection twice). */
export const WRITE_RETRIES = 20;

/**
 * State shared by a database's collections: the store, the catalog as last committed (kept in memory so
 * writes need no catalog read), compiled index keyers and security, and the lock that orders schema
 * changes and writes.
 */
export class DbCore {
  readonly storage: Storage;
  readonly catalog = new Map<string, CollectionMeta>();
  readonly lock = new SharedExclusiveLock();
  readonly security: SecurityRegistry;
  /** Decoded documents kept for repeated reads (this database's space of its document cache). */
  readonly docs: DocumentCacheSpace;
  readonly #keyers = new Map<number, IndexKeyer>();
  /** Set when the database begins to close. */
  closing = false;
  /** Indexes whose multikey flag the committed catalog has (the in-memory flag may run ahead of it). */
  readonly multikeyStored = new Set<number>();

  /** Compiles every stored security spec: a spec that no longer compiles fails the open (fail closed). */
  constructor(
    storage: Storage,
    metas: readonly CollectionMeta[],
    docs: DocumentCacheSpace,
    audit: AuditOptions = {},
  ) {
    this.storage = storage;
    this.docs = docs;
    this.security = new SecurityRegistry(audit);
    for (const m of metas) {
      this.catalog.set(m.name, m);
      this.security.set(m.name, m);
      this.#noteStored(m);
    }
  }

  keyer(ix: IndexMeta): IndexKeyer {
    let k = this.#keyers.get(ix.id);
    if (!k || k.meta !== ix) {
      k = new IndexKeyer(ix, this.storage.maxKey);
      this.#keyers.set(ix.id, k);
    }
    return k;
  }

  #noteStored(meta: CollectionMeta): void {
    for (const ix of meta.indexes) if (ix.multikey) this.multikeyStored.add(ix.id);
  }

  /** Makes a committed scope's catalog changes visible to later operations. */
  install(scope: Scope): void {
    for (const id of scope.multikeyMarked()) this.multikeyStored.add(id);
    for (const [name, meta] of scope.createdEntries()) {
      this.#noteStored(meta);
      const cur = this.catalog.get(name);
      // Schema changes replace the entry (under the exclusive lock); implicit creation only fills a gap.
      if (scope.schemaChange || !cur || cur.id !== meta.id) {
        this.catalog.set(name, meta);
        this.security.set(name, meta);
      } else
        for (const ix of meta.indexes)
          if (ix.multikey) cur.indexes.find((x) => x.id === ix.id)!.multikey = true;
    }
  }

  /** A read-only snapshot for one read operation; the catalog is captured in the same tick. */
  read<T>(scope: Scope | undefined, fn: (s: Scope) => T): T {
    if (scope) {
      if (scope.poisoned !== undefined) throw scope.poisoned;
      return fn(scope);
    }
    const s = new Scope(this, this.storage.begin({ readOnly: true }));
    try {
      return fn(s);
    } finally {
      s.tx.abort();
    }
  }

  /** Removes a dropped collection from the in-memory catalog and security. */
  forget(name: string): void {
    this.catalog.delete(name);
    this.security.set(name, undefined);
  }

  /**
   * Runs `fn` as one storage transaction (or inside the caller's transaction scope), retrying on
   * write-write conflicts; a failure leaves nothing written.
   */
  async write<T>(scope: Scope | undefined, fn: (s: Scope) => T | Promise<T>, selfAtomic = false): Promise<T> {
    if (scope) return scope.guard(() => fn(scope), selfAtomic);
    const wait = this.lock.acquireShared();
    if (wait) await wait;
    try {
      for (let attempt = 0; ; attempt++) {
        const s = new Scope(this, this.storage.begin());
        try {
          const r = fn(s);
          const result = r instanceof Promise ? await r : r; // most writes are synchronous: no extra tick
          await s.tx.commit();
          this.install(s);
          return result;
        } catch (e) {
          s.tx.abort();
          if (!(e instanceof ConflictError) || attempt >= WRITE_RETRIES) throw e;
          await backoff(attempt);
        }
      }
    } finally {
      this.lock.releaseShared();
    }
  }
}

export function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 1 + attempt * 2)));
}

const NO_CREATED: ReadonlyMap<string, CollectionMeta> = new Map();
const NO_IDS: readonly number[] = [];

/** One storage transaction plus the catalog changes it made (visible to itself before commit). */
export class Scope {
  readonly core: DbCore;
  readonly tx: Transaction;
  #created: Map<string, CollectionMeta> | undefined;
  /** Set by index builds and drops, whose catalog entries replace the installed ones. */
  schemaChange = false;
  /**
   * Set when an operation that waited while others ran failed after writing part of its changes (see
   * guard): the transaction can neither read, write nor commit.
   */
  poisoned: unknown;
  /** Operations started in this scope (see guard). */
  #started = 0;
  /** Operations whose function returned a promise that has not settled (see guard). */
  #pending = 0;
  #multikey: Set<number> | undefined;

  constructor(core: DbCore, tx: Transaction) {
    this.core = core;
    this.tx = tx;
  }

  /** The collections this scope created or changed (made on first use: most scopes change none). */
  get created(): Map<string, CollectionMeta> {
    this.#created ??= new Map();
    return this.#created;
  }

  /** The entries of `created`, without making the map. */
  createdEntries(): Iterable<[string, CollectionMeta]> {
    return this.#created ?? NO_CREATED;
  }

  meta(name: string): CollectionMeta | undefined {
    return this.#created?.get(name) ?? this.core.catalog.get(name) ?? this.#stored(name);
  }

  /** A collection committed moments ago may not be installed yet; the snapshot is the truth. */
  #stored(name: string): CollectionMeta | undefined {
    const m = readCollection(this.tx, name);
    if (m) this.created.set(name, m);
    return m;
  }

  /** The collection's metadata, creating the collection (in this transaction) on first write. */
  ensure(name: string): CollectionMeta {
    const m = this.meta(name);
    if (m) return m;
    const meta: CollectionMeta = {
      name,
      id: nextId(this.tx),
      createdAt: new Date().toISOString(),
      indexes: [],
    };
    writeCollection(this.tx, meta);
    this.created.set(name, meta);
    return meta;
  }

  /**
   * Records that an index now holds arrays. The in-memory flag is set at once: planners that read it
   * before the commit only lose the sort and bound-intersection shortcuts, never results. The catalog
   * entry is written in this transaction unless the committed catalog has the flag already — decided by
   * what is committed, not by the in-memory flag, which an attempt that conflicted or failed may have set.
   */
  markMultikey(meta: CollectionMeta, ix: IndexMeta): void {
    ix.multikey = true;
    if (this.core.multikeyStored.has(ix.id) || this.#multikey?.has(ix.id)) return;
    this.#multikey ??= new Set();
    this.#multikey.add(ix.id);
    const stored = readCollection(this.tx, meta.name) ?? meta;
    const six = stored.indexes.find((x) => x.id === ix.id);
    if (six && !six.multikey) {
      six.multikey = true;
      writeCollection(this.tx, stored);
    }
  }

  /** Indexes whose multikey flag this scope made sure the catalog has once it commits. */
  multikeyMarked(): Iterable<number> {
    return this.#multikey ?? NO_IDS;
  }

  put(tree: string, key: Uint8Array, value: Uint8Array, note?: PutNote): void {
    this.tx.put(tree, key, value, note);
  }

  delete(tree: string, key: Uint8Array): void {
    this.tx.delete(tree, key);
  }

  /**
   * Runs `fn`, a synchronous stretch of writes, as one: if it throws, its writes are taken back (and the
   * catalog entries and multikey marks it made). For operations that wait before writing (see guard).
   */
  atomically<T>(fn: () => T): T {
    const mark = this.tx.savepoint();
    const created = this.#created === undefined ? undefined : new Map(this.#created);
    const multikey = this.#multikey === undefined ? undefined : new Set(this.#multikey);
    try {
      return fn();
    } catch (e) {
      this.tx.rollbackToSavepoint(mark);
      this.#created = created;
      this.#multikey = multikey;
      throw e;
    } finally {
      this.tx.releaseSavepoint();
    }
  }

  /**
   * Inside a user transaction: an operation that fails takes back what it wrote (a savepoint) and the
   * transaction goes on as if it had not run, as a statement in SQLite. An operation whose work is
   * synchronous (every write but deletes, which may wait for reference reads) runs alone, so its writes
   * are exactly those after its savepoint. One that waits may see other operations of the transaction
   * run meanwhile (not awaited one after the other), whose writes then mingle with its own: such an
   * operation makes its writes in one synchronous stretch under atomically(), which takes them back on
   * failure (`selfAtomic`: deletes). Where one that is not fails after writing, the transaction becomes
   * unusable instead (its reads, writes and commit throw).
   */
  async guard<T>(fn: () => T | Promise<T>, selfAtomic = false): Promise<T> {
    if (this.poisoned !== undefined) throw this.poisoned;
    const mark = this.tx.savepoint();
    const started = ++this.#started;
    const alone = this.#pending === 0;
    // What the savepoint must restore besides the writes: catalog entries (collections the operation
    // created implicitly) and multikey marks (whose catalog writes it takes back).
    const created = this.#created === undefined ? undefined : new Map(this.#created);
    const multikey = this.#multikey === undefined ? undefined : new Set(this.#multikey);
    let waited = false;
    try {
      const r = fn();
      if (!(r instanceof Promise)) return r;
      waited = true;
      this.#pending++;
      try {
        return await r;
      } finally {
        this.#pending--;
      }
    } catch (e) {
      // Every write counts, catalog entries and reference touches included (the savepoint sees them all).
      if (this.tx.writtenSince(mark)) {
        if (!waited || (alone && this.#started === started)) {
          this.tx.rollbackToSavepoint(mark);
          this.#created = created;
          this.#multikey = multikey;
        } else if (!selfAtomic) this.poisoned = e;
      }
      throw e;
    } finally {
      this.tx.releaseSavepoint();
    }
  }
}
