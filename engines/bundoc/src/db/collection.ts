import {
  checkId,
  type DocId,
  type Document,
  DocumentTooLargeError,
  decodeDocument,
  generateId,
  InvalidDocumentError,
  idKey,
  type PreparedDocument,
  prepareDocument,
} from '../document/index.js';
import { describeValue } from '../document/validate.js';
import { compareValues } from '../keys/compare.js';
import { encodeKey } from '../keys/encode.js';
import { InvalidUpdateError, UpdateConflictError } from '../query/errors.js';
import { compilePathReader, splitPath } from '../query/path.js';
import { compileUpdate } from '../query/update.js';
import { upsertDocument } from '../query/upsert.js';
import { type CollectionMeta, docTree, type IndexMeta, indexTree } from './catalog.js';
import type { DbCore, Scope } from './core.js';
import { Cursor } from './cursor.js';
import { BulkWriteError, DuplicateKeyError, InvalidOptionError } from './errors.js';
import { type CompiledQuery, compileQuery, type Execution, execute, type FindOptions } from './exec.js';
import { latin1 } from './index-keys.js';
import { ID_INDEX_NAME, type IndexOptions } from './index-spec.js';
import type { SchemaOps } from './schema-ops.js';

export interface InsertOneResult {
  _id: DocId;
}
export interface InsertManyResult {
  insertedIds: DocId[];
  insertedCount: number;
}
export interface UpdateResult {
  matchedCount: number;
  modifiedCount: number;
  /** The _id of the inserted document when an upsert inserted one, else null. */
  upsertedId: DocId | null;
}
export interface DeleteResult {
  deletedCount: number;
}
export interface IndexInfo {
  name: string;
  key: Record<string, 1 | -1>;
  unique: boolean;
  sparse: boolean;
  multikey: boolean;
}

interface IndexChange {
  tree: string;
  deletes: Uint8Array[];
  puts: Uint8Array[];
  ix: IndexMeta;
  multikey: boolean;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Every index change a document write implies, computed and checked (unique keys) before anything is
 * written, so a failing write leaves the transaction untouched.
 */
function indexChanges(
  s: Scope,
  meta: CollectionMeta,
  oldDoc: Document | undefined,
  newDoc: Document | undefined,
  key: Uint8Array,
): IndexChange[] {
  const out: IndexChange[] = [];
  for (const ix of meta.indexes) {
    const keyer = s.core.keyer(ix);
    const before = oldDoc ? keyer.entries(oldDoc, key) : undefined;
    const after = newDoc ? keyer.entries(newDoc, key) : undefined;
    const oldKeys = new Map<string, Uint8Array>();
    for (const k of before?.keys ?? []) oldKeys.set(latin1(k), k);
    const tree = indexTree(ix);
    const puts: Uint8Array[] = [];
    for (const k of after?.keys ?? []) {
      if (oldKeys.delete(latin1(k))) continue; // unchanged key
      if (ix.unique) {
        const holder = s.tx.get(tree, k);
        if (holder !== undefined && !bytesEqual(holder, key)) {
          throw new DuplicateKeyError(meta.name, ix.name, keyer.valuesOf(newDoc!));
        }
      }
      puts.push(k);
    }
    out.push({ tree, deletes: [...oldKeys.values()], puts, ix, multikey: after?.multikey === true });
  }
  return out;
}

function applyIndexChanges(s: Scope, meta: CollectionMeta, changes: IndexChange[], key: Uint8Array): void {
  for (const c of changes) {
    for (const k of c.deletes) s.delete(c.tree, k);
    for (const k of c.puts) s.put(c.tree, k, key);
    if (c.multikey && !c.ix.multikey) s.markMultikey(meta, c.ix);
  }
}

function insertEncoded(s: Scope, name: string, enc: PreparedDocument): void {
  const meta = s.ensure(name);
  const key = idKey(enc.id);
  const tree = docTree(meta);
  if (s.tx.get(tree, key) !== undefined) throw new DuplicateKeyError(name, ID_INDEX_NAME, enc.id);
  const changes = indexChanges(s, meta, undefined, enc.doc, key);
  s.put(tree, key, enc.bytes);
  applyIndexChanges(s, meta, changes, key);
}

/** The error of the document at `index` of a batch, saying so. */
function attribute(e: unknown, index: number): Error {
  if (
    e instanceof InvalidDocumentError ||
    e instanceof DocumentTooLargeError ||
    e instanceof DuplicateKeyError
  ) {
    return e.atIndex(index);
  }
  return e as Error;
}

/** A collection of JSON documents; bound to one transaction when obtained from `tx.collection()`. */
export class Collection<T extends object = Document> {
  readonly name: string;
  readonly #core: DbCore;
  readonly #scope: Scope | undefined;
  readonly #schema: SchemaOps | undefined;

