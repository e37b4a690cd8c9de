import { MAX_ID_KEY_BYTES } from '../document/id.js';
import { encodeCompoundKey } from '../keys/encode.js';
import { maxKeyBytes, PAGE_SIZES } from '../storage/constants.js';
import { keyString } from '../storage/sorted-keys.js';
import type { IndexMeta } from './catalog.js';
import { ID_INDEX_NAME } from './index-spec.js';
import { type FieldPredicate, type Interval, intersect, isEmptyInterval } from './predicates.js';

/** One contiguous run of keys to scan: gte ≤ key < lt (undefined: open). */
export interface ByteRange {
  gte?: Uint8Array;
  lt?: Uint8Array;
  /**
   * Set when the range can hold one key only, this one: an equality on every field of the primary key
   * (a complete key encoding is never a prefix of another), read with one point lookup.
   */
  point?: Uint8Array;
}

export interface Plan {
  /** OR: the union of `branches` (a top-level $or's branches, each on an index of its own). */
  kind: 'COLLSCAN' | 'IXSCAN' | 'OR';
  /** undefined for a scan of the documents in _id order; the primary key plan has index '_id_'. */
  index?: IndexMeta;
  ranges: ByteRange[];
  reverse: boolean;
  /** The scan yields documents already in the requested sort order. */
  sorted: boolean;
  /** Human-readable bounds per field, for explain() (built only when asked for). */
  bounds?: () => Record<string, string[]>;
  /** kind OR: one plan per branch; a document several of them find is visited once. */
  branches?: Plan[];
}

/** A top-level $or of more branches than this is not planned as a union of index scans. */
export const MAX_OR_BRANCHES = 64;

/** Cartesian products of $in lists larger than this fall back to fewer bound fields. */
const MAX_POINT_COMBOS = 1000;

const ID_FIELD: IndexMeta = {
  name: ID_INDEX_NAME,
  id: 0,
  fields: [{ path: '_id', dir: 1 }],
  unique: true,
  sparse: false,
  multikey: false,
};

interface Candidate {
  index: IndexMeta;
  eqFields: number;
  points: unknown[][];
  range?: Interval;
  score: number;
  sorted: boolean;
  reverse: boolean;
}

function evaluate(
  index: IndexMeta,
  preds: Map<string, FieldPredicate>,
  sort: Array<[string, 1 | -1]>,
  sortExplicitId: 1 | -1 | undefined,
): Candidate | undefined {
  const points: unknown[][] = [];
  let combos = 1;
  let i = 0;
  let usesNull = false;
  for (; i < index.fields.length; i++) {
    const p = preds.get(index.fields[i]!.path);
    if (!p?.points) break;
    if (combos * p.points.length > MAX_POINT_COMBOS) break;
    combos *= p.points.length;
    if (p.points.some((v) => v === null)) usesNull = true;
    points.push(p.points);
  }
  let range: Interval | undefined;
  if (i < index.fields.length) {
    const p = preds.get(index.fields[i]!.path);
    // Intersecting is only sound when each document has one value per field.
    if (p && p.ranges.length > 0) range = index.multikey ? p.ranges[0] : intersect(p.ranges);
  }
  const used = points.length + (range ? 1 : 0);
  if (index.sparse && (used === 0 || usesNull)) return undefined;
  let score = points.length * 2 + (range ? 1 : 0);
  if (index.unique && points.length === index.fields.length && combos === 1) score += 100;

  // Sort order from the index: one equality prefix, no arrays, and the sort covers the remaining fields.
  const wantsOrder = sort.length > 0 || sortExplicitId !== undefined;
  let sorted = !wantsOrder;
  let reverse = false;
  if (index === ID_FIELD) {
    if (sort.length === 0) {
      sorted = true;
      reverse = sortExplicitId === -1;
    }
  } else if (sort.length > 0 && !index.multikey && combos === 1) {
    const eqPaths = new Set(index.fields.slice(0, points.length).map((f) => f.path));
    const rest = sort.filter(([p]) => !eqPaths.has(p));
    const tail = index.fields.slice(points.length);
    if (rest.length === tail.length) {
      const fwd = rest.every(([p, d], k) => tail[k]!.path === p && tail[k]!.dir === d);
      const bwd = rest.every(([p, d], k) => tail[k]!.path === p && tail[k]!.dir === -d);
      // Ties come out in _id order of the scan direction; the result order breaks ties by ascending _id
      // unless the sort names _id last itself.
      const tieOk = (dir: 1 | -1) => index.unique || (sortExplicitId ?? 1) === dir;
      if (fwd && tieOk(1)) sorted = true;
      else if (bwd && tieOk(-1)) {
        sorted = true;
        reverse = true;
      }
    }
  }
  if (used === 0 && !(sorted && wantsOrder)) return undefined;
  if (sorted && wantsOrder) score += 0.5;
  return { index, eqFields: points.length, points, range, score, sorted, reverse };
}

