import { decodeDocument } from '../document/codec.js';
import type { SecuritySpec } from '../security/collection-security.js';
import { ClosedError, ConflictError } from '../storage/errors.js';
import {
  type CollectionMeta,
  deleteCollection,
  docTree,
  type IndexMeta,
  indexTree,
  nextId,
  readCollection,
  writeCollection,
} from './catalog.js';
import { type DbCore, Scope } from './core.js';
import {
  CollectionExistsError,
  CollectionNotFoundError,
  CollectionReferencedError,
  DuplicateKeyError,
  IndexBuildAbortedError,
  IndexNotFoundError,
  InvalidIndexError,
} from './errors.js';
import {
  ID_INDEX_NAME,
  MAX_INDEXES_PER_COLLECTION,
  parseIndexSpec,
  sameIndex,
  sameKeyPattern,
} from './index-spec.js';
import { isEmptySpec } from './security-registry.js';
import { bytesEqual } from './writes.js';

/**
 * `batch`: documents an online index build indexes per transaction; a collection of at most this many
 * is indexed in the transaction that adds the index, under the lock (no build to track for small
 * collections). @internal Mutable so that tests can run builds of many batches over few documents.
 */
export const indexBuildTuning = { batch: 1000 };

/** Adds the index entries of one stored document (checking a unique index's keys) inside `s`. */
function indexDocument(
  s: Scope,
  meta: CollectionMeta,
  ix: IndexMeta,
  key: Uint8Array,
  bytes: Uint8Array,
): void {
  const keyer = s.core.keyer(ix);
  const doc = decodeDocument(bytes);
  const e = keyer.entries(doc, key);
  if (!e) return;
  if (e.multikey) {
    if (ix.building) s.markMultikey(meta, ix);
    else ix.multikey = true; // a new index: its catalog entry is written after
  }
  const tree = keyer.tree;
  for (const k of e.keys) {
    if (ix.unique) {
      const holder = s.tx.get(tree, k);
      if (holder !== undefined && !bytesEqual(holder, key)) {
        throw new DuplicateKeyError(meta.name, ix.name, keyer.valuesOf(doc));
      }
    }
    s.put(tree, k, key);
  }
}

