import type { Document } from '../document/codec.js';
import { type CompiledQuery, type Execution, type Explain, explainOf, makeToken } from './exec.js';

/**
 * The result of find(): runs the query on first use, in one snapshot, then hands out documents.
 * All matching documents are read at that point (after skip/limit), so very large unbounded results are
 * held in memory; page with `limit` + `token`/`after` for big collections.
 */
export class Cursor<T extends object = Document> implements AsyncIterable<T> {
  readonly #run: () => Execution;
  readonly #query: CompiledQuery;
  #ex: Execution | undefined;
  #pos = 0;

  constructor(query: CompiledQuery, run: () => Execution) {
    this.#query = query;
    this.#run = run;
  }

  #execution(): Execution {
    this.#ex ??= this.#run();
    return this.#ex;
  }

  #project(doc: Document): T {
    return (this.#query.projector ? this.#query.projector(doc) : doc) as T;
  }

  /** The next document, or null when the cursor is exhausted. */
  async next(): Promise<T | null> {
    const rows = this.#execution().rows;
    if (this.#pos >= rows.length) return null;
    return this.#project(rows[this.#pos++]!.doc);
  }

  /** Every remaining document. */
  async toArray(): Promise<T[]> {
    const rows = this.#execution().rows;
    const out = rows.slice(this.#pos).map((r) => this.#project(r.doc));
    this.#pos = rows.length;
    return out;
  }

  /** How many documents this cursor yields in total (skip and limit applied). */
  async count(): Promise<number> {
    return this.#execution().rows.length;
  }

  /** The chosen plan and how much it read. */
  async explain(): Promise<Explain> {
    return explainOf(this.#execution());
  }

  /**
   * A token for `find(filter, { sort, after: token })` that continues after the last document handed
   * out; undefined before the first one, and for a cursor without a sort (use `sort: { _id: 1 }` for
   * natural order: without a sort the order depends on the chosen index).
   */
  get token(): string | undefined {
    if (!this.#ex || this.#pos === 0 || !this.#query.orderSpec) return undefined;
    const last = this.#ex.rows[this.#pos - 1]!.doc;
    return makeToken(last, this.#query.orderSpec);
  }

  /** Hands out the rows read at the first step directly (no next() promise per document). */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const rows = this.#execution().rows;
    while (this.#pos < rows.length) yield this.#project(rows[this.#pos++]!.doc);
  }
}
