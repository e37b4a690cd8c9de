import { ByteArena } from '../storage/copy-out.js';
import { InvalidArgumentError } from '../storage/errors.js';
import {
  type Document,
  documentJson,
  isPlainDocumentAt,
  parseDocumentJson,
  parsePlainDocumentAt,
} from './codec.js';
import { DecodeShapes } from './json-decode.js';
import { cloneValue } from './validate.js';

/**
 * Decoded documents kept for repeated reads of larger documents. A cached document is handed out as a
 * clone (cloneValue: new objects and arrays, the same immutable strings): for a small document that
 * costs about what decoding it does (json-decode.ts), so documents under MIN_CACHED_BYTES that are not
 * compressed are always decoded and never looked up; long strings and compressed documents are where a
 * clone saves the decoding (measured, reads of a hot set: ~500-byte documents 5-10% slower through the
 * cache, ~1 KB ones about even, compressed 1.3 KB ones 2-3 times faster).
 *
 * Entries are found by a hash of database, tree and document key, but trusted only by content: an entry
 * holds a copy of the stored bytes it was decoded from, and is used only when the bytes a read finds are
 * equal (equal bytes are the same document, whatever the key). So snapshots, updates, deletes, dropped
 * and re-created collections, rollbacks, replication and hash collisions need no invalidation: a stale
 * entry simply does not match, and is replaced.
 *
 * Admission on the second read: a table of recently seen key hashes (a "doorkeeper") lets a document in
 * only when it is read again soon, and then only one such document in ADMIT_EVERY, so reads that never
 * repeat pay a hash and two map lookups, not a clone and an entry.
 *
 * Eviction by generations: entries go into the young generation; when it reaches half the budget it
 * becomes the old one and the previous old generation is dropped whole. A hit in the old generation
 * moves the entry to the young one. Close to LRU, with no per-hit bookkeeping beyond that move.
 */

/** Stored size from which a plain (uncompressed) document goes through the cache. */
export const MIN_CACHED_BYTES = 768;

/** What a cached entry is estimated to cost: its bytes' copy, the decoded objects and the map entry. */
function entryCost(byteLength: number): number {
  // Measured for the reference document (179 bytes of JSON): 272 bytes of V8 heap once parsed.
  return Math.ceil(byteLength * 2.6) + 160;
}

interface Entry {
  /** Copy of the stored bytes (an arena view of the entry's generation). */
  bytes: Uint8Array;
  /** The decoded document, never handed out itself. */
  doc: Document;
  /** The database's space (to drop its entries when it closes). */
  space: number;
  cost: number;
}

class Generation {
  readonly map = new Map<number, Entry>();
  readonly arena = new ByteArena(false, 0);
  bytes = 0;

  set(h: number, e: Entry): void {
    const prev = this.map.get(h);
    if (prev !== undefined) this.bytes -= prev.cost;
    this.map.set(h, e);
    this.bytes += e.cost;
  }

  delete(h: number, e: Entry): void {
    if (this.map.delete(h)) this.bytes -= e.cost;
  }

  /** Drops the entries of one database's space. */
  forget(space: number): void {
    for (const [h, e] of this.map) if (e.space === space) this.delete(h, e);
  }
}

export interface DocumentCacheStats {
  /** The budget. */
  bytes: number;
  /** Estimated bytes held (see entryCost). */
  usedBytes: number;
  entries: number;
  hits: number;
  misses: number;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** FNV-1a of `key`, starting from a space-and-tree seed; a small integer (a fast Map key). */
/** @internal (exported for tests) */
export function keyHash(seed: number, key: Uint8Array): number {
  let h = seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 16777619);
  return h & 0x3fffffff;
}

const DOORKEEPER_SLOTS = 1 << 16;
/**
 * Only one in this many documents seen twice is admitted. Under uniform random reads over more than the
 * budget holds, a random part of them is as good a cache as any, and each admission (a clone, a copy of
 * the bytes, a map entry, later garbage) cost about what a hit saves; a hot set still gets in within a
 * few passes.
 */
const ADMIT_EVERY = 4;

/** A budget of decoded documents, private to one database or shared by many (each with its own space). */
export class DocumentCache {
  readonly bytes: number;
  #young = new Generation();
  #old = new Generation();
  readonly #seen = new Int32Array(DOORKEEPER_SLOTS);
  #hits = 0;
  #misses = 0;
  #spaces = 0;
  #admitCountdown = ADMIT_EVERY;
  /** Entries larger than this are not kept (one document must not flush the rest). */
  readonly #maxEntry: number;

