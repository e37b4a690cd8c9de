import type { Document } from '../document/index.js';
import { decodeKeyPrefix } from '../keys/decode.js';
import { isPlainObject } from '../keys/types.js';
import { splitPath } from '../query/path.js';
import { ValueRange } from '../storage/btree.js';
import { type CollectionMeta, docTree, indexTree } from './catalog.js';
import type { Scope } from './core.js';
import { type CompiledQuery, execute, planFor } from './exec.js';
import { isPrimary, type Plan } from './planner.js';

/**
 * countDocuments: how many documents match, counted from index keys alone where that gives the exact
 * answer, as MongoDB's COUNT_SCAN does; otherwise the documents are read and matched as find() does.
 * Counting 1400 documents of one age through an index took 2.3 ms decoding every one of them.
 *
 * From keys alone when:
 * - no list rule applies to the caller (a rule reads the whole document);
 * - the plan scans one index (or the documents in _id order for an empty filter) that never held an
 *   array in its fields: each document has exactly one entry, and its key holds the document's values
 *   of those fields (a missing field as null);
 * - the filter reads only those fields, each with conditions on a non-null scalar ($eq, $in, $gt, $gte,
 *   $lt, $lte, under $and too): the filter then gives the same answer on the key's values as on the
 *   document. (Null is left out: it matches a missing field, which the key cannot tell from null.)
 * The filter runs on a document made of the key's values, so the scan's bounds may be a superset.
 */
export function countMatching(
  scope: Scope,
  name: string,
  q: CompiledQuery,
  visible: ((doc: Document) => boolean) | undefined,
): number {
  const meta = scope.meta(name);
  if (meta === undefined) return 0;
  if (visible === undefined) {
    const n = countFromKeys(scope, meta, planFor(meta, q), q);
    if (n !== undefined) {
      countStats.fromKeys++;
      return n;
    }
  }
  return execute(scope, name, q, visible, false).rows.length;
}

/** Counts answered from index keys alone (for tests and diagnostics). */
export const countStats = { fromKeys: 0 };

const RANGE_OPS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte']);

/** A value whose comparisons read only the value itself: no null, no object or array. */
function isScalar(v: unknown): boolean {
  return (
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    (v instanceof Date && !Number.isNaN(v.getTime()))
  );
}

/** The field paths the filter reads, if it has only the conditions countFromKeys can answer. */
export function coveredFields(filter: Record<string, unknown>): Set<string> | undefined {
  const fields = new Set<string>();
  const walk = (f: Record<string, unknown>): boolean => {
    for (const key of Object.keys(f)) {
      const v = f[key];
      if (key === '$and') {
        if (!Array.isArray(v) || v.length === 0) return false;
        for (const sub of v) if (!isPlainObject(sub) || !walk(sub)) return false;
        continue;
      }
      if (key.startsWith('$')) return false;
      if (!isScalar(v)) {
        if (!isPlainObject(v)) return false;
        const ops = Object.keys(v);
        if (ops.length === 0) return false;
        for (const op of ops) {
          const x = v[op];
          if (op === '$in') {
            if (!Array.isArray(x) || !x.every(isScalar)) return false;
          } else if (!RANGE_OPS.has(op) || !isScalar(x)) return false;
        }
      }
      fields.add(key);
    }
    return true;
  };
  return walk(filter) ? fields : undefined;
}

const EXISTS = new ValueRange();

/** The count from the plan's index keys, or undefined where it would not be exact (see countMatching). */
function countFromKeys(scope: Scope, meta: CollectionMeta, plan: Plan, q: CompiledQuery): number | undefined {
  if (plan.branches !== undefined || q.after !== undefined) return undefined;
  const fields = coveredFields(q.filter);
  if (fields === undefined) return undefined;
  const ix = plan.index;
  const tx = scope.tx;
  let n = 0;
  if (ix === undefined) {
    // A scan of the documents: only an empty filter is answered without them.
    if (fields.size > 0) return undefined;
    for (const r of plan.ranges) {
      tx.eachView(docTree(meta), { gte: r.gte, lt: r.lt }, () => ++n > 0, undefined, false);
    }
    return n;
  }
  if (ix.multikey) return undefined;
  const paths = ix.fields.map((f) => f.path);
  for (const f of fields) if (!paths.includes(f)) return undefined;
  // A path inside another ({ a: 1, "a.b": 1 }) would overwrite part of that one's value below.
  if (paths.some((p) => paths.some((o) => o.startsWith(`${p}.`)))) return undefined;
  const parts = paths.map((p) => splitPath(p)!);
  const dirs = ix.fields.map((f) => f.dir);
  const tree = isPrimary(ix) ? docTree(meta) : indexTree(ix);
  const matches = (key: Uint8Array): boolean => {
    const values = decodeKeyPrefix(key, dirs);
    const doc: Document = {};
    for (let i = 0; i < parts.length; i++) setPath(doc, parts[i]!, values[i]);
    return q.matcher(doc);
  };
  for (const r of plan.ranges) {
    if (r.point !== undefined) {
      if (tx.getRange(tree, r.point, EXISTS) && matches(r.point)) n++;
      continue;
    }
    tx.eachView(tree, { gte: r.gte, lt: r.lt }, (key) => {
      if (matches(key)) n++;
      return true;
    });
  }
  return n;
}

/** Sets doc[p0][p1]… = value, making the objects on the way (the paths of one index share no field). */
function setPath(doc: Document, parts: readonly string[], value: unknown): void {
  let o = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    let next = o[p];
    if (!isPlainObject(next)) {
      next = {};
      define(o, p, next);
    }
    o = next as Document;
  }
  define(o, parts[parts.length - 1]!, value);
}

/**
 * o[k] = v as an own field, defined where assigning would differ: a name Object.prototype has
 * ("__proto__" would set the prototype; a frozen prototype's "toString" would refuse), as json-decode.
 */
function define(o: Document, k: string, v: unknown): void {
  if (k in Object.prototype) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else o[k] = v;
}
