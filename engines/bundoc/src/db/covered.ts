import type { Document } from '../document/index.js';
import { decodeKey, decodeKeyPrefix } from '../keys/decode.js';
import { isPlainObject } from '../keys/types.js';
import { splitPath } from '../query/path.js';
import { ValueRange } from '../storage/btree.js';
import { type CollectionMeta, docTree, indexTree } from './catalog.js';
import type { Scope } from './core.js';
import type { CompiledQuery } from './exec.js';
import { isPrimary, type Plan } from './planner.js';

/**
 * Queries answered from index keys alone, without reading a document, where that gives the exact answer
 * (MongoDB's covered queries and COUNT_SCAN): countDocuments, find() with the projection { _id: 1 }, and
 * distinct() of an indexed field.
 *
 * From keys alone when:
 * - no list rule applies to the caller (a rule reads the whole document): the callers check;
 * - the plan scans one index that never held an array in its fields: each document has exactly one
 *   entry, and its key holds the document's values of those fields (a missing field as null); or the
 *   documents in _id order, for an empty filter;
 * - the filter reads only those fields, each with conditions on a non-null scalar ($eq, $in, $gt, $gte,
 *   $lt, $lte, under $and too): the filter then gives the same answer on the key's values as on the
 *   document. (Null is left out: it matches a missing field, which the key cannot tell from null.)
 * The filter runs on a document made of the key's values, so the scan's bounds may be a superset.
 */

/** Scans answered from index keys alone (for tests and diagnostics). */
export const coveredStats = { scans: 0 };

/**
 * Calls `visit` with the primary key of every document the filter matches, and the values of its index
 * key (in the index's field order; undefined for a scan of the documents), in the plan's order, until it
 * returns false; undefined (having visited nothing) where keys alone cannot tell (see above). With `keys`
 * false a scan of the documents passes no keys (for counting).
 */
export function scanKeys(
  scope: Scope,
  meta: CollectionMeta,
  plan: Plan,
  q: CompiledQuery,
  visit: (primaryKey: Uint8Array, values: readonly unknown[] | undefined) => boolean,
  keys = true,
  stats?: { keysExamined: number },
): boolean | undefined {
  if (plan.branches !== undefined || q.after !== undefined) return undefined;
  const fields = coveredFields(q.filter);
  if (fields === undefined) return undefined;
  const ix = plan.index;
  const tx = scope.tx;
  const reverse = plan.reverse;
  // As scan() in exec.ts: a reverse plan visits its ranges last to first.
  const ranges = reverse ? [...plan.ranges].reverse() : plan.ranges;
  let stopped = false;
  if (ix === undefined) {
    // A scan of the documents: only an empty filter is answered without them.
    if (fields.size > 0) return undefined;
    coveredStats.scans++;
    for (const r of ranges) {
      tx.eachView(
        docTree(meta),
        { gte: r.gte, lt: r.lt, reverse },
        (key) => {
          if (stats) stats.keysExamined++;
          stopped = !visit(key, undefined);
          return !stopped;
        },
        undefined,
        keys,
      );
      if (stopped) break;
    }
    return true;
  }
  if (ix.multikey) return undefined;
  const paths = ix.fields.map((f) => f.path);
  for (const f of fields) if (!paths.includes(f)) return undefined;
  // A path inside another ({ a: 1, "a.b": 1 }) would overwrite part of that one's value below; a numeric
  // part ("n.0") reads an array element or a field, which a document made of the key cannot mirror.
  if (paths.some((p) => paths.some((o) => o.startsWith(`${p}.`)))) return undefined;
  if (paths.some((p) => p.split('.').some((part) => /^\d+$/.test(part)))) return undefined;
  coveredStats.scans++;
  const parts = paths.map((p) => splitPath(p)!);
  const dirs = ix.fields.map((f) => f.dir);
  const primary = isPrimary(ix);
  const tree = primary ? docTree(meta) : indexTree(ix);
  // The key's values of the last entry matches() looked at.
  let values: unknown[] = [];
  const matches = (key: Uint8Array): boolean => {
    if (stats) stats.keysExamined++;
    values = decodeKeyPrefix(key, dirs);
    const doc: Document = {};
    for (let i = 0; i < parts.length; i++) setPath(doc, parts[i]!, values[i]);
    return q.matcher(doc);
  };
  for (const r of ranges) {
    if (r.point !== undefined) {
      if (tx.getRange(tree, r.point, EXISTS) && matches(r.point) && !visit(r.point, values)) break;
      continue;
    }
    // An index entry's value is the document's primary key.
    tx.eachView(tree, { gte: r.gte, lt: r.lt, reverse }, (key, value) => {
      if (!matches(key)) return true;
      stopped = !visit(primary ? key : value, values);
      return !stopped;
    });
    if (stopped) break;
  }
  return true;
}

/** The _id a primary key encodes. */
export function idOfKey(primaryKey: Uint8Array): unknown {
  return decodeKey(primaryKey);
}

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

/** The field paths the filter reads, if it has only the conditions scanKeys can answer. */
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

/**
 * Sets doc[p0][p1]… = value, making the objects on the way (an index's paths may share leading fields,
 * as n.x and n.y; none lies inside another, see scanKeys).
 */
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
