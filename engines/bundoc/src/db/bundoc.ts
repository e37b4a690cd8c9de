import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Document } from '../document/codec.js';
import { ConflictError, InvalidArgumentError } from '../storage/errors.js';
import { Storage, type StorageOptions } from '../storage/storage.js';
import { RESERVED_TREE_PREFIX, readAll, referencedTrees } from './catalog.js';
import { Collection } from './collection.js';
import { backoff, DbCore, Scope } from './core.js';
import { InvalidOptionError } from './errors.js';
import { checkCollectionName } from './names.js';
import { SchemaOps } from './schema-ops.js';

export type BundocOptions = StorageOptions;

/** The handle `db.transaction` passes to its callback: collections bound to one snapshot transaction. */
export class DbTransaction {
  readonly #core: DbCore;
  readonly #scope: Scope;

  /** @internal */
  constructor(core: DbCore, scope: Scope) {
    this.#core = core;
    this.#scope = scope;
  }

  /** A collection whose reads see this transaction's snapshot plus its own writes. */
  collection<T extends object = Document>(name: string): Collection<T> {
    return new Collection<T>(this.#core, checkCollectionName(name), this.#scope, undefined);
  }
}

/**
 * A document database in one directory: collections of JSON documents with secondary indexes, MongoDB
 * queries and snapshot transactions, over one Storage (catalog included, no side files).
 */
export class Bundoc {
  readonly #core: DbCore;
  readonly #schema: SchemaOps;
  readonly #tempDir: string | undefined;
  #closing: Promise<void> | undefined;

  private constructor(core: DbCore, tempDir: string | undefined) {
    this.#core = core;
    this.#schema = new SchemaOps(core);
    this.#tempDir = tempDir;
  }

  /**
   * Opens (or creates) the database in `dir`. `':memory:'` opens a fresh database in a temporary
   * directory that close() removes (durability defaults to 'off' there: nothing outlives the process).
   */
  static async open(dir: string, options: BundocOptions = {}): Promise<Bundoc> {
    if (typeof dir !== 'string' || dir.length === 0)
      throw new InvalidArgumentError('dir must be a non-empty string');
    let tempDir: string | undefined;
    let opts = options;
    if (dir === ':memory:') {
      tempDir = await mkdtemp(path.join(tmpdir(), 'bundoc-memory-'));
      dir = tempDir;
      opts = { durability: 'off', ...options };
    }
    let st: Storage | undefined;
    try {
      st = await Storage.open(dir, opts);
      const tx = st.begin({ readOnly: true });
      const metas = readAll(tx);
      tx.abort();
      // Trees of a drop interrupted by a crash: the catalog no longer names them.
      const keep = referencedTrees(metas);
      for (const t of st.trees())
        if (t.startsWith(RESERVED_TREE_PREFIX) && !keep.has(t)) await st.dropTree(t);
      return new Bundoc(new DbCore(st, metas), tempDir);
    } catch (e) {
      await st?.close().catch(() => {});
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The underlying store (for stats, checkpoints and backups). */
  get storage(): Storage {
    return this.#core.storage;
  }

  /** A collection handle; the collection is created on its first write. Throws on an invalid name. */
  collection<T extends object = Document>(name: string): Collection<T> {
    return new Collection<T>(this.#core, checkCollectionName(name), undefined, this.#schema);
  }

  /** Creates an empty collection (no-op if it exists). Schemas and rules are not supported yet. */
  async createCollection(name: string, options?: Record<string, unknown>): Promise<void> {
    checkCollectionName(name);
    if (options !== undefined && Object.keys(options).length > 0) {
      throw new InvalidOptionError(
        `createCollection options (${Object.keys(options).join(', ')}) are not supported yet`,
      );
    }
    await this.#schema.createCollection(name);
  }

  listCollections(): string[] {
    this.#core.storage.assertUsable();
    return [...this.#core.catalog.keys()].sort();
  }

  /** Drops a collection and its indexes; false if it did not exist. */
  async dropCollection(name: string): Promise<boolean> {
    return this.#schema.dropCollection(checkCollectionName(name));
  }

  /**
   * Runs `fn` in one snapshot transaction across collections and commits it atomically; on a write-write
   * conflict the whole function is run again (up to `retries` times, default 5), so it must be safe to
   * repeat. Index and collection drops cannot run inside; a non-transactional write from inside `fn`
   * may wait for a schema change that waits for this transaction.
   */
  async transaction<R>(
    fn: (tx: DbTransaction) => Promise<R> | R,
    options?: { retries?: number },
  ): Promise<R> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a function');
    const retries = options?.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 0)
      throw new InvalidArgumentError('retries must be an integer >= 0');
    const core = this.#core;
    const wait = core.lock.acquireShared();
    if (wait) await wait;
    try {
      for (let attempt = 0; ; attempt++) {
        const scope = new Scope(core, core.storage.begin());
        try {
          const result = await fn(new DbTransaction(core, scope));
          if (scope.poisoned !== undefined) throw scope.poisoned;
          await scope.tx.commit();
          core.install(scope);
          return result;
        } catch (e) {
          scope.tx.abort();
          if (!(e instanceof ConflictError) || attempt >= retries) throw e;
          await backoff(attempt);
        }
      }
    } finally {
      core.lock.releaseShared();
    }
  }

  /** Flushes and closes the store; a ':memory:' database's directory is removed. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#core.storage.close();
      } finally {
        if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
      }
    })();
    return this.#closing;
  }
}
