import { compareSameRank } from '../keys/compare.js';
import { isPlainObject, TypeRank, typeRank } from '../keys/types.js';
import { InvalidFilterError } from './errors.js';
import { checkOperand, isOperatorObject } from './operand.js';
import { compilePathReader, hasOwn, splitPath } from './path.js';
import { buildRegex, regexTest } from './regex.js';
import { typePredicate } from './type-names.js';

/** A MongoDB query filter such as `{ age: { $gte: 18 }, 'address.city': 'Oslo' }`. */
export type Filter = Record<string, unknown>;
/** A compiled filter: decides whether one document matches. Pure; safe to call concurrently. */
export type Matcher = (doc: unknown) => boolean;

/**
 * One operator applied at a path. `values` sees the raw values the path reached (leaf arrays not
 * expanded); `element` sees a single array element, as $elemMatch and $pull value-conditions do.
 */
interface ValueTest {
  values(raw: unknown[]): boolean;
  element(e: unknown): boolean;
  /**
   * values() of the one value a single-component path reaches (undefined: missing), where the test can
   * say it without the array: a matcher per document then allocates nothing.
   */
  one?: (v: unknown) => boolean;
}

/** Compiles a filter once into a closure tree; throws InvalidFilterError naming the bad part. */
export function compileFilter(filter: unknown): Matcher {
  return compileDocument(filter, 'filter');
}

function compileDocument(filter: unknown, where: string): Matcher {
  if (!isPlainObject(filter)) throw new InvalidFilterError(`${where} must be a plain object`);
  const parts: Matcher[] = [];
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key.startsWith('$')) parts.push(compileLogical(key, value, `${where}.${key}`));
    else parts.push(compileField(key, value, `${where}.${key}`));
  }
  return allOf(parts);
}

function allOf(parts: Matcher[]): Matcher {
  if (parts.length === 0) return () => true;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Matcher, Matcher];
    return (doc) => a(doc) && b(doc);
  }
  return (doc) => {
    for (const p of parts) if (!p(doc)) return false;
    return true;
  };
}

