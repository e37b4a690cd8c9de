/**
 * The references between all collections of a database: for each collection, the references its
 * documents hold (outgoing: checked on write) and the references pointing at it (incoming: what a
 * delete must do). Built from every collection's compiled schema; rebuilt when a schema changes.
 */
import type { ReferenceEdge } from './references.js';

export class ReferenceGraph {
  readonly #outgoing = new Map<string, readonly ReferenceEdge[]>();
  readonly #incoming = new Map<string, ReferenceEdge[]>();

  constructor(
    collections: Iterable<{ readonly collection: string; readonly references: readonly ReferenceEdge[] }>,
  ) {
    for (const { collection, references } of collections) {
      this.#outgoing.set(collection, references);
      for (const edge of references) {
        let list = this.#incoming.get(edge.target);
        if (!list) {
          list = [];
          this.#incoming.set(edge.target, list);
        }
        list.push(edge);
      }
    }
  }

  outgoing(collection: string): readonly ReferenceEdge[] {
    return this.#outgoing.get(collection) ?? [];
  }

  incoming(collection: string): readonly ReferenceEdge[] {
    return this.#incoming.get(collection) ?? [];
  }

  /** True when deleting from `collection` needs a plan (some reference points at it). */
  isReferenced(collection: string): boolean {
    return this.#incoming.has(collection);
  }
}