/**
 * Picks the best index for a filter's predicates and a sort (fields and directions, _id excluded but
 * reported separately as the tie-breaker), or a collection scan. `orBranches`: where the filter has a
 * top-level $or, the predicates of each of its branches together with the rest of the filter; when
 * every branch has an index plan and the weakest scores above the best plan of the filter as a whole,
 * the plan is their union (MongoDB's OR stage), its documents then sorted in memory.
 */
export function choosePlan(
  indexes: readonly IndexMeta[],
  preds: Map<string, FieldPredicate>,
  sort: Array<[string, 1 | -1]>,
  sortExplicitId: 1 | -1 | undefined,
  haveLimit: boolean,
  orBranches?: ReadonlyArray<Map<string, FieldPredicate>>,
): Plan {
  const best = bestCandidate(indexes, preds, sort, sortExplicitId, haveLimit);
  if (orBranches !== undefined && orBranches.length > 0) {
    const union = unionPlan(indexes, orBranches, best?.score ?? 0);
    if (union !== undefined) return union;
  }
  if (!best) {
    // The document tree is in _id order: no sort, or a sort on _id alone, needs no index.
    const idOnly = sort.length === 0;
    return {
      kind: 'COLLSCAN',
      ranges: [{}],
      reverse: idOnly && sortExplicitId === -1,
      sorted: idOnly,
    };
  }
  return indexPlan(best);
}

function bestCandidate(
  indexes: readonly IndexMeta[],
  preds: Map<string, FieldPredicate>,
  sort: Array<[string, 1 | -1]>,
  sortExplicitId: 1 | -1 | undefined,
  haveLimit: boolean,
): Candidate | undefined {
  let best: Candidate | undefined;
  const consider = (ix: IndexMeta) => {
    const c = evaluate(ix, preds, sort, sortExplicitId);
    if (!c) return;
    // A full index scan only to avoid sorting pays off when a limit stops it early.
    if (c.score === 0.5 && (!haveLimit || ix === ID_FIELD)) return;
    if (!best || c.score > best.score) best = c;
  };
  consider(ID_FIELD);
  for (const ix of indexes) consider(ix);
  return best;
}

function indexPlan(c: Candidate): Plan {
  return {
    kind: 'IXSCAN',
    index: c.index,
    ranges: byteRanges(c),
    reverse: c.reverse,
    sorted: c.sorted,
    bounds: () => describeBounds(c),
  };
}

/** The union of the branches' best index plans, if each has one scoring above `toBeat`. */
function unionPlan(
  indexes: readonly IndexMeta[],
  branches: ReadonlyArray<Map<string, FieldPredicate>>,
  toBeat: number,
): Plan | undefined {
  if (branches.length > MAX_OR_BRANCHES) return undefined;
  const plans: Plan[] = [];
  for (const preds of branches) {
    const c = bestCandidate(indexes, preds, [], undefined, false);
    if (c === undefined || c.score <= toBeat) return undefined;
    plans.push(indexPlan(c));
  }
  return { kind: 'OR', ranges: [], reverse: false, sorted: false, branches: plans };
}

/**
 * The plan choosePlan makes for `{ _id: id }` alone (one point of the primary key), made directly: the
 * filter of most updates and deletes, where extracting predicates and weighing indexes cost more than
 * the lookup. `sorted`: false when an order of fields other than _id was asked for, as choosePlan
 * reports it (the executor then sorts the one document).
 */
export function idPointPlan(id: string | number, key: Uint8Array, sorted: boolean): Plan {
  return {
    kind: 'IXSCAN',
    index: ID_FIELD,
    ranges: [{ gte: key, lt: prefixEnd(key), point: key }],
    reverse: false,
    sorted,
    bounds: () => ({ _id: [`[${show(id)}, ${show(id)}]`] }),
  };
}

export function isPrimary(ix: IndexMeta | undefined): boolean {
  return ix === ID_FIELD;
}

function enc(v: unknown, dir: 1 | -1): Uint8Array {
  return encodeCompoundKey([v], [dir]);
}

function cat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The smallest byte string greater than every string that starts with `b`; undefined if none exists. */
export function prefixEnd(b: Uint8Array): Uint8Array | undefined {
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = b.slice(0, i + 1);
      out[i]!++;
      return out;
    }
  }
  return undefined;
}

