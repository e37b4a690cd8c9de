import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Document } from '../document/codec.js';
import { DocumentCache, type DocumentCacheStats } from '../document/decoded-cache.js';
import type { SecuritySpec } from '../security/collection-security.js';
import { type AuthContext, checkAuthContext } from '../security/context.js';
import { ConflictError, InvalidArgumentError } from '../storage/errors.js';
import { SharedCache } from '../storage/shared-cache.js';
import { Storage, type StorageOptions } from '../storage/storage.js';
import {
  type CollectionMeta,
  DOC_TREE_PREFIX,
  RESERVED_TREE_PREFIX,
  readAll,
  referencedTrees,
  writeCollection,
} from './catalog.js';
import { ChangeStream, type WatchOptions } from './change-stream.js';
import { Collection } from './collection.js';
import { backoff, DbCore, Scope } from './core.js';
import { InvalidOptionError } from './errors.js';
import { checkCollectionName } from './names.js';
import { SchemaOps } from './schema-ops.js';
import type { AuditOptions } from './security-registry.js';

export interface BundocOptions extends Omit<StorageOptions, 'preImages'>, AuditOptions {
  /**
   * Log the version each update and delete replaces, so change events carry it as `before` (live and
   * resumed alike). Costs a lookup per update/delete and the old document's bytes in the WAL. Default false.
   */
  changeStreamPreImages?: boolean;
  /**
   * Budget of a private cache of decoded documents, for workloads that read the same documents again
   * (README: "Decoded-document cache"). Default: the cache set by `Bundoc.configure({
   * documentCacheBytes })`, else none (it slows reads that do not repeat).
   */
  documentCacheBytes?: number;
}

/** What createCollection and setCollectionSecurity accept (see SECURITY.md). */
export type CollectionOptions = SecuritySpec;

export interface TransactionOptions {
  /** How many times the function is run again after a write-write conflict (default 5). */
  retries?: number;
  /** The caller's context for every call on the transaction's collections that does not give its own. */
  ctx?: AuthContext;
}

/** The handle `db.transaction` passes to its callback: collections bound to one snapshot transaction. */
export class DbTransaction {
  readonly #core: DbCore;
  readonly #scope: Scope;
  readonly #ctx: AuthContext | undefined;

  /** @internal */
  constructor(core: DbCore, scope: Scope, ctx: AuthContext | undefined) {
    this.#core = core;
    this.#scope = scope;
    this.#ctx = ctx;
  }

