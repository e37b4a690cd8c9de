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
import { docTree } from './catalog.js';
import type { DbCore, Scope } from './core.js';
import { Cursor } from './cursor.js';
import { BulkWriteError, DuplicateKeyError, InvalidOptionError } from './errors.js';
import { type CompiledQuery, compileQuery, type Execution, execute, type FindOptions } from './exec.js';
import { latin1 } from './index-keys.js';
import { ID_INDEX_NAME, type IndexOptions } from './index-spec.js';
import type { SchemaOps } from './schema-ops.js';
import { bytesEqual, Inserter, writeDocument } from './writes.js';

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
      new Inserter(s, this.name).insert(enc);
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
      const keys = encoded.map((enc) => idKey(enc.id));
      return this.#write((s) => {
        const inserter = new Inserter(s, this.name);
        inserter.batch(keys);
        encoded.forEach((enc, i) => {
          try {
            inserter.insert(enc, keys[i]);
          } catch (e) {
            throw attribute(e, i);
          }
        });
        inserter.finish();
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
    const keys = encoded.map((enc) => (enc instanceof Error ? undefined : idKey(enc.id)));
    const result = await this.#write((s) => {
      const errors: Array<{ index: number; error: Error }> = [];
      const ids: DocId[] = [];
      const inserter = new Inserter(s, this.name);
      inserter.batch(keys.filter((k) => k !== undefined));
      encoded.forEach((enc, index) => {
        if (enc instanceof Error) {
          errors.push({ index, error: enc });
          return;
        }
        try {
          inserter.insert(enc, keys[index]);
          ids.push(enc.id);
        } catch (e) {
          if (!(e instanceof DuplicateKeyError || e instanceof InvalidDocumentError)) throw e;
          errors.push({ index, error: attribute(e, index) });
        }
      });
      inserter.finish();
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
        writeDocument(s, meta!, row.key, row.doc, enc);
        modified++;
      }
      let upsertedId: DocId | null = null;
      if (ex.rows.length === 0 && upsert) {
        const enc = prepareDocument(upsertDocument(q.filter, update, { now }), generateId);
        new Inserter(s, this.name).insert(enc);
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
      for (const row of ex.rows) writeDocument(s, meta!, row.key, row.doc, undefined);
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
