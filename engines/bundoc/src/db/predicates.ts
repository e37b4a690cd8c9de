/**
 * The predicates of a filter an index can serve (top level and $and; a top-level $or's branches are
 * extracted one by one for index unions, see exec.ts). Only what is safe for a superset scan is
 * extracted: the full filter is always applied to what the scan finds.
 */
import { compareValues } from '../keys/compare.js';
import { isPlainObject, MaxKey } from '../keys/types.js';

/** An interval of values; `lo`/`hi` are real values chosen so a range never crosses a type bracket. */
export interface Interval {
  lo: unknown;
  loInc: boolean;
  hi: unknown;
  hiInc: boolean;
}

export interface FieldPredicate {
  /** From an equality or $in: the field equals (or an array element equals) one of these. */
  points?: unknown[];
  /** Every range operator applied to the field, in filter order. */
  ranges: Interval[];
}

export const MAX_IN_POINTS = 1000;

/** Scalars whose index key is exactly the value compared by $eq (documents hold JSON values and Dates). */
function isPointValue(v: unknown): boolean {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    isValidDate(v)
  );
}

function isValidDate(v: unknown): v is Date {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/** MongoDB's comparison operators only match within the operand's type bracket. */
function rangeOf(op: string, v: unknown): Interval | undefined {
  let bottom: unknown;
  let top: unknown;
  if (typeof v === 'number' && !Number.isNaN(v)) {
    bottom = null; // numbers sit between null and the empty string
    top = '';
  } else if (typeof v === 'string') {
    bottom = '';
    top = {}; // the smallest object
  } else if (isValidDate(v)) {
    bottom = true; // dates sit right after booleans (true is the largest) and before MaxKey
    top = MaxKey;
  } else return undefined;
  switch (op) {
    case '$gt':
      return { lo: v, loInc: false, hi: top, hiInc: false };
    case '$gte':
      return { lo: v, loInc: true, hi: top, hiInc: false };
    case '$lt':
      return { lo: bottom, loInc: typeof v === 'string', hi: v, hiInc: false };
    case '$lte':
      return { lo: bottom, loInc: typeof v === 'string', hi: v, hiInc: true };
  }
  return undefined;
}

export function extractPredicates(filter: Record<string, unknown>): Map<string, FieldPredicate> {
  const out = new Map<string, FieldPredicate>();
  collect(filter, out);
  return out;
}

function entry(out: Map<string, FieldPredicate>, path: string): FieldPredicate {
  let p = out.get(path);
  if (!p) {
    p = { ranges: [] };
    out.set(path, p);
  }
  return p;
}

function collect(filter: Record<string, unknown>, out: Map<string, FieldPredicate>): void {
  for (const key of Object.keys(filter)) {
    const v = filter[key];
    if (key === '$and' && Array.isArray(v)) {
      for (const sub of v) if (isPlainObject(sub)) collect(sub, out);
      continue;
    }
    if (key.startsWith('$')) continue;
    if (isPointValue(v)) {
      const p = entry(out, key);
      p.points ??= [v];
      continue;
    }
    if (!isPlainObject(v)) continue;
    const ops = Object.keys(v);
    if (ops.length === 0 || !ops.every((o) => o.startsWith('$'))) continue;
    for (const op of ops) {
      const operand = v[op];
      if (op === '$eq' && isPointValue(operand)) {
        const p = entry(out, key);
        p.points ??= [operand];
      } else if (
        op === '$in' &&
        Array.isArray(operand) &&
        operand.length > 0 &&
        operand.length <= MAX_IN_POINTS &&
        operand.every(isPointValue)
      ) {
        const p = entry(out, key);
        p.points ??= operand;
      } else {
        const r = rangeOf(op, operand);
        if (r) entry(out, key).ranges.push(r);
      }
    }
  }
}

/** Intersection of intervals (valid only where each document has one value for the field). */
export function intersect(ranges: readonly Interval[]): Interval {
  let r = ranges[0]!;
  for (let i = 1; i < ranges.length; i++) {
    const x = ranges[i]!;
    const lo = compareValues(x.lo, r.lo);
    const hi = compareValues(x.hi, r.hi);
    r = {
      lo: lo > 0 ? x.lo : r.lo,
      loInc: lo > 0 ? x.loInc : lo < 0 ? r.loInc : r.loInc && x.loInc,
      hi: hi < 0 ? x.hi : r.hi,
      hiInc: hi < 0 ? x.hiInc : hi > 0 ? r.hiInc : r.hiInc && x.hiInc,
    };
  }
  return r;
}

export function isEmptyInterval(r: Interval): boolean {
  const c = compareValues(r.lo, r.hi);
  return c > 0 || (c === 0 && !(r.loInc && r.hiInc));
}