  constructor(bytes: number) {
    if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) {
      throw new InvalidArgumentError(`documentCacheBytes must be a number >= 0, got ${String(bytes)}`);
    }
    this.bytes = bytes;
    this.#maxEntry = bytes / 16;
  }

  stats(): DocumentCacheStats {
    return {
      bytes: this.bytes,
      usedBytes: this.#young.bytes + this.#old.bytes,
      entries: this.#young.map.size + this.#old.map.size,
      hits: this.#hits,
      misses: this.#misses,
    };
  }

  /** A key space for one database, so databases sharing the cache keep apart. */
  space(): DocumentCacheSpace {
    return new DocumentCacheSpace(this, ++this.#spaces);
  }

  /** @internal Drops a closed database's entries. */
  forget(space: number): void {
    this.#young.forget(space);
    this.#old.forget(space);
  }

  /**
   * The document stored as `bytes` under `key` (slot: DocumentCacheSpace.slot of its tree): a clone of
   * the cached one when the bytes are those it was decoded from, else decoded (from `json`,
   * documentJson(bytes), when the caller has it). The result is always the caller's own.
   * DocumentDecodeError as decodeDocument.
   */
  decode(
    space: number,
    slot: number,
    key: Uint8Array,
    bytes: Uint8Array,
    json?: Uint8Array,
    shapes?: DecodeShapes,
  ): Document {
    if (this.bytes === 0 || (bytes.length < MIN_CACHED_BYTES && isPlainDocumentAt(bytes, 0))) {
      return parseDocumentJson(json ?? documentJson(bytes), shapes);
    }
    const h = keyHash(slot, key);
    let e = this.#young.map.get(h);
    let young = true;
    if (e === undefined) {
      e = this.#old.map.get(h);
      young = false;
    }
    if (e !== undefined && equalBytes(e.bytes, bytes)) {
      this.#hits++;
      if (!young) {
        this.#old.delete(h, e);
        this.#admit(h, e.bytes, e.doc, space);
      }
      return cloneValue(e.doc);
    }
    this.#misses++;
    const doc = parseDocumentJson(json ?? documentJson(bytes), shapes);
    // In on the second read (or at once when it replaces an entry: a changed hot document).
    const seen = this.#seen;
    const i = h & (DOORKEEPER_SLOTS - 1);
    if (e === undefined) {
      if (seen[i] !== h) {
        seen[i] = h;
        return doc;
      }
      if (--this.#admitCountdown > 0) return doc;
      this.#admitCountdown = ADMIT_EVERY;
    }
    if (e !== undefined) (young ? this.#young : this.#old).delete(h, e);
    this.#admit(h, bytes, cloneValue(doc), space);
    return doc;
  }

  /** Puts an entry in the young generation, with a copy of `bytes` in its arena. */
  #admit(h: number, bytes: Uint8Array, doc: Document, space: number): void {
    const cost = entryCost(bytes.length);
    if (cost > this.#maxEntry) return;
    if (this.#young.bytes + cost > this.bytes / 2) {
      this.#old = this.#young;
      this.#young = new Generation();
    }
    const young = this.#young;
    young.set(h, { bytes: young.arena.copy(bytes), doc, space, cost });
  }
}

/** One database's view of a DocumentCache. */
export class DocumentCacheSpace {
  readonly cache: DocumentCache;
  readonly #space: number;
  readonly #slots = new Map<string, number>();
  /** The shapes of each tree's documents, by slot (see DecodeShapes). */
  readonly #shapes = new Map<number, DecodeShapes>();

  constructor(cache: DocumentCache, space: number) {
    this.cache = cache;
    this.#space = space;
  }

  /** The hash seed of one of this database's trees (pass it to decode). */
  slot(tree: string): number {
    let s = this.#slots.get(tree);
    if (s === undefined) {
      // FNV offset basis mixed with the space and the tree name
      s = Math.imul(2166136261 ^ this.#space, 16777619);
      for (let i = 0; i < tree.length; i++) s = Math.imul(s ^ tree.charCodeAt(i), 16777619);
      this.#slots.set(tree, s);
    }
    return s;
  }

  decode(slot: number, key: Uint8Array, bytes: Uint8Array, json?: Uint8Array): Document {
    return this.cache.decode(this.#space, slot, key, bytes, json, this.#shapesOf(slot));
  }

  /**
   * decode() of the document stored as bytes[start..end) (see ValueRange): a small plain one, which the
   * cache would not keep, is decoded where it lies, with no view made of it.
   */
  decodeRange(slot: number, key: Uint8Array, bytes: Uint8Array, start: number, end: number): Document {
    const n = end - start;
    if (n > 0 && (this.cache.bytes === 0 || n < MIN_CACHED_BYTES) && isPlainDocumentAt(bytes, start)) {
      return parsePlainDocumentAt(bytes, start, end, this.#shapesOf(slot));
    }
    const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
    return this.decode(slot, key, view);
  }

  #shapesOf(slot: number): DecodeShapes {
    let shapes = this.#shapes.get(slot);
    if (shapes === undefined) {
      shapes = new DecodeShapes();
      this.#shapes.set(slot, shapes);
    }
    return shapes;
  }

  /** Trees whose documents' shapes this space keeps. */
  get shapeTrees(): number {
    return this.#shapes.size;
  }

  /**
   * Forgets a dropped tree's shapes and slot (a re-created collection gets a new tree). A reader still on
   * a snapshot of it may bring them back, until the database closes.
   */
  forgetTree(tree: string): void {
    const s = this.#slots.get(tree);
    if (s === undefined) return;
    this.#slots.delete(tree);
    this.#shapes.delete(s);
  }

  /** Drops this database's entries (on close). */
  forget(): void {
    this.cache.forget(this.#space);
  }
}
