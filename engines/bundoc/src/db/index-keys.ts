import { InvalidDocumentError } from '../document/errors.js';
import { encodeCompoundKey } from '../keys/encode.js';
import { compilePathReader, type PathReader, splitPath } from '../query/path.js';
import { keyString } from '../storage/sorted-keys.js';
import { type IndexMeta, indexTree } from './catalog.js';

/** A compound index may expand at most this many keys for one document (cartesian product of arrays). */
export const MAX_KEYS_PER_DOCUMENT = 10_000;

export interface IndexEntries {
  /** Distinct key bytes; each stored with the document's primary key as value. */
  keys: Uint8Array[];
  multikey: boolean;
}

const SKIP = Symbol('skip');

/** Compiled once per index definition: path readers and directions. */
export class IndexKeyer {
  readonly meta: IndexMeta;
  /** The index's storage tree. */
  readonly tree: string;
  /** The top-level fields the index's paths start with. */
  readonly topFields: readonly string[];
  readonly #readers: PathReader[];
  readonly #dirs: Array<1 | -1>;
  readonly #maxKey: number;

  constructor(meta: IndexMeta, maxKey: number) {
    this.meta = meta;
    this.tree = indexTree(meta);
    this.topFields = meta.fields.map((f) => splitPath(f.path)![0]!);
    this.#readers = meta.fields.map((f) => compilePathReader(splitPath(f.path)!));
    this.#dirs = meta.fields.map((f) => f.dir);
    this.#maxKey = maxKey;
  }

  /**
   * The keys of one document: every field contributes the values its path reaches, arrays expanded to
   * their elements (multikey, as is a path that reaches several values), a missing field as null. Sparse indexes skip documents missing every field.
   * Non-unique keys end with the _id bytes so equal values stay distinct and come out in _id order.
   */
  entries(doc: Record<string, unknown>, idBytes: Uint8Array): IndexEntries | undefined {
    const single = this.#singleValues(doc);
    if (single !== undefined) {
      if (single === SKIP) return undefined;
      return { keys: [this.#key(single, idBytes)], multikey: false };
    }
    let multikey = false;
    let anyPresent = false;
    const perField: unknown[][] = [];
    for (let i = 0; i < this.#readers.length; i++) {
      const raw = this.#readers[i]!(doc);
      // Several values reached through an array of subdocuments (`n.x` over `n: [{x}, {x}]`) make the
      // index multikey as an array at the end of the path does: each may satisfy a different condition.
      if (raw.length > 1) multikey = true;
      const vals: unknown[] = [];
      for (const r of raw) {
        if (r !== undefined) anyPresent = true;
        if (Array.isArray(r)) {
          multikey = true;
          if (r.length === 0) vals.push(r);
          else for (const e of r) vals.push(e);
        } else vals.push(r === undefined ? null : r);
      }
      if (vals.length === 0) vals.push(null);
      perField.push(vals);
    }
    if (this.meta.sparse && !anyPresent) return undefined;
    let combos = 1;
    let arrays = 0;
    for (const v of perField) {
      combos *= v.length;
      if (v.length > 1) arrays++;
    }
    if (arrays > 1 && this.#readers.length > 1) {
      const paths = this.meta.fields.filter((_, i) => perField[i]!.length > 1).map((f) => f.path);
      throw new InvalidDocumentError(
        paths[1]!,
        `index "${this.meta.name}" cannot index parallel arrays: ${paths.map((p) => `"${p}"`).join(' and ')} both hold several values`,
      );
    }
    if (combos > MAX_KEYS_PER_DOCUMENT) {
      throw new InvalidDocumentError(
        this.meta.fields[0]!.path,
        `index "${this.meta.name}" would hold more than ${MAX_KEYS_PER_DOCUMENT} keys for this document`,
      );
    }
    const seen = new Set<string>();
    const keys: Uint8Array[] = [];
    const current = new Array<unknown>(perField.length);
    const emit = (i: number): void => {
      if (i === perField.length) {
        const key = this.#key(current, idBytes);
        const s = latin1(key);
        if (!seen.has(s)) {
          seen.add(s);
          keys.push(key);
        }
        return;
      }
      for (const v of perField[i]!) {
        current[i] = v;
        emit(i + 1);
      }
    };
    emit(0);
    return { keys, multikey };
  }

  /**
   * The common case without the general expansion: every field reaches exactly one value that is not
   * an array. Returns those values (missing as null), SKIP for a sparse index that leaves the document
   * out, or undefined when the general path must decide.
   */
  #singleValues(doc: Record<string, unknown>): unknown[] | typeof SKIP | undefined {
    const vals = new Array<unknown>(this.#readers.length);
    let anyPresent = false;
    for (let i = 0; i < this.#readers.length; i++) {
      const raw = this.#readers[i]!(doc);
      if (raw.length !== 1) return undefined;
      const v = raw[0];
      if (Array.isArray(v)) return undefined;
      if (v !== undefined) anyPresent = true;
      vals[i] = v === undefined ? null : v;
    }
    if (this.meta.sparse && !anyPresent) return SKIP;
    return vals;
  }

  /** One key: the encoded values, then (non-unique indexes) the _id bytes; checked against the limit. */
  #key(values: readonly unknown[], idBytes: Uint8Array): Uint8Array {
    const key = encodeCompoundKey(values, this.#dirs, this.meta.unique ? undefined : idBytes);
    if (key.length > this.#maxKey) {
      throw new InvalidDocumentError(
        this.meta.fields[0]!.path,
        `the key of index "${this.meta.name}" would be ${key.length} bytes; the limit is ${this.#maxKey}`,
      );
    }
    return key;
  }

  /** The indexed values of a unique key, for error messages. */
  valuesOf(doc: Record<string, unknown>): unknown {
    const vals = this.#readers.map((r) => {
      const raw = r(doc);
      return raw.length === 1 ? (raw[0] ?? null) : raw;
    });
    return vals.length === 1 ? vals[0] : vals;
  }
}

/** A cheap exact string form of bytes, for Sets and Maps. */
export const latin1: (b: Uint8Array) => string = keyString;
