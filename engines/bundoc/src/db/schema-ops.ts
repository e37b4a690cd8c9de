import { decodeDocument } from '../document/codec.js';
import type { SecuritySpec } from '../security/collection-security.js';
import {
  type CollectionMeta,
  deleteCollection,
  docTree,
  type IndexMeta,
  indexTree,
  nextId,
  writeCollection,
} from './catalog.js';
import { type DbCore, Scope } from './core.js';
import {
  CollectionExistsError,
  CollectionNotFoundError,
  CollectionReferencedError,
  DuplicateKeyError,
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
 * Schema changes. Each holds the lock alone, so no document write is in flight while an index is built
 * or a tree is dropped; the build reads every document in one transaction (writes wait meanwhile: the
 * build is atomic and crash-safe, but not yet online).
 */
export class SchemaOps {
  readonly #core: DbCore;

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

  async createIndex(collection: string, spec: unknown, options: unknown): Promise<string> {
    const parsed = parseIndexSpec(spec, options);
    return this.#exclusive(async () => {
      const current = this.#core.catalog.get(collection);
      for (const ix of current?.indexes ?? []) {
        if (ix.name === parsed.name) {
          if (sameIndex(parsed, ix)) return ix.name;
          throw new InvalidIndexError(`index "${parsed.name}" already exists with a different definition`);
        }
        if (sameKeyPattern(parsed, ix)) {
          throw new InvalidIndexError(`an index on the same keys already exists: "${ix.name}"`);
        }
      }
      if ((current?.indexes.length ?? 0) >= MAX_INDEXES_PER_COLLECTION) {
        throw new InvalidIndexError(`a collection can have at most ${MAX_INDEXES_PER_COLLECTION} indexes`);
      }
      await this.#commit((s) => {
        const meta = s.ensure(collection);
        const ix: IndexMeta = { ...parsed, id: nextId(s.tx), multikey: false };
        const keyer = this.#core.keyer(ix);
        const tree = indexTree(ix);
        for (const [key, bytes] of s.tx.range(docTree(meta))) {
          const doc = decodeDocument(bytes);
          const e = keyer.entries(doc, key);
          if (!e) continue;
          if (e.multikey) ix.multikey = true;
          for (const k of e.keys) {
            if (ix.unique && s.tx.get(tree, k) !== undefined) {
              throw new DuplicateKeyError(collection, ix.name, keyer.valuesOf(doc));
            }
            s.tx.put(tree, k, key);
          }
        }
        const next: CollectionMeta = { ...meta, indexes: [...meta.indexes, ix] };
        writeCollection(s.tx, next);
        s.created.set(collection, next);
        return next;
      });
      return parsed.name;
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
