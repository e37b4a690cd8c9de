import { InvalidDocumentError } from '../document/errors.js';
import { cloneValue, validateDocument, validateValue } from '../document/validate.js';
import { compareValues, valuesEqual } from '../keys/compare.js';
import { isPlainObject } from '../keys/types.js';
import { InvalidUpdateError, UpdateConflictError } from './errors.js';
import { compileFilter, type Matcher } from './filter.js';
import { hasOwn, isArrayIndex, splitPath } from './path.js';
import { compileSort } from './sort.js';
import { crossesArray, findSlot, read, remove, write } from './update-path.js';

/** An update document: operators (`{ $set: {...}, $inc: {...} }`) or a replacement document. */
export type UpdateSpec = Record<string, unknown>;

export interface ApplyOptions {
  /** The time $currentDate writes (default: now). */
  now?: Date;
}

export interface CompiledUpdate {
  readonly kind: 'operators' | 'replacement';
  /** Every path the update may write or remove (for index maintenance); empty for replacements. */
  readonly paths: readonly string[];
  /**
   * The top-level fields the update may change (an index on none of them keeps its entries); undefined
   * for replacements, which may change any.
   */
  readonly fields: ReadonlySet<string> | undefined;
  /**
   * The updated document. The input is never modified; when the update cannot be applied to this
   * document (UpdateConflictError) nothing has changed.
   */
  apply(doc: Record<string, unknown>, options?: ApplyOptions): Record<string, unknown>;
}

type Action = (doc: Record<string, unknown>, now: Date) => void;

interface Step {
  path: string;
  parts: string[];
  action: Action;
}

const OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$currentDate',
]);

/** Validates the whole update up front (operators, operand types, paths, conflicts) and compiles it. */
export function compileUpdate(update: unknown): CompiledUpdate {
  if (!isPlainObject(update)) throw new InvalidUpdateError('an update must be a plain object');
  const keys = Object.keys(update);
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length === 0) return compileReplacement(update);
  if (ops.length !== keys.length) {
    throw new InvalidUpdateError(
      'an update cannot mix operators and field names (use $set, or a replacement)',
    );
  }
  const steps: Step[] = [];
  const claimed: { path: string; parts: string[] }[] = [];
  const claim = (path: string, parts: string[]) => {
    for (const c of claimed) {
      const n = Math.min(c.parts.length, parts.length);
      let same = true;
      for (let i = 0; i < n && same; i++) same = c.parts[i] === parts[i];
      if (same) throw new InvalidUpdateError(`updating "${path}" would conflict with updating "${c.path}"`);
    }
    claimed.push({ path, parts });
  };
  for (const op of ops) {
    if (!OPERATORS.has(op)) throw new InvalidUpdateError(`unknown update operator ${op}`);
    const fields = update[op];
    if (!isPlainObject(fields)) throw new InvalidUpdateError(`${op} needs an object of { path: value }`);
    for (const path of Object.keys(fields)) {
      const parts = checkPath(path, op);
      const operand = fields[path];
      const where = `${op}.${path}`;
      claim(path, parts);
      if (op === '$rename') {
        if (typeof operand !== 'string')
          throw new InvalidUpdateError(`${where}: $rename needs a string target`);
        const to = checkPath(operand, op);
        claim(operand, to);
        steps.push({ path, parts, action: renameAction(path, parts, operand, to) });
        continue;
      }
      steps.push({ path, parts, action: compileAction(op, path, parts, operand, where) });
    }
  }
  // MongoDB (5.0+) applies updates in lexicographic field order, numeric names numerically, which fixes
  // the order of newly created fields whatever order the update document lists them in.
  steps.sort((a, b) => comparePaths(a.parts, b.parts));
  const paths = claimed.map((c) => c.path);
  return {
    kind: 'operators',
    paths,
    fields: new Set(claimed.map((c) => c.parts[0]!)),
    apply(doc, options) {
      const out = cloneValue(doc);
      const now = options?.now ?? new Date();
      for (const s of steps) s.action(out, now);
      return out;
    },
  };
}

