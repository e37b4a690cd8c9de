import type { SecuritySpec } from '../security/collection-security.js';
import type { Transaction } from '../storage/transaction.js';

/**
 * The catalog lives in a reserved tree of the same store, so it commits atomically with the writes that
 * change it (implicit collection creation, index builds) and can never disagree with the data after a crash.
 * Trees are named by numeric ids, never by user names, so long or odd names cannot collide.
 */
export const CATALOG_TREE = '__bundoc/catalog';
export const RESERVED_TREE_PREFIX = '__bundoc/';
const SEQ_KEY = new TextEncoder().encode('seq');
const COLLECTION_PREFIX = 'c:';

export interface IndexField {
  path: string;
  dir: 1 | -1;
}

export interface IndexMeta {
  name: string;
  id: number;
  fields: IndexField[];
  unique: boolean;
  sparse: boolean;
  /** Set once any document put an array into the index; such an index cannot give sort order. */
  multikey: boolean;
  /**
   * Set while an online build fills the index (schema-ops.ts): writes maintain it, queries do not use
   * it. An index still building when the store opens was interrupted by a crash and is dropped.
   */
  building?: true;
}

export interface CollectionMeta {
  name: string;
  id: number;
  createdAt: string;
  indexes: IndexMeta[];
  /** Schema, rules and validationLevel, as normalized by the security layer; absent: none. */
  security?: SecuritySpec;
}

/** The indexes queries may use: `meta.indexes` itself unless one is still being built. */
export function readyIndexes(meta: CollectionMeta): IndexMeta[] {
  const all = meta.indexes;
  for (let i = 0; i < all.length; i++) if (all[i]!.building) return all.filter((ix) => !ix.building);
  return all;
}

/** Document trees are named DOC_TREE_PREFIX + collection id. */
export const DOC_TREE_PREFIX = `${RESERVED_TREE_PREFIX}d/`;
// Tree names of the first CACHED_IDS ids (of any database: a name depends on the id alone), made once:
// a fresh string per call cost its building and, as a Map key in each lookup of the store's catalog, its
// hashing (V8 keeps a string's hash on it). Ids are never reused, so the cache is bounded.
const CACHED_IDS = 1 << 16;
const docTrees: string[] = [];
const indexTrees: string[] = [];

function cachedName(cache: string[], id: number, make: (id: number) => string): string {
  if (!Number.isInteger(id) || id < 0 || id >= CACHED_IDS) return make(id);
  let name = cache[id];
  if (name === undefined) {
    name = make(id);
    cache[id] = name;
  }
  return name;
}

const makeDocTree = (id: number) => `${DOC_TREE_PREFIX}${id}`;
const makeIndexTree = (id: number) => `${RESERVED_TREE_PREFIX}x/${id}`;
export const docTree = (c: CollectionMeta): string => cachedName(docTrees, c.id, makeDocTree);
export const indexTree = (ix: IndexMeta): string => cachedName(indexTrees, ix.id, makeIndexTree);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function collectionKey(name: string): Uint8Array {
  return encoder.encode(COLLECTION_PREFIX + name);
}

export function readCollection(tx: Transaction, name: string): CollectionMeta | undefined {
  const v = tx.get(CATALOG_TREE, collectionKey(name));
  return v === undefined ? undefined : (JSON.parse(decoder.decode(v)) as CollectionMeta);
}

export function writeCollection(tx: Transaction, meta: CollectionMeta): void {
  tx.put(CATALOG_TREE, collectionKey(meta.name), encoder.encode(JSON.stringify(meta)));
}

export function deleteCollection(tx: Transaction, name: string): void {
  tx.delete(CATALOG_TREE, collectionKey(name));
}

export function readAll(tx: Transaction): CollectionMeta[] {
  const out: CollectionMeta[] = [];
  for (const [k, v] of tx.range(CATALOG_TREE)) {
    if (decoder.decode(k).startsWith(COLLECTION_PREFIX)) out.push(JSON.parse(decoder.decode(v)));
  }
  return out;
}

/** Allocates a tree id; ids are never reused, so a half-dropped tree can never be mistaken for a new one. */
export function nextId(tx: Transaction): number {
  const v = tx.get(CATALOG_TREE, SEQ_KEY);
  const id = v === undefined ? 1 : Number(decoder.decode(v)) + 1;
  tx.put(CATALOG_TREE, SEQ_KEY, encoder.encode(String(id)));
  return id;
}

/** Every tree a catalog refers to; anything else under the reserved prefix is a leftover of an interrupted drop. */
export function referencedTrees(metas: readonly CollectionMeta[]): Set<string> {
  const s = new Set<string>([CATALOG_TREE]);
  for (const m of metas) {
    s.add(docTree(m));
    for (const ix of m.indexes) s.add(indexTree(ix));
  }
  return s;
}