  /** @internal use `db.collection(name)` */
  constructor(core: DbCore, name: string, scope: Scope | undefined, schema: SchemaOps | undefined) {
    this.#core = core;
    this.name = name;
    this.#scope = scope;
    this.#schema = schema;
  }

  #read<R>(fn: (s: Scope) => R): R {
    return this.#core.read(this.#scope, fn);
  }

  #write<R>(fn: (s: Scope) => R): Promise<R> {
    return this.#core.write(this.#scope, fn);
  }

  #ddl(): SchemaOps {
    if (!this.#schema) {
      throw new InvalidOptionError('indexes cannot be created or dropped inside a transaction');
    }
    return this.#schema;
  }

  // ---- writes ----

  /** Inserts one document; a missing _id is generated. Duplicate _id → DuplicateKeyError, nothing written. */
  async insertOne(doc: T | Omit<T, '_id'>): Promise<InsertOneResult> {
    const enc = prepareDocument(doc, generateId);
    return this.#write((s) => {
      insertEncoded(s, this.name, enc);
      return { _id: enc.id };
    });
  }

  /**
   * Inserts many documents in one transaction. ordered (default): the first invalid or duplicate document
   * fails the whole batch and nothing is written. ordered: false: the valid documents are committed, then
   * a BulkWriteError lists the others.
   */
  async insertMany(
    docs: ReadonlyArray<T | Omit<T, '_id'>>,
    options?: { ordered?: boolean },
  ): Promise<InsertManyResult> {
    if (!Array.isArray(docs)) {
      throw new InvalidDocumentError(
        '',
        `insertMany needs an array of documents, not ${describeValue(docs)}`,
      );
    }
    const ordered = options?.ordered ?? true;
    if (typeof ordered !== 'boolean') throw new InvalidOptionError('ordered must be a boolean');
    if (ordered) {
      const encoded = docs.map((d, i) => {
        try {
          return prepareDocument(d, generateId);
        } catch (e) {
          throw attribute(e, i);
        }
      });
      return this.#write((s) => {
        encoded.forEach((enc, i) => {
          try {
            insertEncoded(s, this.name, enc);
          } catch (e) {
            throw attribute(e, i);
          }
        });
        return { insertedIds: encoded.map((e) => e.id), insertedCount: encoded.length };
      });
    }
    const encoded: Array<PreparedDocument | Error> = docs.map((d, i) => {
      try {
        return prepareDocument(d, generateId);
      } catch (e) {
        return attribute(e, i);
      }
    });
    const result = await this.#write((s) => {
      const errors: Array<{ index: number; error: Error }> = [];
      const ids: DocId[] = [];
      encoded.forEach((enc, index) => {
        if (enc instanceof Error) {
          errors.push({ index, error: enc });
          return;
        }
        try {
          insertEncoded(s, this.name, enc);
          ids.push(enc.id);
        } catch (e) {
          if (!(e instanceof DuplicateKeyError || e instanceof InvalidDocumentError)) throw e;
          errors.push({ index, error: attribute(e, index) });
        }
      });
      return { errors, ids };
    });
    if (result.errors.length > 0) throw new BulkWriteError(result.errors, result.ids);
    return { insertedIds: result.ids, insertedCount: result.ids.length };
  }

  async updateOne(filter: Document, update: Document, options?: { upsert?: boolean }): Promise<UpdateResult> {
    return this.#update(filter, update, options, false, 'operators');
  }

  async updateMany(
    filter: Document,
    update: Document,
    options?: { upsert?: boolean },
  ): Promise<UpdateResult> {
    return this.#update(filter, update, options, true, 'operators');
  }

  async replaceOne(
    filter: Document,
    replacement: Document,
    options?: { upsert?: boolean },
  ): Promise<UpdateResult> {
    return this.#update(filter, replacement, options, false, 'replacement');
  }

  async #update(
    filter: Document,
    update: Document,
    options: { upsert?: boolean } | undefined,
    multi: boolean,
    kind: 'operators' | 'replacement',
  ): Promise<UpdateResult> {
    const upsert = options?.upsert ?? false;
    if (typeof upsert !== 'boolean') throw new InvalidOptionError('upsert must be a boolean');
    const q = compileQuery(filter, multi ? undefined : { limit: 1 });
    const compiled = compileUpdate(update);
    const now = new Date(); // one $currentDate time for the whole operation
    if (compiled.kind !== kind) {
      throw new InvalidUpdateError(
        kind === 'operators'
          ? 'update needs operators such as $set; use replaceOne to replace a document'
          : 'a replacement document cannot contain update operators',
      );
    }
    return this.#write((s) => {
      const ex = execute(s, this.name, q);
      let modified = 0;
      const meta = s.meta(this.name);
      // Every new version is validated before the first write, so a bad one leaves nothing half-updated.
      const plans = ex.rows.map((row) => {
        const next = compiled.apply(row.doc, { now });
        const enc = prepareDocument(next, () => row.doc._id as DocId);
        if (!bytesEqual(idKey(enc.id), row.key)) throw new UpdateConflictError('_id', '_id is immutable');
        return { row, enc };
      });
      for (const { row, enc } of plans) {
        if (bytesEqual(enc.bytes, row.bytes)) continue;
        const changes = indexChanges(s, meta!, row.doc, enc.doc, row.key);
        s.put(docTree(meta!), row.key, enc.bytes);
        applyIndexChanges(s, meta!, changes, row.key);
        modified++;
      }
      let upsertedId: DocId | null = null;
      if (ex.rows.length === 0 && upsert) {
        const enc = prepareDocument(upsertDocument(q.filter, update, { now }), generateId);
        insertEncoded(s, this.name, enc);
        upsertedId = enc.id;
      }
      return { matchedCount: ex.rows.length, modifiedCount: modified, upsertedId };
    });
  }

  async deleteOne(filter: Document): Promise<DeleteResult> {
    return this.#delete(filter, false);
  }

  async deleteMany(filter: Document): Promise<DeleteResult> {
    return this.#delete(filter, true);
  }

  async #delete(filter: Document, multi: boolean): Promise<DeleteResult> {
    const q = compileQuery(filter, multi ? undefined : { limit: 1 });
    return this.#write((s) => {
      const ex = execute(s, this.name, q);
      const meta = s.meta(this.name);
      for (const row of ex.rows) {
        const changes = indexChanges(s, meta!, row.doc, undefined, row.key);
        s.delete(docTree(meta!), row.key);
        applyIndexChanges(s, meta!, changes, row.key);
      }
      return { deletedCount: ex.rows.length };
    });
  }

  // ---- reads ----

  /** The document with this _id, or null. */
  async get(id: DocId): Promise<T | null> {
    const checked = checkId(id, 'get(id)');
    return this.#read((s) => {
      const meta = s.meta(this.name);
      if (!meta) return null;
      const bytes = s.tx.get(docTree(meta), idKey(checked));
      return bytes === undefined ? null : (decodeDocument(bytes) as T);
    });
  }

  find(filter: Document = {}, options?: FindOptions): Cursor<T> {
    const q = compileQuery(filter, options);
    return new Cursor<T>(q, () => this.#run(q));
  }

  #run(q: CompiledQuery): Execution {
    return this.#read((s) => execute(s, this.name, q));
  }

  async findOne(filter: Document = {}, options?: Omit<FindOptions, 'limit'>): Promise<T | null> {
    return this.find(filter, { ...options, limit: 1 }).next();
  }

  async countDocuments(filter: Document = {}): Promise<number> {
    return this.#run(compileQuery(filter, undefined)).rows.length;
  }

  /** Distinct values of a field among matching documents (array elements count singly), in key order. */
  async distinct(field: string, filter: Document = {}): Promise<unknown[]> {
    const parts = typeof field === 'string' ? splitPath(field) : undefined;
    if (!parts || parts.some((p) => p.startsWith('$')))
      throw new InvalidOptionError(`distinct: invalid field path ${JSON.stringify(field)}`);
    const read = compilePathReader(parts);
    const rows = this.#run(compileQuery(filter, undefined)).rows;
    const seen = new Map<string, unknown>();
    const add = (v: unknown) => {
      if (v === undefined) return;
      const k = latin1(encodeKey(v));
      if (!seen.has(k)) seen.set(k, v);
    };
    for (const r of rows) {
      for (const v of read(r.doc)) {
        if (Array.isArray(v)) v.forEach(add);
        else add(v);
      }
    }
    return [...seen.values()].sort(compareValues);
  }

  // ---- indexes ----

  /** Creates an index (building it from the existing documents); returns its name. Idempotent. */
  async createIndex(spec: Record<string, 1 | -1>, options?: IndexOptions): Promise<string> {
    return this.#ddl().createIndex(this.name, spec, options);
  }

  async dropIndex(name: string): Promise<void> {
    return this.#ddl().dropIndex(this.name, name);
  }

  async listIndexes(): Promise<IndexInfo[]> {
    const meta = this.#read((s) => s.meta(this.name));
    const out: IndexInfo[] = [
      { name: ID_INDEX_NAME, key: { _id: 1 }, unique: true, sparse: false, multikey: false },
    ];
    for (const ix of meta?.indexes ?? []) {
      out.push({
        name: ix.name,
        key: Object.fromEntries(ix.fields.map((f) => [f.path, f.dir])),
        unique: ix.unique,
        sparse: ix.sparse,
        multikey: ix.multikey,
      });
    }
    return out;
  }
}
