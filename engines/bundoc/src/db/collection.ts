import {
  checkId,
  type DocId,
  type Document,
  generateId,
  InvalidDocumentError,
  idKey,
  type PreparedDocument,
  prepareDocument,
} from '../document/index.js';
import { describeValue } from '../document/validate.js';
import { compareValues } from '../keys/compare.js';
import { InvalidUpdateError, UpdateConflictError } from '../query/errors.js';
import { compilePathReader, splitPath } from '../query/path.js';
import { compileUpdate } from '../query/update.js';
import { upsertDocument } from '../query/upsert.js';
import type { AuthContext } from '../security/context.js';
import { ValueRange } from '../storage/btree.js';
import {
  auditQuery,
  type CallOptions,
  callOptions,
  enforced,
  isDocumentError,
  listFilter,
} from './access.js';
import { docTree } from './catalog.js';
import type { DbCore, Scope } from './core.js';
import { countMatching } from './count.js';
import { Cursor } from './cursor.js';
import { distinctValues } from './distinct.js';
import { BulkWriteError, InvalidOptionError } from './errors.js';
import { type CompiledQuery, compileQuery, type Execution, execute, type FindOptions } from './exec.js';
import { latin1 } from './index-keys.js';
import { ID_INDEX_NAME, type IndexOptions } from './index-spec.js';
import { applyTouches, checkReferences, deleteWithReferences, type Touch } from './references.js';
import type { SchemaOps } from './schema-ops.js';
import { bytesEqual, Inserter, writeDocument } from './writes.js';

/** Where get() finds its document (reused: read and decoded synchronously, see ValueRange). */
const GET_RANGE = new ValueRange();

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
export interface InsertManyOptions extends CallOptions {
  /** true (default): the first failing document fails the batch, nothing is written. */
  ordered?: boolean;
}
export interface UpdateOptions extends CallOptions {
  /** Insert a document built from the filter and the update when nothing matches. */
  upsert?: boolean;
}
export interface IndexInfo {
  name: string;
  key: Record<string, 1 | -1>;
  unique: boolean;
  sparse: boolean;
  multikey: boolean;
  /** Present while the index is being built online (queries do not use it yet; see createIndex). */
  building?: true;
}

/** The error of the document at `index` of a batch, saying so. */
function attribute(e: unknown, index: number): Error {
  return isDocumentError(e) ? e.atIndex(index) : (e as Error);
}

const NO_KEYS: readonly string[] = [];

/**
 * A collection of JSON documents; bound to one transaction when obtained from `tx.collection()`.
 *
 * Every reading or writing call takes the caller's context in its options (`{ ctx: { auth, admin? } }`,
 * absent: anonymous) and applies the collection's schema, rules and references (SECURITY.md): writes
 * are checked completely before anything is written; queries, and the filters of updates and deletes,
 * only see documents the caller may list.
 */
export class Collection<T extends object = Document> {
  readonly name: string;
  readonly #core: DbCore;
  readonly #scope: Scope | undefined;
  readonly #schema: SchemaOps | undefined;
  readonly #ctx: AuthContext | undefined;

  /** @internal use `db.collection(name)` */
  constructor(
    core: DbCore,
    name: string,
    scope: Scope | undefined,
    schema: SchemaOps | undefined,
    ctx?: AuthContext,
  ) {
    this.#core = core;
    this.name = name;
    this.#scope = scope;
    this.#schema = schema;
    this.#ctx = ctx;
  }

  #options<O extends CallOptions>(options: O | undefined, allowed: readonly string[], what: string) {
    return callOptions(options, allowed, what, this.#ctx);
  }