function compileLogical(op: string, value: unknown, where: string): Matcher {
  if (op === '$comment') return () => true;
  if (op !== '$and' && op !== '$or' && op !== '$nor') {
    throw new InvalidFilterError(`${where}: unknown top-level operator ${op}`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidFilterError(`${where}: ${op} needs a non-empty array of filters`);
  }
  const subs = value.map((f, i) => compileDocument(f, `${where}[${i}]`));
  if (op === '$and') return allOf(subs);
  if (op === '$or') return (doc) => subs.some((m) => m(doc));
  return (doc) => !subs.some((m) => m(doc));
}

function compileField(path: string, cond: unknown, where: string): Matcher {
  const parts = splitPath(path);
  if (parts === undefined) throw new InvalidFilterError(`${where}: invalid field path "${path}"`);
  const tests = isOperatorObject(cond, where)
    ? compileOperators(cond, where)
    : [implicitEquality(cond, where)];
  if (parts.length === 1 && tests.every((t) => t.one !== undefined)) {
    const key = parts[0]!;
    const ones = tests.map((t) => t.one!);
    if (ones.length === 1) {
      const one = ones[0]!;
      return (doc) => one(isPlainObject(doc) && hasOwn(doc, key) ? doc[key] : undefined);
    }
    return (doc) => {
      const v = isPlainObject(doc) && hasOwn(doc, key) ? doc[key] : undefined;
      for (const one of ones) if (!one(v)) return false;
      return true;
    };
  }
  const read = compilePathReader(parts);
  if (tests.length === 1) {
    const test = tests[0]!;
    return (doc) => test.values(read(doc));
  }
  return (doc) => {
    const raw = read(doc);
    for (const t of tests) if (!t.values(raw)) return false;
    return true;
  };
}

function implicitEquality(cond: unknown, where: string): ValueTest {
  checkOperand(cond, where);
  if (cond instanceof RegExp) return expanded(regexSingle(buildRegex(cond, undefined, where)));
  return expanded(equalsSingle(cond));
}

/** True if the predicate holds for a reached value or, when that value is an array, for one of its elements. */
function anyExpanded(raw: unknown[], pred: (v: unknown) => boolean): boolean {
  for (const r of raw) {
    if (pred(r)) return true;
    if (Array.isArray(r)) for (const e of r) if (pred(e)) return true;
  }
  return false;
}

function expanded(single: (v: unknown) => boolean): ValueTest {
  return {
    values: (raw) => anyExpanded(raw, single),
    element: single,
    one: (v) => {
      if (single(v)) return true;
      if (Array.isArray(v)) for (const e of v) if (single(e)) return true;
      return false;
    },
  };
}

function negated(test: ValueTest): ValueTest {
  const one = test.one;
  return {
    values: (raw) => !test.values(raw),
    element: (e) => !test.element(e),
    one: one === undefined ? undefined : (v) => !one(v),
  };
}

/** Equality within one type bracket; null also matches a missing field. Field order of objects matters. */
function equalsSingle(x: unknown): (v: unknown) => boolean {
  if (x === null) return (v) => v === null || v === undefined;
  if (typeof x === 'number') {
    if (Number.isNaN(x)) return (v) => typeof v === 'number' && Number.isNaN(v);
    return (v) => v === x;
  }
  if (typeof x === 'string' || typeof x === 'boolean') return (v) => v === x;
  if (x instanceof RegExp) return () => false; // $eq: /re/ compares regex values, which documents never hold
  const rank = typeRank(x);
  return (v) => v !== undefined && typeRank(v) === rank && compareSameRank(rank, v, x) === 0;
}

function regexSingle(re: RegExp): (v: unknown) => boolean {
  return (v) => typeof v === 'string' && regexTest(re, v);
}

/** $gt & co. only match values in the operand's type bracket (a missing field counts as null). */
function comparisonSingle(op: string, x: unknown, where: string): (v: unknown) => boolean {
  if (x instanceof RegExp) throw new InvalidFilterError(`${where}: ${op} cannot take a regular expression`);
  const rank = typeRank(x);
  const accept =
    op === '$gt'
      ? (c: number) => c > 0
      : op === '$gte'
        ? (c: number) => c >= 0
        : op === '$lt'
          ? (c: number) => c < 0
          : (c: number) => c <= 0;
  if (rank === TypeRank.number && !Number.isNaN(x)) {
    const n = x as number;
    if (op === '$gt') return (v) => typeof v === 'number' && v > n;
    if (op === '$gte') return (v) => typeof v === 'number' && v >= n;
    if (op === '$lt') return (v) => typeof v === 'number' && v < n;
    return (v) => typeof v === 'number' && v <= n;
  }
  return (v) => typeRank(v) === rank && accept(compareSameRank(rank, v, x));
}

function inSingle(list: unknown, op: string, where: string): (v: unknown) => boolean {
  if (!Array.isArray(list)) throw new InvalidFilterError(`${where}: ${op} needs an array`);
  checkOperand(list, where);
  const preds = list.map((x) => (x instanceof RegExp ? regexSingle(x) : equalsSingle(x)));
  const prims = new Set(
    list.filter((x) => typeof x === 'string' || (typeof x === 'number' && !Number.isNaN(x))),
  );
  const others = preds.filter((_, i) => !prims.has(list[i]));
  return (v) => {
    if (prims.has(v as string | number)) return true;
    for (const p of others) if (p(v)) return true;
    return false;
  };
}

function compileOperators(ops: Record<string, unknown>, where: string): ValueTest[] {
  const tests: ValueTest[] = [];
  for (const op of Object.keys(ops)) {
    const x = ops[op];
    const at = `${where}.${op}`;
    switch (op) {
      case '$eq':
        checkOperand(x, at);
        tests.push(expanded(equalsSingle(x)));
        break;
      case '$ne':
        checkOperand(x, at);
        if (x instanceof RegExp) throw new InvalidFilterError(`${at}: $ne cannot take a regular expression`);
        tests.push(negated(expanded(equalsSingle(x))));
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        checkOperand(x, at);
        tests.push(expanded(comparisonSingle(op, x, at)));
        break;
      case '$in':
        tests.push(expanded(inSingle(x, op, at)));
        break;
      case '$nin':
        tests.push(negated(expanded(inSingle(x, op, at))));
        break;
      case '$exists': {
        if (typeof x !== 'boolean' && typeof x !== 'number') {
          throw new InvalidFilterError(`${at}: $exists needs a boolean`);
        }
        const want = Boolean(x);
        tests.push({
          values: (raw) => raw.some((v) => v !== undefined) === want,
          element: (e) => (e !== undefined) === want,
        });
        break;
      }
      case '$type': {
        const is = typePredicate(x, at);
        tests.push(expanded((v) => v !== undefined && is(v)));
        break;
      }
      case '$regex': {
        const options = ops.$options;
        if (typeof x !== 'string' && !(x instanceof RegExp)) {
          throw new InvalidFilterError(`${at}: $regex needs a string or RegExp`);
        }
        if (options !== undefined && typeof options !== 'string') {
          throw new InvalidFilterError(`${where}.$options: $options needs a string`);
        }
        tests.push(expanded(regexSingle(buildRegex(x, options, at))));
        break;
      }
      case '$options':
        if (!('$regex' in ops)) throw new InvalidFilterError(`${at}: $options without $regex`);
        break;
      case '$size': {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
          throw new InvalidFilterError(`${at}: $size needs a non-negative integer`);
        }
        const single = (v: unknown) => Array.isArray(v) && v.length === x;
        tests.push({ values: (raw) => raw.some(single), element: single });
        break;
      }
      case '$all':
        tests.push(compileAll(x, at));
        break;
      case '$elemMatch': {
        const single = elemMatchSingle(x, at);
        tests.push({ values: (raw) => raw.some(single), element: single });
        break;
      }
      case '$mod':
        tests.push(expanded(modSingle(x, at)));
        break;
      case '$not':
        tests.push(compileNot(x, at));
        break;
      case '$comment':
        break;
      default:
        throw new InvalidFilterError(`${at}: unknown operator ${op}`);
    }
  }
  return tests;
}

