import { decodeDocument } from '../document/codec.js';
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
import { DuplicateKeyError, IndexNotFoundError, InvalidIndexError } from './errors.js';
import {
  ID_INDEX_NAME,
  MAX_INDEXES_PER_COLLECTION,
  parseIndexSpec,
  sameIndex,
  sameKeyPattern,
} from './index-spec.js';

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

  async createCollection(name: string): Promise<void> {
    await this.#exclusive(() => this.#commit((s) => s.ensure(name)));
  }

  async dropCollection(name: string): Promise<boolean> {
    return this.#exclusive(async () => {
      const meta = this.#core.catalog.get(name);
      if (!meta) return false;
      await this.#commit((s) => {
        deleteCollection(s.tx, name);
        return undefined;
      });
      this.#core.catalog.delete(name);
      // Trees go after the catalog entry commits; a crash in between leaves orphans that open() drops.
      await this.#core.storage.dropTree(docTree(meta));
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
