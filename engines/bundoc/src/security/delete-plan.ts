/**
 * Planning what a delete does to the documents that reference the deleted ones. Pure: the documents
 * come from a ReferenceFinder (the collection layer answers it inside the delete's transaction, with an
 * index on the reference path when there is one) and the result is a list of actions the caller applies
 * in that same transaction, or a ReferenceRestrictedError and nothing to apply.
 *
 * Semantics:
 * - cascade: documents referencing a deleted document are deleted too, recursively; a document is
 *   deleted once however many paths reach it (cycles end).
 * - restrict: the delete fails if a document that is NOT itself deleted by the plan references a deleted
 *   document (a document referencing itself, or a cycle deleted as a whole, does not block).
 * - setNull: documents that are not deleted get the referencing values replaced by null (array elements
 *   in place), all such changes to one document merged into one update.
 */
import { DeletePlanTooLargeError, ReferenceRestrictedError } from './errors.js';
import type { ReferenceGraph } from './reference-graph.js';
import { applySetNull, type DocId, idKey, type ReferenceEdge, referencedIds } from './references.js';

/** A stored document as the finder returns it; `_id` is required. */
export type StoredDoc = { readonly _id: DocId; readonly [field: string]: unknown };

export interface ReferenceFinder {
  /**
   * The documents of collection `edge.from` whose value at `edge` (see `edge.queryPath`, a MongoDB
   * filter path: `{ [edge.queryPath]: { $in: ids } }`) is one of `ids`. Extra documents are tolerated:
   * the planner re-checks each one.
   */
  findReferencing(
    edge: ReferenceEdge,
    ids: readonly DocId[],
  ): readonly StoredDoc[] | Promise<readonly StoredDoc[]>;
}

export interface DeleteAction {
  kind: 'delete';
  collection: string;
  id: DocId;
  /** Why: null for the documents the caller asked to delete, else the cascade that reached it. */
  cause: { edge: ReferenceEdge; referenced: DocId } | null;
}

export interface SetNullAction {
  kind: 'setNull';
  collection: string;
  id: DocId;
  before: StoredDoc;
  /** The document to write: `before` with the references to deleted documents nulled. */
  after: StoredDoc;
  edges: readonly ReferenceEdge[];
}

export type PlanAction = DeleteAction | SetNullAction;

export interface DeletePlan {
  /**
   * setNull updates first, then deletes with the ones reached last first and the requested ones last,
   * so that applied in this order no step leaves a document pointing at a deleted one.
   */
  actions: PlanAction[];
  deletes: DeleteAction[];
  updates: SetNullAction[];
}

export interface PlanOptions {
  /** Most documents (deleted plus updated) one plan may touch; default 100 000. */
  maxDocuments?: number;
  /** Most ids per findReferencing call; default 1000. */
  batchSize?: number;
}

export const DEFAULT_MAX_PLAN_DOCUMENTS = 100_000;

/** Plans deleting `ids` from `collection`; throws ReferenceRestrictedError or DeletePlanTooLargeError. */
export async function planDelete(
  graph: ReferenceGraph,
  finder: ReferenceFinder,
  collection: string,
  ids: readonly DocId[],
  options: PlanOptions = {},
): Promise<DeletePlan> {
  const limit = options.maxDocuments ?? DEFAULT_MAX_PLAN_DOCUMENTS;
  const batch = Math.max(1, options.batchSize ?? 1000);
  const deleted = new Map<string, Map<string, DeleteAction>>();
  const deletes: DeleteAction[] = [];
  const isDeleted = (c: string, id: DocId) => deleted.get(c)?.has(idKey(id)) === true;
  const markDeleted = (a: DeleteAction): boolean => {
    let m = deleted.get(a.collection);
    if (!m) {
      m = new Map();
      deleted.set(a.collection, m);
    }
    const k = idKey(a.id);
    if (m.has(k)) return false;
    if (deletes.length >= limit) throw new DeletePlanTooLargeError(limit);
    m.set(k, a);
    deletes.push(a);
    return true;
  };

  // 1. The deletion closure: requested documents, then cascades breadth-first.
  const queue: { collection: string; ids: DocId[] }[] = [];
  const roots: DocId[] = [];
  for (const id of ids) {
    if (markDeleted({ kind: 'delete', collection, id, cause: null })) roots.push(id);
  }
  if (roots.length > 0) queue.push({ collection, ids: roots });
  while (queue.length > 0) {
    const { collection: target, ids: wave } = queue.shift()!;
    for (const edge of graph.incoming(target)) {
      if (edge.onDelete !== 'cascade') continue;
      const reached: DocId[] = [];
      await forEachReferrer(finder, edge, wave, batch, (doc, referenced) => {
        if (
          markDeleted({ kind: 'delete', collection: edge.from, id: doc._id, cause: { edge, referenced } })
        ) {
          reached.push(doc._id);
        }
      });
      if (reached.length > 0) queue.push({ collection: edge.from, ids: reached });
    }
  }

  // 2. Restrict and setNull, against the whole closure: only documents that survive matter.
  const updates = new Map<string, SetNullAction>();
  for (const [target, byKey] of deleted) {
    const targetIds = [...byKey.values()].map((a) => a.id);
    for (const edge of graph.incoming(target)) {
      if (edge.onDelete === 'cascade') continue;
      await forEachReferrer(finder, edge, targetIds, batch, (doc, referenced) => {
        if (isDeleted(edge.from, doc._id)) return;
        if (edge.onDelete === 'restrict') {
          throw new ReferenceRestrictedError(target, referenced, edge.from, doc._id, edge.path);
        }
        const key = `${edge.from}\u0000${idKey(doc._id)}`;
        let u = updates.get(key);
        if (!u) {
          if (deletes.length + updates.size >= limit) throw new DeletePlanTooLargeError(limit);
          u = { kind: 'setNull', collection: edge.from, id: doc._id, before: doc, after: doc, edges: [] };
          updates.set(key, u);
        }
        if (!u.edges.includes(edge)) {
          const gone = referencedIds(edge, u.after).filter((id) => isDeleted(target, id));
          u.after = applySetNull(u.after, edge, gone);
          (u.edges as ReferenceEdge[]).push(edge);
        }
      });
    }
  }

  const ups = [...updates.values()];
  const dels = deletes.slice().reverse();
  return { actions: [...ups, ...dels], deletes: dels, updates: ups };
}

/**
 * Calls `fn` for each document the finder returns that really references one of `ids` along `edge`
 * (with the first such id), each document once.
 */
async function forEachReferrer(
  finder: ReferenceFinder,
  edge: ReferenceEdge,
  ids: readonly DocId[],
  batch: number,
  fn: (doc: StoredDoc, referenced: DocId) => void,
): Promise<void> {
  const wanted = new Set(ids.map(idKey));
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i += batch) {
    const docs = await finder.findReferencing(edge, ids.slice(i, i + batch));
    for (const doc of docs) {
      const k = idKey(doc._id);
      if (seen.has(k)) continue;
      const hit = referencedIds(edge, doc).find((id) => wanted.has(idKey(id)));
      if (hit === undefined) continue;
      seen.add(k);
      fn(doc, hit);
    }
  }
}
