import { TypeRank, type TypeRankValue, typeRank } from './types.js';

/**
 * Total order over values with MongoDB's semantics: first the type bracket, then the value within it.
 * Numbers compare numerically (-0 equals 0, NaN sorts below every other number), strings by Unicode
 * code point, objects field by field (value type, then field name, then value; field order matters),
 * arrays element by element, binary by length then bytes, dates by time. `undefined` (missing) equals null.
 * This is the reference the index key encoding must agree with byte for byte.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  return compareSameRank(ra, a, b);
}

/** Compares two values already known to be in the same type bracket `rank`. */
export function compareSameRank(rank: TypeRankValue, a: unknown, b: unknown): number {
  switch (rank) {
    case TypeRank.number:
      return compareNumbers(a as number, b as number);
    case TypeRank.string:
      return compareStrings(a as string, b as string);
    case TypeRank.object:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case TypeRank.array:
      return compareArrays(a as unknown[], b as unknown[]);
    case TypeRank.binary:
      return compareBinary(a as Uint8Array, b as Uint8Array);
    case TypeRank.boolean:
      return a === b ? 0 : a ? 1 : -1;
    case TypeRank.date:
      return compareNumbers((a as Date).getTime(), (b as Date).getTime());
    default:
      return 0; // null/missing, MinKey, MaxKey: one value per bracket
  }
}

export function compareNumbers(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0; // includes -0 === 0
  const na = Number.isNaN(a);
  const nb = Number.isNaN(b);
  return na === nb ? 0 : na ? -1 : 1;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Code point order (what UTF-8 byte order gives), not JavaScript's UTF-16 code unit order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    // A difference at a low surrogate belongs to the code point that starts one unit earlier.
    const at = i > 0 && isHighSurrogate(a.charCodeAt(i - 1)) ? i - 1 : i;
    const cx = a.codePointAt(at)!;
    const cy = b.codePointAt(at)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const va = a[ka[i]!];
    const vb = b[kb[i]!];
    const ra = typeRank(va);
    const rb = typeRank(vb);
    if (ra !== rb) return ra < rb ? -1 : 1;
    const byName = compareStrings(ka[i]!, kb[i]!);
    if (byName !== 0) return byName;
    const byValue = compareSameRank(ra, va, vb);
    if (byValue !== 0) return byValue;
  }
  return ka.length - kb.length < 0 ? -1 : ka.length === kb.length ? 0 : 1;
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareBinary(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** Equality as MongoDB defines it for queries: same bracket and compare == 0 (field order matters). */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return compareValues(a, b) === 0;
}