function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const xn = isArrayIndex(x);
    const yn = isArrayIndex(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function checkPath(path: string, op: string): string[] {
  const parts = splitPath(path);
  if (parts === undefined) throw new InvalidUpdateError(`${op}: invalid field path "${path}"`);
  for (const p of parts) {
    if (p.startsWith('$')) {
      throw new InvalidUpdateError(
        `${op}: "${path}": positional and $-prefixed path components are not supported`,
      );
    }
  }
  if (parts[0] === '_id') throw new InvalidUpdateError(`${op}: "${path}": _id is immutable`);
  return parts;
}

function checkValue(v: unknown, where: string): void {
  try {
    validateValue(v, where);
  } catch (e) {
    if (e instanceof InvalidDocumentError) throw new InvalidUpdateError(`${where}: ${e.message}`);
    throw e;
  }
}

function numberOperand(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new InvalidUpdateError(`${where}: needs a finite number`);
  return v;
}

function compileAction(op: string, path: string, parts: string[], operand: unknown, where: string): Action {
  switch (op) {
    case '$set': {
      checkValue(operand, where);
      return (doc) => {
        const s = findSlot(doc, parts, path, true)!;
        write(s.container, s.key, cloneValue(operand), path);
      };
    }
    case '$unset':
      return (doc) => {
        const s = findSlot(doc, parts, path, false);
        if (s) remove(s.container, s.key);
      };
    case '$inc':
    case '$mul': {
      const n = numberOperand(operand, where);
      return (doc) => {
        const s = findSlot(doc, parts, path, true)!;
        const cur = read(s.container, s.key);
        if (cur !== undefined && typeof cur !== 'number') {
          throw new UpdateConflictError(path, `${op} needs a number, the field holds a ${describe(cur)}`);
        }
        const next = op === '$inc' ? (cur ?? 0) + n : (cur ?? 0) * n;
        if (!Number.isFinite(next)) throw new UpdateConflictError(path, `${op} overflows to ${next}`);
        write(s.container, s.key, next, path);
      };
    }
    case '$min':
    case '$max': {
      checkValue(operand, where);
      const sign = op === '$min' ? -1 : 1;
      return (doc) => {
        const s = findSlot(doc, parts, path, true)!;
        const cur = read(s.container, s.key);
        if (cur === undefined || compareValues(operand, cur) * sign > 0)
          write(s.container, s.key, cloneValue(operand), path);
      };
    }
    case '$currentDate': {
      const ok =
        operand === true ||
        (isPlainObject(operand) && Object.keys(operand).length === 1 && operand.$type === 'date');
      if (!ok) {
        throw new InvalidUpdateError(
          `${where}: $currentDate needs true or { $type: 'date' } (timestamps are not supported)`,
        );
      }
      return (doc, now) => {
        const s = findSlot(doc, parts, path, true)!;
        write(s.container, s.key, new Date(now.getTime()), path);
      };
    }
    case '$push':
      return pushAction(path, parts, operand, where);
    case '$addToSet': {
      let items: unknown[];
      if (isPlainObject(operand) && hasOwn(operand, '$each')) {
        if (Object.keys(operand).length !== 1)
          throw new InvalidUpdateError(`${where}: $addToSet only takes $each`);
        if (!Array.isArray(operand.$each)) throw new InvalidUpdateError(`${where}: $each needs an array`);
        items = operand.$each;
      } else items = [operand];
      checkValue(items, where);
      return arrayAction(op, path, parts, true, (arr) => {
        for (const item of items) if (!arr.some((e) => valuesEqual(e, item))) arr.push(cloneValue(item));
        return arr;
      });
    }
    case '$pop': {
      if (operand !== 1 && operand !== -1) throw new InvalidUpdateError(`${where}: $pop needs 1 or -1`);
      return arrayAction(op, path, parts, false, (arr) => {
        if (operand === 1) arr.pop();
        else arr.shift();
        return arr;
      });
    }
    case '$pull': {
      const test = pullCondition(operand, where);
      return arrayAction(op, path, parts, false, (arr) => arr.filter((e) => !test(e)));
    }
    case '$pullAll': {
      if (!Array.isArray(operand)) throw new InvalidUpdateError(`${where}: $pullAll needs an array`);
      checkValue(operand, where);
      return arrayAction(op, path, parts, false, (arr) =>
        arr.filter((e) => !operand.some((x) => valuesEqual(e, x))),
      );
    }
  }
  throw new InvalidUpdateError(`unknown update operator ${op}`);
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof Date ? 'date' : typeof v;
}

/** Runs `change` on the array at the path; `create` makes a missing field an empty array first. */
function arrayAction(
  op: string,
  path: string,
  parts: string[],
  create: boolean,
  change: (arr: unknown[]) => unknown[],
): Action {
  return (doc) => {
    const s = findSlot(doc, parts, path, create);
    if (!s) return;
    const cur = read(s.container, s.key);
    if (cur === undefined && !create) return;
    if (cur !== undefined && !Array.isArray(cur)) {
      throw new UpdateConflictError(path, `${op} needs an array, the field holds a ${describe(cur)}`);
    }
    write(s.container, s.key, change((cur as unknown[] | undefined) ?? []), path);
  };
}

function pushAction(path: string, parts: string[], operand: unknown, where: string): Action {
  let items: unknown[] = [operand];
  let position: number | undefined;
  let slice: number | undefined;
  let sort: ((a: unknown, b: unknown) => number) | undefined;
  if (isPlainObject(operand) && Object.keys(operand).some((k) => k.startsWith('$'))) {
    if (!hasOwn(operand, '$each')) throw new InvalidUpdateError(`${where}: $push modifiers need $each`);
    for (const k of Object.keys(operand)) {
      const v = operand[k];
      if (k === '$each') {
        if (!Array.isArray(v)) throw new InvalidUpdateError(`${where}: $each needs an array`);
        items = v;
      } else if (k === '$position' || k === '$slice') {
        if (typeof v !== 'number' || !Number.isInteger(v))
          throw new InvalidUpdateError(`${where}: ${k} needs an integer`);
        if (k === '$position') position = v;
        else slice = v;
      } else if (k === '$sort') {
        sort = pushSort(v, where);
      } else {
        throw new InvalidUpdateError(`${where}: unknown $push modifier ${k}`);
      }
    }
  }
  checkValue(items, where);
  return arrayAction('$push', path, parts, true, (arr) => {
    const add = items.map(cloneValue);
    if (position === undefined) arr.push(...add);
    else {
      const at = position >= 0 ? Math.min(position, arr.length) : Math.max(arr.length + position, 0);
      arr.splice(at, 0, ...add);
    }
    if (sort) arr.sort(sort); // Array.prototype.sort is stable
    if (slice !== undefined) arr = slice >= 0 ? arr.slice(0, slice) : slice === 0 ? [] : arr.slice(slice);
    return arr;
  });
}

function pushSort(v: unknown, where: string): (a: unknown, b: unknown) => number {
  if (v === 1) return compareValues;
  if (v === -1) return (a, b) => compareValues(b, a);
  if (isPlainObject(v) && Object.keys(v).length > 0) {
    try {
      // elements that are not documents sort as if every field were missing
      return compileSort(v);
    } catch (e) {
      throw new InvalidUpdateError(`${where}: $sort: ${(e as Error).message}`);
    }
  }
  throw new InvalidUpdateError(`${where}: $sort needs 1, -1 or a non-empty { field: 1 | -1 }`);
}

/**
 * $pull conditions, as MongoDB's pull node: an operator object is matched against each element as a
 * value ({ '': element }), a plain object as a query against object elements, anything else by equality.
 */
function pullCondition(operand: unknown, where: string): (e: unknown) => boolean {
  let m: Matcher;
  try {
    if (isPlainObject(operand)) {
      const first = Object.keys(operand)[0];
      const valueForm = first?.startsWith('$') && !['$and', '$or', '$nor'].includes(first);
      if (valueForm) {
        m = compileFilter({ v: operand });
        return (e) => m({ v: e });
      }
      m = compileFilter(operand);
      return (e) => isPlainObject(e) && m(e);
    }
  } catch (e) {
    throw new InvalidUpdateError(`${where}: invalid $pull condition: ${(e as Error).message}`);
  }
  checkValue(operand, where);
  return (e) => valuesEqual(e, operand);
}

function renameAction(from: string, fromParts: string[], to: string, toParts: string[]): Action {
  return (doc) => {
    if (crossesArray(doc, fromParts))
      throw new UpdateConflictError(from, '$rename cannot move a field inside an array');
    const src = findSlot(doc, fromParts, from, false);
    if (!src || Array.isArray(src.container)) return;
    const value = read(src.container, src.key);
    if (value === undefined) return;
    if (crossesArray(doc, toParts))
      throw new UpdateConflictError(to, '$rename cannot move a field into an array');
    remove(src.container, src.key);
    const dst = findSlot(doc, toParts, to, true)!;
    write(dst.container, dst.key, value, to);
  };
}

function compileReplacement(replacement: Record<string, unknown>): CompiledUpdate {
  try {
    validateDocument(replacement);
  } catch (e) {
    if (e instanceof InvalidDocumentError) throw new InvalidUpdateError(`replacement document: ${e.message}`);
    throw e;
  }
  const hasId = hasOwn(replacement, '_id');
  return {
    kind: 'replacement',
    paths: [],
    fields: undefined,
    apply(doc) {
      if (hasId && hasOwn(doc, '_id') && !valuesEqual(replacement._id, doc._id)) {
        throw new UpdateConflictError('_id', 'a replacement cannot change _id');
      }
      const out: Record<string, unknown> = {};
      if (hasOwn(doc, '_id')) out._id = doc._id;
      else if (hasId) out._id = cloneValue(replacement._id);
      for (const k of Object.keys(replacement)) {
        if (k !== '_id') write(out, k, cloneValue(replacement[k]), k);
      }
      return out;
    },
  };
}
