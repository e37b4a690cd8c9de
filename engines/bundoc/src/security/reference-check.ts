/**
 * Existence checks for the references a written document holds. Only ids the write adds need checking
 * (an update that keeps a reference does not re-check it), and a document may reference itself.
 */
import { DanglingReferenceError } from './errors.js';
import { addedIds, type DocId, idKey, type ReferenceEdge, referencedIds } from './references.js';

export interface ReferenceExistence {
  /** Which of `ids` do NOT exist in `collection` (as seen by the writing transaction). */
  missing(collection: string, ids: readonly DocId[]): readonly DocId[] | Promise<readonly DocId[]>;
}

export interface ReferenceToCheck {
  edge: ReferenceEdge;
  ids: DocId[];
}

/** The ids `after` references that must exist: all of them on insert (`before` null), the new ones on update. */
export function referencesToCheck(
  edges: readonly ReferenceEdge[],
  before: unknown,
  after: unknown,
): ReferenceToCheck[] {
  const selfId = selfIdOf(after);
  const out: ReferenceToCheck[] = [];
  for (const edge of edges) {
    let ids = before === null ? referencedIds(edge, after) : addedIds(edge, before, after);
    if (selfId !== undefined && edge.target === edge.from) ids = ids.filter((id) => idKey(id) !== selfId);
    if (ids.length > 0) out.push({ edge, ids });
  }
  return out;
}

function selfIdOf(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const id = (doc as { _id?: unknown })._id;
  return typeof id === 'string' || typeof id === 'number' ? idKey(id) : undefined;
}

/** Throws DanglingReferenceError for the first reference of the write whose target does not exist. */
export async function assertReferencesExist(
  edges: readonly ReferenceEdge[],
  before: unknown,
  after: unknown,
  existence: ReferenceExistence,
): Promise<void> {
  for (const { edge, ids } of referencesToCheck(edges, before, after)) {
    const missing = await existence.missing(edge.target, ids);
    if (missing.length > 0) throw new DanglingReferenceError(edge.from, edge.path, edge.target, missing);
  }
}
