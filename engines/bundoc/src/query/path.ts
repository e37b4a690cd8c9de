import { isPlainObject } from '../keys/types.js';

/** Splits a dot path, rejecting empty components ("a..b", ".a", "a."). */
export function splitPath(path: string): string[] | undefined {
  if (path === '') return undefined;
  const parts = path.split('.');
  for (const p of parts) if (p === '') return undefined;
  return parts;
}

/** A path component that can address an array element: digits only, no sign, no leading zeros. */
export function isArrayIndex(part: string): boolean {
  if (part.length === 0 || part.length > 9) return false;
  const c0 = part.charCodeAt(0);
  if (c0 === 48) return part.length === 1;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

/**
 * The values a dot path reaches in a document, MongoDB style, without expanding leaf arrays:
 * an array met before the end of the path is traversed into each object element (and, for a numeric
 * component, also indexed); nested arrays are not traversed implicitly. `undefined` marks a branch where
 * the field is missing (a scalar in the way, or an object element without the field). Array elements that
 * are not objects contribute nothing, so `{a: []}` or `{a: [1]}` reach no value at all for "a.b" (as in
 * MongoDB's element iterator: `{'a.b': null}` does not match them, `{'a.b': {$ne: 1}}` does).
 */
export type PathReader = (doc: unknown) => unknown[];

export function compilePathReader(parts: readonly string[]): PathReader {
  if (parts.length === 1) {
    const key = parts[0]!;
    return (doc) => [isPlainObject(doc) && hasOwn(doc, key) ? doc[key] : undefined];
  }
  const numeric = parts.map(isArrayIndex);
  return (doc) => {
    const out: unknown[] = [];
    walk(doc, parts, numeric, 0, out);
    return out;
  };
}

function walk(
  v: unknown,
  parts: readonly string[],
  numeric: readonly boolean[],
  i: number,
  out: unknown[],
): void {
  const key = parts[i]!;
  if (Array.isArray(v)) {
    if (numeric[i]) {
      const idx = Number(key);
      if (idx < v.length) step(v[idx], parts, numeric, i + 1, out);
    }
    for (const e of v) if (isPlainObject(e)) walk(e, parts, numeric, i, out);
    return;
  }
  if (isPlainObject(v)) {
    if (hasOwn(v, key)) step(v[key], parts, numeric, i + 1, out);
    else out.push(undefined);
    return;
  }
  out.push(undefined);
}

function step(
  v: unknown,
  parts: readonly string[],
  numeric: readonly boolean[],
  i: number,
  out: unknown[],
): void {
  if (i === parts.length) out.push(v);
  else walk(v, parts, numeric, i, out);
}
