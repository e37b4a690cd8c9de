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

/** How far past a document the sieve searches ahead in the memory that follows it. */
const LOOK_AHEAD = 4096;
/** Shorter arrays may live on V8's heap, where reading `.buffer` would move them: searched alone. */
const MIN_LOOK_AHEAD_LENGTH = 65;

/** What one search ahead found: the first occurrence at or after `from` lying before `limit`, or -1. */
interface Ahead {
  buf: ArrayBufferLike | undefined;
  from: number;
  limit: number;
  hit: number;
}

/**
 * mayMatch for the documents of one synchronous scan, in scan order. Documents read from a page (or
 * written into the same arena) lie one after another in one memory block: one search ahead over the
 * block answers for every document up to its first occurrence, so a scan makes about one search per
 * occurrence instead of one per document (each search a native call: 22% of an unindexed filter).
 * Sound for any memory layout: whatever lies between documents can only add occurrences, and an
 * occurrence counts for a document only if it lies wholly inside it. The memory must not change during
 * the scan, after a document either: pages and the write arenas do not (a scan runs synchronously), but
 * copies made one after another into an arena or Node's shared Buffer pool would put a later document
 * where an earlier search found nothing (both happened: see exec.ts scan and Pager.readChain).
 */
export class NeedleSieve {
  readonly #needles: Needles;
  readonly #ahead: Ahead[][];

  constructor(needles: Needles) {
    this.#needles = needles;
    this.#ahead = needles.map((alts) => alts.map(() => ({ buf: undefined, from: 0, limit: 0, hit: -1 })));
  }

  mayMatch(json: Uint8Array): boolean {
    return this.mayMatchIn(json, 0, json.length);
  }

  /** mayMatch of the JSON in bytes[start, end) (a document in the middle of a page, say). */
  mayMatchIn(bytes: Uint8Array, start: number, end: number): boolean {
    const needles = this.#needles;
    for (let i = 0; i < needles.length; i++) {
      const alternatives = needles[i]!;
      let found = false;
      for (let j = 0; j < alternatives.length; j++) {
        if (this.#contains(bytes, start, end, alternatives[j]!, this.#ahead[i]![j]!)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  #contains(bytes: Uint8Array, start: number, end: number, n: Uint8Array, a: Ahead): boolean {
    if (bytes.length < MIN_LOOK_AHEAD_LENGTH) return indexOf.call(bytes.subarray(start, end), n) !== -1;
    const buf = bytes.buffer;
    const s = bytes.byteOffset + start;
    const e = bytes.byteOffset + end;
    if (a.buf === buf) {
      // Before the last search's start (a reverse scan, values out of order): on its own.
      if (s < a.from) return indexOf.call(new Uint8Array(buf, s, e - s), n) !== -1;
      // Nothing occurs in [from, hit): the first occurrence from s on is at hit.
      if (a.hit >= s) return a.hit + n.length <= e;
      if (a.hit === -1 && e <= a.limit) return false;
    }
    const limit = Math.min(buf.byteLength, Math.max(e, s + LOOK_AHEAD));
    const at = indexOf.call(new Uint8Array(buf, s, limit - s), n);
    a.buf = buf;
    a.from = s;
    a.limit = limit;
    a.hit = at === -1 ? -1 : s + at;
    return at !== -1 && s + at + n.length <= e;
  }
}
