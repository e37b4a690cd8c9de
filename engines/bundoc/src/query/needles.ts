import { isPlainObject } from '../keys/types.js';

/**
 * Byte strings a document's stored JSON must contain for a filter to match it, so a scan can skip
 * parsing documents that cannot match. Sound because the stored JSON is JSON.stringify output: a string
 * value v anywhere in the document appears in it as JSON.stringify(v) (the same escaping either way), and
 * the UTF-8 of a text contains the UTF-8 of its substrings (the escaped form has no lone surrogates).
 * The needle is that form without its opening quote: still required, and its first byte is rarely a
 * quote, which makes the search several times faster in JSON full of quotes.
 * The result is a conjunction of alternatives: for each inner list, at least one needle must occur.
 * Only positive string equalities are used (implicit equality, $eq, $in and $all of strings, and $and /
 * $or of such); anything else contributes nothing, and the full filter is always checked afterwards.
 * Call it on a filter compileFilter accepted.
 */
export type Needles = Uint8Array[][];

function needle(s: string): Uint8Array {
  return Buffer.from(JSON.stringify(s).slice(1), 'utf8');
}

export function filterNeedles(filter: Record<string, unknown>): Needles | undefined {
  const out: Needles = [];
  collect(filter, out);
  return out.length > 0 ? out : undefined;
}

function collect(filter: Record<string, unknown>, out: Needles): void {
  for (const key of Object.keys(filter)) {
    const v = filter[key];
    if (key === '$and') {
      for (const sub of v as Record<string, unknown>[]) collect(sub, out);
    } else if (key === '$or') {
      // A match satisfies some branch, so it contains one string of that branch's first requirement.
      const any = orNeedles(v as Record<string, unknown>[]);
      if (any) out.push(any);
    } else if (!key.startsWith('$')) field(v, out);
  }
}

/** undefined when some branch requires nothing. */
function orNeedles(branches: Record<string, unknown>[]): Uint8Array[] | undefined {
  const any: Uint8Array[] = [];
  for (const sub of branches) {
    const inner: Needles = [];
    collect(sub, inner);
    if (inner.length === 0) return undefined;
    any.push(...inner[0]!);
  }
  return any;
}

function field(cond: unknown, out: Needles): void {
  if (typeof cond === 'string') {
    out.push([needle(cond)]);
    return;
  }
  if (!isPlainObject(cond)) return;
  for (const op of Object.keys(cond)) {
    const x = cond[op];
    if (op === '$eq' && typeof x === 'string') out.push([needle(x)]);
    else if (op === '$in' && Array.isArray(x) && x.length > 0 && x.every((e) => typeof e === 'string'))
      out.push(x.map((e) => needle(e as string)));
    else if (op === '$all' && Array.isArray(x))
      for (const e of x)
        if (typeof e === 'string') out.push([needle(e)]);
        else if (!op.startsWith('$')) return; // a literal object value: matched as a whole, not needed here
  }
}

const indexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array) => number;

/**
 * True when `json` (a document's UTF-8 JSON, after any bytes that occur in no needle such as control
 * characters) contains at least one needle of every requirement.
 */
export function mayMatch(json: Uint8Array, needles: Needles): boolean {
  for (const alternatives of needles) {
    let found = false;
    for (const n of alternatives) {
      if (indexOf.call(json, n) !== -1) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
