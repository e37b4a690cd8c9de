import { compareValues } from '../keys/compare.js';
import { isPlainObject } from '../keys/types.js';
import { InvalidSortError } from './errors.js';
import { compilePathReader, splitPath } from './path.js';

/** `{ age: -1, name: 1 }`: fields compared in order, 1 ascending, -1 descending. */
export type SortSpec = Record<string, 1 | -1>;

/** Sort key of an empty array: MongoDB orders it before null and missing fields. */
const EMPTY_ARRAY: unique symbol = Symbol('empty array');
type SortValue = unknown | typeof EMPTY_ARRAY;

function compareSortValues(a: SortValue, b: SortValue): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) return a === b ? 0 : a === EMPTY_ARRAY ? -1 : 1;
  return compareValues(a, b);
}

interface SortField {
  read: (doc: unknown) => unknown[];
  dir: 1 | -1;
}

function parseSort(spec: unknown): SortField[] {
  if (!isPlainObject(spec)) throw new InvalidSortError('sort must be an object like { field: 1 | -1 }');
  return Object.keys(spec).map((path) => {
    const dir = spec[path];
    if (dir !== 1 && dir !== -1) throw new InvalidSortError(`sort.${path}: direction must be 1 or -1`);
    const parts = splitPath(path);
    if (parts === undefined || parts.some((p) => p.startsWith('$'))) {
      throw new InvalidSortError(`sort: invalid field path "${path}"`);
    }
    return { read: compilePathReader(parts), dir };
  });
}

/**
 * The value a document sorts by on one field: ascending uses the smallest element of an array,
 * descending the largest (MongoDB's rule); missing is null; an empty array sorts before null.
 */
function sortValue(raw: unknown[], dir: 1 | -1): SortValue {
  let best: SortValue;
  let found = false;
  let sawEmptyArray = false;
  const consider = (v: unknown) => {
    const c = v === undefined ? null : v;
    if (!found || compareValues(c, best) * dir < 0) best = c;
    found = true;
  };
  for (const r of raw) {
    if (Array.isArray(r)) {
      if (r.length === 0) sawEmptyArray = true;
      for (const e of r) consider(e);
    } else consider(r);
  }
  if (sawEmptyArray && (!found || dir === 1)) return EMPTY_ARRAY; // [] is below everything else
  return found ? best : null;
}

/** A comparator for Array.prototype.sort; computes keys per comparison, so prefer sortDocuments for lists. */
export function compileSort(spec: unknown): (a: unknown, b: unknown) => number {
  const fields = parseSort(spec);
  return (a, b) => {
    for (const f of fields) {
      const c = compareSortValues(sortValue(f.read(a), f.dir), sortValue(f.read(b), f.dir));
      if (c !== 0) return c * f.dir;
    }
    return 0;
  };
}

/** Sorts a copy of `docs`, computing each document's key once; ties keep their input order. */
export function sortDocuments<T>(docs: readonly T[], spec: unknown): T[] {
  const fields = parseSort(spec);
  const keyed = docs.map((doc, i) => ({ doc, i, key: fields.map((f) => sortValue(f.read(doc), f.dir)) }));
  keyed.sort((x, y) => {
    for (let k = 0; k < fields.length; k++) {
      const c = compareSortValues(x.key[k], y.key[k]);
      if (c !== 0) return c * fields[k]!.dir;
    }
    return x.i - y.i;
  });
  return keyed.map((k) => k.doc);
}