const NO_BYTES = new Uint8Array(0);

function byteRanges(c: Candidate): ByteRange[] {
  const fields = c.index.fields;
  const prefixes: Uint8Array[][] = [[]];
  for (let i = 0; i < c.eqFields; i++) {
    const dir = fields[i]!.dir;
    const next: Uint8Array[][] = [];
    for (const pre of prefixes) for (const v of c.points[i]!) next.push([...pre, enc(v, dir)]);
    prefixes.splice(0, prefixes.length, ...next);
  }
  const out: ByteRange[] = [];
  // Duplicate $in values give equal prefixes (a single prefix, as of { _id: v }, needs no check).
  const seen = prefixes.length > 1 ? new Set<string>() : undefined;
  for (const parts of prefixes) {
    const pre = cat(parts);
    if (seen) {
      const s = keyString(pre);
      if (seen.has(s)) continue;
      seen.add(s);
    }
    if (!c.range) {
      if (c.index === ID_FIELD && c.eqFields === fields.length) {
        // No stored _id has a longer key (checkId): nothing to look up, where the lookup would refuse it.
        if (pre.length <= MAX_ID_KEY_BYTES) out.push({ gte: pre, lt: prefixEnd(pre), point: pre });
        continue;
      }
      out.push({ gte: pre.length ? pre : undefined, lt: pre.length ? prefixEnd(pre) : undefined });
      continue;
    }
    if (isEmptyInterval(c.range)) continue;
    const dir = fields[c.eqFields]!.dir;
    const { lo, loInc, hi, hiInc } = c.range;
    // Descending components are inverted bytes: the value interval's ends swap places.
    const [first, firstInc, last, lastInc] = dir === 1 ? [lo, loInc, hi, hiInc] : [hi, hiInc, lo, loInc];
    const a = cat([pre, enc(first, dir)]);
    const b = cat([pre, enc(last, dir)]);
    out.push({ gte: firstInc ? a : prefixEnd(a), lt: lastInc ? prefixEnd(b) : b });
  }
  const clamped = clampBounds(out);
  if (out.length > 1) out.sort((x, y) => Buffer.compare(x.gte ?? NO_BYTES, y.gte ?? NO_BYTES));
  return clamped ? mergeOverlaps(out) : out;
}

/** The smallest key limit of any page size: a scan bound longer than it is clamped to it. */
const MAX_BOUND_BYTES = maxKeyBytes(Math.min(...PAGE_SIZES));

/**
 * Widens ranges whose bounds are longer than any store takes (a range with a 3000-character string, or
 * an equality on one, which no index key can hold): the start cut to MAX_BOUND_BYTES, the end to the
 * first key past everything that starts with its cut. A wider scan is sound, the filter is applied to
 * every document; it used to fail with "range bound is N bytes". Returns whether any bound changed.
 */
function clampBounds(ranges: ByteRange[]): boolean {
  let changed = false;
  for (const r of ranges) {
    if (r.gte !== undefined && r.gte.length > MAX_BOUND_BYTES) {
      r.gte = r.gte.slice(0, MAX_BOUND_BYTES);
      changed = true;
    }
    if (r.lt !== undefined && r.lt.length > MAX_BOUND_BYTES) {
      r.lt = prefixEnd(r.lt.slice(0, MAX_BOUND_BYTES));
      changed = true;
    }
  }
  return changed;
}

/**
 * Sorted ranges with the overlapping ones joined: values that differ only past the cut clamp to the same
 * range, which would otherwise be scanned once per value.
 */
function mergeOverlaps(sorted: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && prev.point === undefined && r.point === undefined) {
      const overlaps = prev.lt === undefined || r.gte === undefined || Buffer.compare(r.gte, prev.lt) < 0;
      if (overlaps) {
        if (prev.lt !== undefined && (r.lt === undefined || Buffer.compare(r.lt, prev.lt) > 0))
          prev.lt = r.lt;
        continue;
      }
    }
    out.push(r);
  }
  return out;
}

function show(v: unknown): string {
  return JSON.stringify(v);
}

function describeBounds(c: Candidate): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  c.index.fields.forEach((f, i) => {
    if (i < c.eqFields) out[f.path] = c.points[i]!.map((v) => `[${show(v)}, ${show(v)}]`);
    else if (i === c.eqFields && c.range) {
      const r = c.range;
      out[f.path] = [`${r.loInc ? '[' : '('}${show(r.lo)}, ${show(r.hi)}${r.hiInc ? ']' : ')'}`];
    } else out[f.path] = ['[MinKey, MaxKey]'];
  });
  return out;
}
