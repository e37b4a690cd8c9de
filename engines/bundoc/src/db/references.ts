import { type DocId, type Document, idKey, prepareDocument } from '../document/index.js';
import type { CollectionSecurity } from '../security/collection-security.js';
import { planDelete, type StoredDoc } from '../security/delete-plan.js';
import { DanglingReferenceError } from '../security/errors.js';
import { referencesToCheck } from '../security/reference-check.js';
import type { ReferenceGraph } from '../security/reference-graph.js';
import { idKey as refKey } from '../security/references.js';
import { docTree } from './catalog.js';
import type { Scope } from './core.js';
import { compileQuery, execute, type Fetched } from './exec.js';
import { latin1 } from './index-keys.js';
import { writeDocument } from './writes.js';

/**
 * Applying references inside the write's own storage transaction: existence checks for the ids a write
 * adds, and delete plans (restrict, setNull, cascade) applied in the delete's transaction.
 *
 * Snapshot isolation alone would let an insert referencing a document and a concurrent delete of that
 * document both commit (each sees the other's write as absent). A write that adds a reference therefore
 * also rewrites the referenced document with its own stored bytes: the delete writes that key too, so
 * the storage's write-write conflict detection lets only one of them commit (the other is retried and
 * then sees the first). This is SQL's key-share row lock, done with the only conflict the store knows;
 * the price is that concurrent writes adding references to the same document conflict and retry.
 */

/** A referenced document to rewrite with its own bytes once the write is known to go ahead. */
export interface Touch {
  tree: string;
  key: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Ids an insert batch adds before they are stored, so a document may reference one written earlier in
 * the same batch: collection name → latin1(idKey).
 */
export type Pending = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * Throws DanglingReferenceError unless every id `after` adds (compared with `before`; null on insert)
 * exists in its target collection, as this transaction sees it; records the documents to touch.
 */
export function checkReferences(
  s: Scope,
  sec: CollectionSecurity,
  before: unknown,
  after: unknown,
  touches: Touch[],
  pending?: Pending,
): void {
  if (sec.references.length === 0) return;
  for (const { edge, ids } of referencesToCheck(sec.references, before, after)) {
    const meta = s.meta(edge.target);
    const tree = meta ? docTree(meta) : undefined;
    const added = pending?.get(edge.target);
    const missing: DocId[] = [];
    for (const id of ids) {
      const key = idKeyOrUndefined(id);
      if (key === undefined) {
        missing.push(id); // cannot be an _id at all (too long)
        continue;
      }
      if (added?.has(latin1(key))) continue;
      const bytes = tree === undefined ? undefined : s.tx.get(tree, key);
      if (bytes === undefined) missing.push(id);
      else touches.push({ tree: tree!, key, bytes });
    }
    if (missing.length > 0) throw new DanglingReferenceError(edge.from, edge.path, edge.target, missing);
  }
}

function idKeyOrUndefined(id: DocId): Uint8Array | undefined {
  try {
    return idKey(id);
  } catch {
    return undefined;
  }
}

/** Rewrites the referenced documents with their own bytes (see the module comment). */
export function applyTouches(s: Scope, touches: readonly Touch[]): void {
  for (const t of touches) s.tx.put(t.tree, t.key, t.bytes, 'touch');
}

/**
 * Deletes `rows` of collection `name` with everything their references imply: plans over the whole
 * set of documents the delete reaches (ReferenceRestrictedError, DeletePlanTooLargeError and the
 * schema of setNull-updated documents are all checked before the first write), then writes setNull
 * updates and deletes, index entries included, in this transaction.
 */
export async function deleteWithReferences(
  s: Scope,
  name: string,
  rows: readonly Fetched[],
  securityOf: (collection: string) => CollectionSecurity,
  graph: ReferenceGraph,
): Promise<void> {
  const meta = s.meta(name);
  if (!meta || rows.length === 0) return;
  if (!graph.isReferenced(name)) {
    s.atomically(() => {
      for (const row of rows) writeDocument(s, meta, row.key, row.doc, undefined);
    });
    return;
  }
  // Documents the plan may delete, as read in this transaction: collection → refKey(_id) → row.
  const known = new Map<string, Map<string, Fetched>>();
  const remember = (collection: string, r: Fetched) => {
    let m = known.get(collection);
    if (!m) {
      m = new Map();
      known.set(collection, m);
    }
    m.set(refKey(r.doc._id as DocId), r);
  };
  for (const r of rows) remember(name, r);
  const plan = await planDelete(
    graph,
    {
      findReferencing(edge, ids) {
        // Integrity actions run without the referencing collection's rules: no visibility filter.
        const q = compileQuery({ [edge.queryPath]: { $in: ids as DocId[] } }, undefined);
        const found = execute(s, edge.from, q).rows;
        for (const r of found) remember(edge.from, r);
        return found.map((r) => r.doc as StoredDoc);
      },
    },
    name,
    rows.map((r) => r.doc._id as DocId),
  );
  // Everything is validated and encoded before the first write.
  const updates = plan.updates.map((u) => {
    securityOf(u.collection).validateUpdate(u.before, u.after);
    const target = s.meta(u.collection)!;
    return {
      meta: target,
      key: idKey(u.id),
      before: u.before as Document,
      enc: prepareDocument(u.after, () => u.id),
    };
  });
  const deletes = plan.deletes.map((d) => {
    const row = known.get(d.collection)?.get(refKey(d.id));
    if (!row) throw new Error(`bundoc: delete plan names an unread document ${d.collection}/${String(d.id)}`);
    return { meta: s.meta(d.collection)!, row };
  });
  // One synchronous stretch, taken back whole if a write fails (a setNull update meeting a unique key):
  // inside a transaction other operations may have run during the planning above (see Scope.guard).
  s.atomically(() => {
    for (const u of updates) writeDocument(s, u.meta, u.key, u.before, u.enc);
    for (const { meta: m, row } of deletes) writeDocument(s, m, row.key, row.doc, undefined);
  });
}