  #read<R>(fn: (s: Scope) => R): R {
    return this.#core.read(this.#scope, fn);
  }

  #write<R>(fn: (s: Scope) => R | Promise<R>, selfAtomic = false): Promise<R> {
    return this.#core.write(this.#scope, fn, selfAtomic);
  }

  #ddl(): SchemaOps {
    if (!this.#schema) {
      throw new InvalidOptionError('indexes cannot be created or dropped inside a transaction');
    }
    return this.#schema;
  }

  // ---- writes ----

  /**
   * Inserts one document; a missing _id is generated. Checked in this order, before anything is written:
   * rules (create), schema, references, _id. Duplicate _id → DuplicateKeyError.
   */
  async insertOne(doc: T | Omit<T, '_id'>, options?: CallOptions): Promise<InsertOneResult> {
    const { ctx } = this.#options(options, NO_KEYS, 'insertOne');
    const enc = prepareDocument(doc, generateId);
    return this.#write((s) => {
      const sec = this.#core.security.of(this.name);
      if (enforced(sec, ctx)) sec.checkCreate(enc.doc, ctx);
      const touches: Touch[] = [];
      checkReferences(s, sec, null, enc.doc, touches);
      applyTouches(s, touches);
      new Inserter(s, this.name).insert(enc);
      return { _id: enc.id };
    });
  }

  /**
   * Inserts many documents in one transaction. ordered (default): the first invalid or duplicate document,
   * or one the rules, schema or references refuse, fails the whole batch and nothing is written.
   * ordered: false: the other documents are committed, then a BulkWriteError lists the failed ones.
   * A document may reference documents before it in the batch.
   */
  async insertMany(
    docs: ReadonlyArray<T | Omit<T, '_id'>>,
    options?: InsertManyOptions,
  ): Promise<InsertManyResult> {
    const { options: o, ctx } = this.#options(options, ['ordered'], 'insertMany');
    if (!Array.isArray(docs)) {
      throw new InvalidDocumentError(
        '',
        `insertMany needs an array of documents, not ${describeValue(docs)}`,
      );
    }
    const ordered = o.ordered ?? true;
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
        const sec = this.#core.security.of(this.name);
        const check = enforced(sec, ctx);
        const touches: Touch[] = [];
        if (check || sec.references.length > 0) {
          // Every document is checked before the first is written.
          const earlier = new Set<string>();
          const pending = new Map([[this.name, earlier]]);
          encoded.forEach((enc, i) => {
            try {
              if (check) sec.checkCreate(enc.doc, ctx);
              checkReferences(s, sec, null, enc.doc, touches, pending);
            } catch (e) {
              throw attribute(e, i);
            }
            earlier.add(latin1(keys[i]!));
          });
        }
        applyTouches(s, touches);
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
      const sec = this.#core.security.of(this.name);
      const check = enforced(sec, ctx);
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
          // Documents inserted before this one are in the transaction: references to them resolve.
          const touches: Touch[] = [];
          if (check) sec.checkCreate(enc.doc, ctx);
          checkReferences(s, sec, null, enc.doc, touches);
          inserter.insert(enc, keys[index]);
          applyTouches(s, touches);
          ids.push(enc.id);
        } catch (e) {
          if (!isDocumentError(e)) throw e;
          errors.push({ index, error: attribute(e, index) });
        }
      });
      inserter.finish();
      return { errors, ids };
    });
    if (result.errors.length > 0) throw new BulkWriteError(result.errors, result.ids);
    return { insertedIds: result.ids, insertedCount: result.ids.length };
  }

  async updateOne(filter: Document, update: Document, options?: UpdateOptions): Promise<UpdateResult> {
    return this.#update(filter, update, options, false, 'operators');
  }

  async updateMany(filter: Document, update: Document, options?: UpdateOptions): Promise<UpdateResult> {
    return this.#update(filter, update, options, true, 'operators');
  }

  async replaceOne(filter: Document, replacement: Document, options?: UpdateOptions): Promise<UpdateResult> {
    return this.#update(filter, replacement, options, false, 'replacement');
  }

  /**
   * Updates the documents matching `filter` that the caller may list. For each document the update
   * changes: rules (update), schema (per validationLevel) and the references it adds are checked, for
   * all of them before the first write; a document the update leaves unchanged is not written, nor
   * checked. An upsert's new document is checked as an insert.
   */
  async #update(
    filter: Document,
    update: Document,
    options: UpdateOptions | undefined,
    multi: boolean,
    kind: 'operators' | 'replacement',
  ): Promise<UpdateResult> {
    const what = kind === 'replacement' ? 'replaceOne' : multi ? 'updateMany' : 'updateOne';
    const { options: o, ctx } = this.#options(options, ['upsert'], what);
    const upsert = o.upsert ?? false;
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
      const sec = this.#core.security.of(this.name);
      const check = enforced(sec, ctx);
      const ex = execute(s, this.name, q, listFilter(sec, ctx));
      let modified = 0;
      const meta = s.meta(this.name);
      const touches: Touch[] = [];
      // Every new version is validated before the first write, so a bad one leaves nothing half-updated.
      const plans = [];
      for (const row of ex.rows) {
        const next = compiled.apply(row.doc, { now });
        const enc = prepareDocument(next, () => row.doc._id as DocId);
        if (!bytesEqual(idKey(enc.id), row.key)) throw new UpdateConflictError('_id', '_id is immutable');
        if (bytesEqual(enc.bytes, row.bytes)) continue;
        if (check) sec.checkUpdate(row.doc, enc.doc, ctx);
        checkReferences(s, sec, row.doc, enc.doc, touches);
        plans.push({ row, enc });
      }
      let inserted: PreparedDocument | undefined;
      if (ex.rows.length === 0 && upsert) {
        inserted = prepareDocument(upsertDocument(q.filter, update, { now }), generateId);
        if (check) sec.checkCreate(inserted.doc, ctx);
        checkReferences(s, sec, null, inserted.doc, touches);
      }
      // Touches first: a document both referenced and updated here keeps its new version.
      applyTouches(s, touches);
      for (const { row, enc } of plans) {
        writeDocument(s, meta!, row.key, row.doc, enc, undefined, compiled.fields);
        modified++;
      }
      let upsertedId: DocId | null = null;
      if (inserted) {
        new Inserter(s, this.name).insert(inserted);
        upsertedId = inserted.id;
      }
      return { matchedCount: ex.rows.length, modifiedCount: modified, upsertedId };
    });
  }

  async deleteOne(filter: Document, options?: CallOptions): Promise<DeleteResult> {
    return this.#delete(filter, false, options);
  }

  async deleteMany(filter: Document, options?: CallOptions): Promise<DeleteResult> {
    return this.#delete(filter, true, options);
  }

  /**
   * Deletes the documents matching `filter` that the caller may list, each checked against the rules
   * (delete), with what references imply (restrict, setNull, cascade) planned over every document the
   * delete reaches and applied in the same transaction. `deletedCount` counts the matched documents,
   * not the cascaded ones.
   */
  async #delete(filter: Document, multi: boolean, options: CallOptions | undefined): Promise<DeleteResult> {
    const { ctx } = this.#options(options, NO_KEYS, multi ? 'deleteMany' : 'deleteOne');
    const q = compileQuery(filter, multi ? undefined : { limit: 1 });
    return this.#write(async (s) => {
      const security = this.#core.security;
      const sec = security.of(this.name);
      const ex = execute(s, this.name, q, listFilter(sec, ctx));
      if (enforced(sec, ctx)) for (const row of ex.rows) sec.checkDelete(row.doc, ctx);
      await deleteWithReferences(s, this.name, ex.rows, (c) => security.of(c), security.graph());
      return { deletedCount: ex.rows.length };
    }, true); // its writes are one atomic stretch (deleteWithReferences)
  }

  // ---- reads ----

  /**
   * The document with this _id, or null. With rules, the `read` rule decides (PermissionDenied), also
   * for a document that does not exist (`resource` is null then), so a denied caller cannot tell
   * whether it exists.
   */
  async get(id: DocId, options?: CallOptions): Promise<T | null> {
    const { ctx } = this.#options(options, NO_KEYS, 'get');
    const checked = checkId(id, 'get(id)');
    return this.#read((s) => {
      const meta = s.meta(this.name);
      let doc: T | null = null;
      if (meta) {
        const tree = docTree(meta);
        const key = idKey(checked);
        // Decoded at once where it lies: no copy, no view.
        if (s.tx.getRange(tree, key, GET_RANGE)) {
          const { buf, start, end } = GET_RANGE;
          doc = s.core.docs.decodeRange(s.core.docs.slot(tree), key, buf, start, end) as T;
        }
      }
      const sec = this.#core.security.of(this.name);
      if (ctx.admin === true || sec.hasRules) sec.checkRead(doc, ctx);
      return doc;
    });
  }

  /** Matching documents the caller may list (rule `list`, else `read`); the others are skipped. */
  find(filter: Document = {}, options?: FindOptions): Cursor<T> {
    const q = compileQuery(filter, options);
    const { ctx } = callOptions({ ctx: options?.ctx }, NO_KEYS, 'find', this.#ctx);
    return new Cursor<T>(q, () => this.#run(q, ctx));
  }

  #run(q: CompiledQuery, ctx: AuthContext): Execution {
    return this.#read((s) => {
      const sec = this.#core.security.of(this.name);
      auditQuery(sec, ctx);
      return execute(s, this.name, q, listFilter(sec, ctx), false);
    });
  }

  async findOne(filter: Document = {}, options?: Omit<FindOptions, 'limit'>): Promise<T | null> {
    return this.find(filter, { ...options, limit: 1 }).next();
  }

  /** How many matching documents the caller may list. */
  async countDocuments(filter: Document = {}, options?: CallOptions): Promise<number> {
    const { ctx } = this.#options(options, NO_KEYS, 'countDocuments');
    const q = compileQuery(filter, undefined);
    return this.#read((s) => {
      const sec = this.#core.security.of(this.name);
      auditQuery(sec, ctx);
      return countMatching(s, this.name, q, listFilter(sec, ctx));
    });
  }

  /**
   * Distinct values of a field among matching documents the caller may list (array elements count
   * singly), in key order.
   */
  async distinct(field: string, filter: Document = {}, options?: CallOptions): Promise<unknown[]> {
    const { ctx } = this.#options(options, NO_KEYS, 'distinct');
    const parts = typeof field === 'string' ? splitPath(field) : undefined;
    if (!parts || parts.some((p) => p.startsWith('$')))
      throw new InvalidOptionError(`distinct: invalid field path ${JSON.stringify(field)}`);
    const read = compilePathReader(parts);
    const q = compileQuery(filter, undefined);
    const seen = this.#read((s) => {
      const sec = this.#core.security.of(this.name);
      auditQuery(sec, ctx);
      return distinctValues(s, this.name, q, field, read, listFilter(sec, ctx));
    });
    return [...seen.values()].sort(compareValues);
  }

  // ---- indexes ----

  /**
   * Creates an index from the existing documents and returns its name; idempotent (a call while the same
   * index is being built waits for that build). Over 1000 documents the build is online:
   * writes go on meanwhile and queries use the index once this resolves. Rejects with DuplicateKeyError
   * (unique index over duplicates, also when a write made one during the build) or IndexBuildAbortedError
   * (the index or the collection dropped meanwhile), the index then not created.
   */
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
        ...(ix.building ? { building: true as const } : {}),
      });
    }
    return out;
  }
}
