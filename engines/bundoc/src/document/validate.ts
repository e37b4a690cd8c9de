import { isPlainObject } from '../keys/types.js';
import { InvalidDocumentError } from './errors.js';

/** Nesting limit (objects and arrays), as MongoDB's 100 levels; also keeps recursion off the stack limit. */
export const MAX_DEPTH = 100;

/** What validation learned while walking, so the codec can skip work for documents without Dates. */
export interface ValidationInfo {
  hasDates: boolean;
}

/**
 * Checks that `value` is storable: strings, finite numbers, booleans, null, arrays without holes, plain
 * objects, and valid Dates (stored as a typed value, see codec.ts). Field names must not start with "$"
 * or contain "." (they would be unreachable by queries) and must not contain NUL. Rejects undefined,
 * functions, symbols, bigint, NaN/±Infinity, class instances, symbol keys and cycles. Throws
 * InvalidDocumentError naming the path of the first bad value.
 */
export function validateValue(
  value: unknown,
  path = '',
  info: ValidationInfo = { hasDates: false },
): ValidationInfo {
  const quick = quickCheck(value, 0);
  if (quick !== BAD) {
    if (quick === DATES) info.hasDates = true;
    return info;
  }
  walk(value, path, 0, new Set(), info); // throws, naming the path
  return info;
}

/** validateValue without the fast pre-check (what it falls back to); exported for tests. */
export function validateThoroughly(value: unknown, path = ''): ValidationInfo {
  const info = { hasDates: false };
  walk(value, path, 0, new Set(), info);
  return info;
}

const OK = 0;
const DATES = 1;
const BAD = 2;

/**
 * The common case fast: no path strings, no cycle set (a cycle runs into the depth limit). At least as
 * strict as `walk`, which runs when this says BAD, to find and name the problem.
 */
function quickCheck(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return OK;
    case 'number':
      return Number.isFinite(v) ? OK : BAD;
    case 'object':
      break;
    default:
      return BAD;
  }
  if (v === null) return OK;
  if (depth >= MAX_DEPTH) return BAD;
  let r = OK;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) return BAD;
      const x = quickCheck(v[i], depth + 1);
      if (x === BAD) return BAD;
      r |= x;
    }
    return r;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return Number.isNaN(dateTime(v)) ? BAD : DATES;
  if (Object.getOwnPropertySymbols(v).length > 0) return BAD;
  const o = v as Record<string, unknown>;
  // for-in also visits inherited enumerable keys (a polluted prototype): stricter, never laxer.
  for (const k in o) {
    if (k.charCodeAt(0) === 0x24 || k.indexOf('.') !== -1 || k.indexOf('\0') !== -1) return BAD;
    const x = quickCheck(o[k], depth + 1);
    if (x === BAD) return BAD;
    r |= x;
  }
  return r;
}

/** The time of a real Date, NaN for anything else (including objects that only inherit from Date). */
function dateTime(v: unknown): number {
  if (!(v instanceof Date)) return Number.NaN;
  try {
    return v.getTime();
  } catch {
    return Number.NaN;
  }
}

/** validateValue for a top-level document: it must be a plain object. */
export function validateDocument(doc: unknown): ValidationInfo {
  if (!isPlainObject(doc))
    throw new InvalidDocumentError('', `a document must be a plain object, not ${describeValue(doc)}`);
  return validateValue(doc);
}

/** "an array", "a function", "an instance of Map"…, for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'a null-prototype class'}`;
  return `a ${typeof v}`;
}

export function checkFieldName(name: string, path: string): void {
  if (name.startsWith('$'))
    throw new InvalidDocumentError(path, `field name "${name}" must not start with "$"`);
  if (name.includes('.')) throw new InvalidDocumentError(path, `field name "${name}" must not contain "."`);
  if (name.includes('\0')) throw new InvalidDocumentError(path, 'field names must not contain NUL');
}

function walk(v: unknown, path: string, depth: number, ancestors: Set<object>, info: ValidationInfo): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidDocumentError(path, `${v} is not a finite number`);
      return;
    case 'object':
      break;
    default:
      throw new InvalidDocumentError(path, `${describeValue(v)} is not a JSON value`);
  }
  if (v === null) return;
  if (v instanceof Date) {
    if (Number.isNaN(dateTime(v))) throw new InvalidDocumentError(path, 'invalid Date');
    info.hasDates = true;
    return;
  }
  if (depth >= MAX_DEPTH) throw new InvalidDocumentError(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (ancestors.has(v)) throw new InvalidDocumentError(path, 'circular reference');
  ancestors.add(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const at = path === '' ? String(i) : `${path}.${i}`;
      if (!(i in v)) throw new InvalidDocumentError(at, 'arrays must not have holes');
      walk(v[i], at, depth + 1, ancestors, info);
    }
  } else if (isPlainObject(v)) {
    if (Object.getOwnPropertySymbols(v).length > 0)
      throw new InvalidDocumentError(path, 'symbol keys are not allowed');
    for (const k of Object.keys(v)) {
      const at = path === '' ? k : `${path}.${k}`;
      checkFieldName(k, at);
      walk(v[k], at, depth + 1, ancestors, info);
    }
  } else {
    throw new InvalidDocumentError(
      path,
      `${describeValue(v)} is not a JSON value (only plain objects, arrays and Date)`,
    );
  }
  ancestors.delete(v);
}

/** Deep copy of a validated value (Dates copied, everything else JSON-shaped). */
export function cloneValue<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const c = cloneValue((v as Record<string, unknown>)[k]);
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
    else out[k] = c;
  }
  return out as T;
}