function compileNot(x: unknown, at: string): ValueTest {
  if (x instanceof RegExp) return negated(expanded(regexSingle(buildRegex(x, undefined, at))));
  if (!isPlainObject(x) || Object.keys(x).length === 0 || !isOperatorObject(x, at)) {
    throw new InvalidFilterError(`${at}: $not needs a regex or a non-empty object of operators`);
  }
  const inner = compileOperators(x, at);
  return {
    values: (raw) => !inner.every((t) => t.values(raw)),
    element: (e) => !inner.every((t) => t.element(e)),
  };
}

function compileAll(x: unknown, at: string): ValueTest {
  if (!Array.isArray(x)) throw new InvalidFilterError(`${at}: $all needs an array`);
  if (x.length === 0) return { values: () => false, element: () => false };
  const tests: ValueTest[] = x.map((item, i) => {
    if (isPlainObject(item) && Object.keys(item)[0] === '$elemMatch') {
      if (Object.keys(item).length !== 1)
        throw new InvalidFilterError(`${at}[${i}]: $elemMatch must stand alone`);
      const single = elemMatchSingle(item.$elemMatch, `${at}[${i}].$elemMatch`);
      return { values: (raw: unknown[]) => raw.some(single), element: single };
    }
    checkOperand(item, `${at}[${i}]`);
    if (isPlainObject(item) && isOperatorObject(item, `${at}[${i}]`)) {
      throw new InvalidFilterError(`${at}[${i}]: $all elements cannot be operators other than $elemMatch`);
    }
    return expanded(item instanceof RegExp ? regexSingle(item) : equalsSingle(item));
  });
  return {
    values: (raw) => tests.every((t) => t.values(raw)),
    element: (e) => tests.every((t) => t.values([e])),
  };
}

function elemMatchSingle(x: unknown, at: string): (v: unknown) => boolean {
  if (!isPlainObject(x)) throw new InvalidFilterError(`${at}: $elemMatch needs an object`);
  const keys = Object.keys(x);
  const valueForm =
    keys.length > 0 && keys[0]!.startsWith('$') && !['$and', '$or', '$nor'].includes(keys[0]!);
  if (valueForm) {
    isOperatorObject(x, at); // throws on a mix of operators and fields
    const tests = compileOperators(x, at);
    const pred = (e: unknown) => tests.every((t) => t.element(e));
    return (v) => Array.isArray(v) && v.some(pred);
  }
  const m = compileDocument(x, at);
  return (v) => Array.isArray(v) && v.some((e) => isPlainObject(e) && m(e));
}

function modSingle(x: unknown, at: string): (v: unknown) => boolean {
  if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'number' || typeof x[1] !== 'number') {
    throw new InvalidFilterError(`${at}: $mod needs [divisor, remainder] numbers`);
  }
  if (!Number.isFinite(x[0]) || !Number.isFinite(x[1])) {
    throw new InvalidFilterError(`${at}: $mod divisor and remainder must be finite`);
  }
  const d = Math.trunc(x[0]);
  const r = Math.trunc(x[1]);
  if (d === 0) throw new InvalidFilterError(`${at}: $mod divisor must not be 0`);
  // MongoDB truncates both sides to integers; JS % truncates toward zero like C.
  return (v) => typeof v === 'number' && Number.isFinite(v) && Math.trunc(v) % d === r;
}