/** Whether a catalog entry carries `spec` (undefined or empty: none). */
function sameSecurity(meta: CollectionMeta, spec: SecuritySpec | undefined): boolean {
  const a = meta.security === undefined || isEmptySpec(meta.security) ? undefined : meta.security;
  const b = spec === undefined || isEmptySpec(spec) ? undefined : spec;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `meta` carrying `spec` (normalized, already checked). */
function withSecurity(meta: CollectionMeta, spec: SecuritySpec | undefined): CollectionMeta {
  const { security: _old, ...rest } = meta;
  return spec === undefined || isEmptySpec(spec) ? rest : { ...rest, security: spec };
}

/**
 * Schema changes. Each holds the lock alone, so no document write is in flight while the catalog
 * changes or a tree is dropped; a large collection's index is filled online, between two such changes
 * (see createIndex).
 */
export class SchemaOps {
  readonly #core: DbCore;
  /** Online index builds in progress, by index id. */
  readonly #builds = new Map<number, Promise<void>>();

  constructor(core: DbCore) {
    this.#core = core;
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#core.lock.acquireExclusive();
    try {
      return await fn();
    } finally {
      this.#core.lock.releaseExclusive();
    }
  }

  /** Runs one catalog-changing transaction and installs the new catalog entry after it commits. */
  async #commit(fn: (s: Scope) => CollectionMeta | undefined): Promise<CollectionMeta | undefined> {
    const s = new Scope(this.#core, this.#core.storage.begin());
    s.schemaChange = true;
    try {
      const meta = fn(s);
      await s.tx.commit();
      this.#core.install(s);
      return meta;
    } catch (e) {
      s.tx.abort();
      throw e;
    }
  }

  /** Creates `name` with `spec` (checked by the caller); a no-op if it exists with the same spec. */
  async createCollection(name: string, spec: SecuritySpec | undefined): Promise<void> {
    await this.#exclusive(async () => {
      const current = this.#core.catalog.get(name);
      if (current) {
        if (spec !== undefined && !sameSecurity(current, spec)) throw new CollectionExistsError(name);
        return;
      }
      await this.#commit((s) => {
        const created = s.meta(name) === undefined;
        const meta = s.ensure(name);
        if (!created && spec !== undefined && !sameSecurity(meta, spec))
          throw new CollectionExistsError(name);
        if (!created) return meta;
        const next = withSecurity(meta, spec);
        writeCollection(s.tx, next);
        s.created.set(name, next);
        return next;
      });
      this.#core.security.audit(name, 'createCollection');
    });
  }

  /** Replaces the security spec of an existing collection (checked by the caller). */
  async setSecurity(name: string, spec: SecuritySpec | undefined): Promise<void> {
    await this.#exclusive(async () => {
      const meta = this.#core.catalog.get(name);
      if (!meta) throw new CollectionNotFoundError(name);
      await this.#commit((s) => {
        const next = withSecurity(meta, spec);
        writeCollection(s.tx, next);
        s.created.set(name, next);
        return next;
      });
      this.#core.security.audit(name, 'setCollectionSecurity');
    });
  }

  async dropCollection(name: string, force: boolean): Promise<boolean> {
    return this.#exclusive(async () => {
      const meta = this.#core.catalog.get(name);
      if (!meta) return false;
      const referencedBy = this.#core.security.referencing(name);
      if (referencedBy.length > 0 && !force) throw new CollectionReferencedError(name, referencedBy);
      await this.#commit((s) => {
        deleteCollection(s.tx, name);
        return undefined;
      });
      this.#core.forget(name);
      this.#core.security.audit(name, 'dropCollection');
      // Trees go after the catalog entry commits; a crash in between leaves orphans that open() drops.
      await this.#core.storage.dropTree(docTree(meta));
      this.#core.docs.forgetTree(docTree(meta));
      for (const ix of meta.indexes) await this.#core.storage.dropTree(indexTree(ix));
      return true;
    });
  }

  /**
   * Creates an index (a no-op when the same one exists; waits for it while it is being built). A
   * collection of at most indexBuildTuning.batch (1000) documents is indexed at once, in the
   * transaction that adds the index. A larger one is built online: the index is added as building
   * (writes maintain it from then on, queries do not use it), its documents are indexed in batches of
   * their own transactions while other writes go on, and a last transaction makes it ready. A batch and a write that change
   * the same document write the same index key (the batch puts the key of the version it read, the write
   * deletes it), so one of them conflicts and retries on the other's result. Duplicates under a unique
   * index, found by a batch, fail the build and drop the index, as does a drop of the index or its
   * collection meanwhile (IndexBuildAbortedError).
   */
  async createIndex(collection: string, spec: unknown, options: unknown): Promise<string> {
    const parsed = parseIndexSpec(spec, options);
    // The build comes back wrapped: an async function returning a promise would wait for it, holding
    // the lock that the build's batches need.
    const pending = await this.#exclusive(async (): Promise<{ build?: Promise<void> }> => {
      const current = this.#core.catalog.get(collection);
      for (const ix of current?.indexes ?? []) {
        if (ix.name === parsed.name) {
          if (sameIndex(parsed, ix)) return { build: ix.building ? this.#builds.get(ix.id) : undefined };
          throw new InvalidIndexError(`index "${parsed.name}" already exists with a different definition`);
        }
        if (sameKeyPattern(parsed, ix)) {
          throw new InvalidIndexError(`an index on the same keys already exists: "${ix.name}"`);
        }
      }
      if ((current?.indexes.length ?? 0) >= MAX_INDEXES_PER_COLLECTION) {
        throw new InvalidIndexError(`a collection can have at most ${MAX_INDEXES_PER_COLLECTION} indexes`);
      }
      let building: { meta: CollectionMeta; ix: IndexMeta } | undefined;
      await this.#commit((s) => {
        const meta = s.ensure(collection);
        const ix: IndexMeta = { ...parsed, id: nextId(s.tx), multikey: false };
        const first = [...s.tx.range(docTree(meta), { limit: indexBuildTuning.batch + 1 })];
        if (first.length > indexBuildTuning.batch) ix.building = true;
        else for (const [key, bytes] of first) indexDocument(s, meta, ix, key, bytes);
        const next: CollectionMeta = { ...meta, indexes: [...meta.indexes, ix] };
        writeCollection(s.tx, next);
        s.created.set(collection, next);
        if (ix.building) building = { meta: next, ix };
        return next;
      });
      if (building === undefined) return {};
      // Registered before the lock is let go, so a second createIndex of it finds the build.
      const { id } = building.ix;
      const done = this.#build(building.meta, building.ix);
      this.#builds.set(id, done);
      const forget = () => this.#builds.delete(id);
      done.then(forget, forget);
      return { build: done };
    });
    if (pending.build !== undefined) await pending.build;
    return parsed.name;
  }

  /** The online part of createIndex: the batches, then the switch to ready (or the index's removal). */
  async #build(meta: CollectionMeta, ix: IndexMeta): Promise<void> {
    const { name: collection, id: collectionId } = meta;
    // Each step finds the index in the catalog as it is now: gone means dropped meanwhile.
    const live = (current: CollectionMeta | undefined): IndexMeta => {
      const found = current?.id === collectionId ? current.indexes.find((x) => x.id === ix.id) : undefined;
      if (found === undefined || !found.building) {
        throw new IndexBuildAbortedError(collection, ix.name, 'the index or its collection was dropped');
      }
      return found;
    };
    try {
      let after: Uint8Array | undefined;
      let batch = indexBuildTuning.batch;
      for (;;) {
        if (this.#core.closing) throw new ClosedError('database');
        let done = false;
        try {
          after = await this.#core.write(undefined, (s) => {
            const current = s.meta(collection)!;
            const index = live(current);
            let last = after;
            let n = 0;
            const range = after === undefined ? { limit: batch } : { gt: after, limit: batch };
            for (const [key, bytes] of s.tx.range(docTree(current), range)) {
              indexDocument(s, current, index, key, bytes);
              last = key;
              n++;
            }
            done = n < batch;
            return last;
          });
        } catch (e) {
          // A batch that keeps meeting writes of its documents gets smaller.
          if (e instanceof ConflictError && batch > 1) {
            batch >>= 1;
            continue;
          }
          throw e;
        }
        if (done) break;
        batch = Math.min(indexBuildTuning.batch, batch * 2);
      }
      await this.#exclusive(() =>
        this.#commit((s) => {
          const stored = readCollection(s.tx, collection);
          const index = live(stored);
          const { building: _done, ...ready } = index;
          const next: CollectionMeta = {
            ...stored!,
            indexes: stored!.indexes.map((x) => (x === index ? ready : x)),
          };
          writeCollection(s.tx, next);
          s.created.set(collection, next);
          return next;
        }),
      );
    } catch (e) {
      // Not while the database closes: its next open drops the index.
      if (!this.#core.closing) await this.#abandon(collection, collectionId, ix.id).catch(() => {});
      throw e;
    }
  }

  /** Removes a failed build's index, unless a drop of it or of its collection did already. */
  async #abandon(collection: string, collectionId: number, id: number): Promise<void> {
    await this.#exclusive(async () => {
      const meta = this.#core.catalog.get(collection);
      const ix = meta?.id === collectionId ? meta.indexes.find((x) => x.id === id) : undefined;
      if (meta === undefined || ix === undefined) return;
      await this.#commit((s) => {
        const stored = readCollection(s.tx, collection) ?? meta;
        const next: CollectionMeta = { ...stored, indexes: stored.indexes.filter((x) => x.id !== id) };
        writeCollection(s.tx, next);
        s.created.set(collection, next);
        return next;
      });
      await this.#core.storage.dropTree(indexTree(ix));
    });
  }

  async dropIndex(collection: string, name: string): Promise<void> {
    if (name === ID_INDEX_NAME) throw new InvalidIndexError('the _id index cannot be dropped');
    await this.#exclusive(async () => {
      const meta = this.#core.catalog.get(collection);
      const ix = meta?.indexes.find((x) => x.name === name);
      if (!meta || !ix) throw new IndexNotFoundError(collection, String(name));
      await this.#commit((s) => {
        const next: CollectionMeta = { ...meta, indexes: meta.indexes.filter((x) => x !== ix) };
        writeCollection(s.tx, next);
        s.created.set(collection, next);
        return next;
      });
      await this.#core.storage.dropTree(indexTree(ix));
    });
  }
}