  /** A collection whose reads see this transaction's snapshot plus its own writes. */
  collection<T extends object = Document>(name: string): Collection<T> {
    return new Collection<T>(this.#core, checkCollectionName(name), this.#scope, undefined, this.#ctx);
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
  readonly #streams = new Set<{ close(): void }>();

  private constructor(core: DbCore, tempDir: string | undefined) {
    this.#core = core;
    this.#schema = new SchemaOps(core);
    this.#tempDir = tempDir;
  }

  static #sharedCache: SharedCache | undefined;
  static #sharedDocumentCache: DocumentCache | undefined;

  /**
   * Process-wide settings for databases opened from now on. `cacheBytes`: one page cache budget shared
   * by every database opened without its own `cacheBytes` or `cache`; `documentCacheBytes`: one
   * decoded-document cache shared by every database opened without its own `documentCacheBytes` (null:
   * each gets a private cache again). Databases already open keep the caches they have.
   */
  static configure(settings: { cacheBytes?: number | null; documentCacheBytes?: number | null }): void {
    if (settings === null || typeof settings !== 'object')
      throw new InvalidArgumentError('configure settings must be an object');
    for (const k of Object.keys(settings))
      if (k !== 'cacheBytes' && k !== 'documentCacheBytes')
        throw new InvalidArgumentError(
          `unknown configure setting "${k}" (allowed: cacheBytes, documentCacheBytes)`,
        );
    const { cacheBytes, documentCacheBytes } = settings;
    // Both are built before either is installed, so an invalid value changes nothing.
    const pages = cacheBytes === null || cacheBytes === undefined ? undefined : new SharedCache(cacheBytes);
    const docs =
      documentCacheBytes === null || documentCacheBytes === undefined
        ? undefined
        : new DocumentCache(documentCacheBytes);
    if (cacheBytes !== undefined) Bundoc.#sharedCache = pages;
    if (documentCacheBytes !== undefined) Bundoc.#sharedDocumentCache = docs;
  }

  /** The budget set by configure({ cacheBytes }), for its stats; undefined when none. */
  static get sharedCache(): SharedCache | undefined {
    return Bundoc.#sharedCache;
  }

  /** The cache set by configure({ documentCacheBytes }), for its stats; undefined when none. */
  static get sharedDocumentCache(): DocumentCache | undefined {
    return Bundoc.#sharedDocumentCache;
  }

  /**
   * Opens (or creates) the database in `dir`. `':memory:'` opens a fresh database in a temporary
   * directory that close() removes (durability defaults to 'off' there: nothing outlives the process).
   */
  static async open(dir: string, options: BundocOptions = {}): Promise<Bundoc> {
    if (typeof dir !== 'string' || dir.length === 0)
      throw new InvalidArgumentError('dir must be a non-empty string');
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    const { audit, onAuditError, changeStreamPreImages, documentCacheBytes, ...storageOptions } = options;
    if (changeStreamPreImages !== undefined && typeof changeStreamPreImages !== 'boolean')
      throw new InvalidArgumentError('changeStreamPreImages must be a boolean');
    if ('preImages' in storageOptions)
      throw new InvalidArgumentError('preImages is a storage option: use changeStreamPreImages');
    if (audit !== undefined && typeof audit !== 'function')
      throw new InvalidArgumentError('audit must be a function');
    if (onAuditError !== undefined && typeof onAuditError !== 'function')
      throw new InvalidArgumentError('onAuditError must be a function');
    const docCache = Bundoc.#documentCacheFor(documentCacheBytes);
    let tempDir: string | undefined;
    let opts: StorageOptions = storageOptions;
    if (changeStreamPreImages) opts = { ...opts, preImages: (tree) => tree.startsWith(DOC_TREE_PREFIX) };
    const shared = Bundoc.#sharedCache;
    if (shared && opts.cache === undefined && opts.cacheBytes === undefined)
      opts = { ...opts, cache: shared };
    if (dir === ':memory:') {
      tempDir = await mkdtemp(path.join(tmpdir(), 'bundoc-memory-'));
      dir = tempDir;
      opts = { durability: 'off', ...opts };
    }
    let st: Storage | undefined;
    try {
      st = await Storage.open(dir, opts);
      const tx = st.begin({ readOnly: true });
      const metas = readAll(tx);
      tx.abort();
      await dropInterruptedBuilds(st, metas);
      // Trees of a drop interrupted by a crash: the catalog no longer names them.
      const keep = referencedTrees(metas);
      for (const t of st.trees())
        if (t.startsWith(RESERVED_TREE_PREFIX) && !keep.has(t)) await st.dropTree(t);
      const core = new DbCore(st, metas, docCache.space(), {
        ...(audit ? { audit } : {}),
        ...(onAuditError ? { onAuditError } : {}),
      });
      return new Bundoc(core, tempDir);
    } catch (e) {
      await st?.close().catch(() => {});
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The document cache a database opened with these options uses (validates documentCacheBytes). */
  static #documentCacheFor(bytes: number | undefined): DocumentCache {
    if (bytes !== undefined) return new DocumentCache(bytes); // throws on an invalid budget
    return Bundoc.#sharedDocumentCache ?? Bundoc.#noDocumentCache;
  }

  static readonly #noDocumentCache = new DocumentCache(0);

  /** The document cache's budget, use and hit counts (shared with other databases when configured so). */
  /**
   * The document cache's figures (shared by the databases using one cache), and `shapeTrees`: the
   * collections whose document shapes this database's decoder keeps.
   */
  documentCacheStats(): DocumentCacheStats & { shapeTrees: number } {
    return { ...this.#core.docs.cache.stats(), shapeTrees: this.#core.docs.shapeTrees };
  }

  /** The underlying store (for stats, checkpoints and backups). */
  get storage(): Storage {
    return this.#core.storage;
  }

  /** A collection handle; the collection is created on its first write. Throws on an invalid name. */
  collection<T extends object = Document>(name: string): Collection<T> {
    return new Collection<T>(this.#core, checkCollectionName(name), undefined, this.#schema);
  }

  /**
   * Creates an empty collection with an optional schema, rules and validationLevel (SECURITY.md),
   * compiled and checked now (InvalidSecuritySpecError, InvalidSchemaError, InvalidRuleError) and stored
   * in the catalog in the same transaction. A no-op if the collection exists with the same spec;
   * CollectionExistsError if it exists with another one (change it with setCollectionSecurity).
   */
  async createCollection(name: string, options?: CollectionOptions): Promise<void> {
    checkCollectionName(name);
    const spec = options === undefined ? undefined : this.#core.security.compile(name, options).spec;
    await this.#schema.createCollection(name, spec);
  }

  /**
   * Replaces a collection's schema, rules and validationLevel (undefined or {}: none), with the same
   * checks as createCollection. Existing documents are not re-validated (as MongoDB's collMod):
   * validationLevel says how their later updates are. CollectionNotFoundError if it does not exist.
   */
  async setCollectionSecurity(name: string, spec: CollectionOptions | undefined): Promise<void> {
    checkCollectionName(name);
    const compiled = this.#core.security.compile(name, spec ?? undefined).spec;
    await this.#schema.setSecurity(name, compiled);
  }

  /** A collection's schema, rules and validationLevel as stored (normalized); undefined when none. */
  getCollectionSecurity(name: string): CollectionOptions | undefined {
    this.#core.storage.assertUsable();
    const spec = this.#core.catalog.get(checkCollectionName(name))?.security;
    return spec === undefined ? undefined : structuredClone(spec);
  }

  listCollections(): string[] {
    this.#core.storage.assertUsable();
    return [...this.#core.catalog.keys()].sort();
  }

  /**
   * Drops a collection and its indexes; false if it did not exist. A collection that other collections'
   * schemas reference is refused (CollectionReferencedError) unless `force: true`: their references
   * then point at a collection that does not exist (writes adding one fail with DanglingReferenceError).
   */
  async dropCollection(name: string, options?: { force?: boolean }): Promise<boolean> {
    checkCollectionName(name);
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new InvalidOptionError('dropCollection options must be an object');
    for (const k of Object.keys(options ?? {}))
      if (k !== 'force')
        throw new InvalidOptionError(`unknown dropCollection option "${k}" (allowed: force)`);
    const force = options?.force ?? false;
    if (typeof force !== 'boolean') throw new InvalidOptionError('force must be a boolean');
    return this.#schema.dropCollection(name, force);
  }

  /**
   * Runs `fn` in one snapshot transaction across collections and commits it atomically; on a write-write
   * conflict the whole function is run again (up to `retries` times, default 5), so it must be safe to
   * repeat. `ctx` is the default caller context of the transaction's collections. Index and collection drops cannot run inside; a non-transactional write from inside `fn`
   * may wait for a schema change that waits for this transaction.
   */
  async transaction<R>(fn: (tx: DbTransaction) => Promise<R> | R, options?: TransactionOptions): Promise<R> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a function');
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new InvalidArgumentError('transaction options must be an object');
    for (const k of Object.keys(options ?? {}))
      if (k !== 'retries' && k !== 'ctx')
        throw new InvalidArgumentError(`unknown transaction option "${k}" (allowed: retries, ctx)`);
    const ctx = options?.ctx === undefined ? undefined : checkAuthContext(options.ctx);
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
          const result = await fn(new DbTransaction(core, scope, ctx));
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

  /**
   * A change stream: every committed write from now on (or after `resumeAfter`, an LSN) as an event, in
   * commit order, with the whole document after the change. See ChangeStream and WatchOptions. For a
   * caller the rules apply to, events are those of documents its list rule allows (so no deletes).
   */
  watch<T extends object = Document>(options?: WatchOptions): ChangeStream<T> {
    this.#core.storage.assertUsable();
    const stream = new ChangeStream<T>(this.#core, options, (s) => this.#streams.delete(s));
    if (!stream.closed) this.#streams.add(stream);
    return stream;
  }

  /** Flushes and closes the store (ending every change stream); a ':memory:' database's directory is removed. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#core.closing = true; // index builds stop at their next batch
      for (const s of [...this.#streams]) s.close();
      try {
        await this.#core.storage.close();
      } finally {
        this.#core.docs.forget();
        if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
      }
    })();
    return this.#closing;
  }
}

/**
 * Removes from the catalog (and from `metas`) the indexes whose online build a crash or a close
 * interrupted: the createIndex that started one never returned. Their trees are then orphans, which the
 * open drops.
 */
async function dropInterruptedBuilds(st: Storage, metas: CollectionMeta[]): Promise<void> {
  const touched = metas.filter((m) => m.indexes.some((ix) => ix.building));
  if (touched.length === 0) return;
  const tx = st.begin();
  for (const m of touched) {
    const next: CollectionMeta = { ...m, indexes: m.indexes.filter((ix) => !ix.building) };
    writeCollection(tx, next);
    metas[metas.indexOf(m)] = next;
  }
  await tx.commit();
}
