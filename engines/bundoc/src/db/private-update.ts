/**
 * PRIVATE, TEMPORARY: a subset of MongoDB update operators ($set $unset $inc $mul $min $max $rename
 * $push/$addToSet with $each, $pop, $pull by equality, $currentDate, $setOnInsert) used by the collection
 * layer until the query layer's update operators land; replace then.
 */
import { compareValues, valuesEqual } from '../keys/compare.js';
import { isPlainObject } from '../keys/types.js';
import { InvalidUpdateError, UpdateConflictError } from '../query/errors.js';
import { isArrayIndex, splitPath } from '../query/path.js';

type Doc = Record<string, unknown>;
type Op = (doc: Doc, parts: string[], path: string, arg: unknown) => void;

const numericOp =
  (name: string, f: (a: number, b: number) => number): Op =>
  (doc, parts, path, arg) => {
    if (typeof arg !== 'number') throw new InvalidUpdateError(`${name}.${path}: operand must be a number`);
    const cur = getAt(doc, parts);
    if (cur !== undefined && typeof cur !== 'number') {
      throw new UpdateConflictError(path, `${name} needs a number, the field holds ${JSON.stringify(cur)}`);
    }
    setAt(doc, parts, path, f(cur === undefined ? 0 : cur, arg));
  };

function eachOf(arg: unknown): unknown[] {
  if (isPlainObject(arg) && Object.hasOwn(arg, '$each')) {
    if (!Array.isArray(arg.$each)) throw new InvalidUpdateError('$each needs an array');
    if (Object.keys(arg).length > 1)
      throw new InvalidUpdateError('$push modifiers other than $each are not supported yet');
    return arg.$each;
  }
  return [arg];
}

function arrayAt(doc: Doc, parts: string[], path: string, op: string): unknown[] | undefined {
  const cur = getAt(doc, parts);
  if (cur !== undefined && !Array.isArray(cur)) throw new UpdateConflictError(path, `${op} needs an array`);
  return cur;
}

const OPS: Record<string, Op> = {
  $set: (doc, parts, path, arg) => setAt(doc, parts, path, structuredClone(arg)),
  $setOnInsert: () => {}, // applied only by upsert (see applyUpdate's `inserting`)
  $unset: (doc, parts) => unsetAt(doc, parts),
  $inc: numericOp('$inc', (a, b) => a + b),
  $mul: numericOp('$mul', (a, b) => a * b),
  $min: (doc, parts, path, arg) => {
    const cur = getAt(doc, parts);
    if (cur === undefined || compareValues(arg, cur) < 0) setAt(doc, parts, path, structuredClone(arg));
  },
  $max: (doc, parts, path, arg) => {
    const cur = getAt(doc, parts);
    if (cur === undefined || compareValues(arg, cur) > 0) setAt(doc, parts, path, structuredClone(arg));
  },
  $rename: (doc, parts, path, arg) => {
    if (typeof arg !== 'string') throw new InvalidUpdateError(`$rename.${path}: target must be a string`);
    const to = splitPath(arg);
    if (!to || arg === path) throw new InvalidUpdateError(`$rename.${path}: invalid target "${arg}"`);
    const cur = getAt(doc, parts);
    if (cur === undefined) return;
    unsetAt(doc, parts);
    setAt(doc, to, arg, cur);
  },
  $push: (doc, parts, path, arg) => {
    const cur = arrayAt(doc, parts, path, '$push');
    setAt(doc, parts, path, [...(cur ?? []), ...structuredClone(eachOf(arg))]);
  },
  $addToSet: (doc, parts, path, arg) => {
    const out = [...(arrayAt(doc, parts, path, '$addToSet') ?? [])];
    for (const v of eachOf(arg)) if (!out.some((e) => valuesEqual(e, v))) out.push(structuredClone(v));
    setAt(doc, parts, path, out);
  },
  $pop: (doc, parts, path, arg) => {
    if (arg !== 1 && arg !== -1) throw new InvalidUpdateError(`$pop.${path}: operand must be 1 or -1`);
    const cur = arrayAt(doc, parts, path, '$pop');
    if (!cur || cur.length === 0) return;
    setAt(doc, parts, path, arg === 1 ? cur.slice(0, -1) : cur.slice(1));
  },
  $pull: (doc, parts, path, arg) => {
    if (isPlainObject(arg) && Object.keys(arg).some((k) => k.startsWith('$'))) {
      throw new InvalidUpdateError(`$pull.${path}: conditions are not supported yet, only values`);
    }
    const cur = arrayAt(doc, parts, path, '$pull');
    if (cur)
      setAt(
        doc,
        parts,
        path,
        cur.filter((e) => !valuesEqual(e, arg)),
      );
  },
  $currentDate: (doc, parts, path, arg) => {
    if (arg !== true && !(isPlainObject(arg) && arg.$type === 'date' && Object.keys(arg).length === 1)) {
      throw new InvalidUpdateError(`$currentDate.${path}: operand must be true or { $type: 'date' }`);
    }
    setAt(doc, parts, path, new Date().toISOString());
  },
};

interface Step {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
}

/** Same shape as the query layer's CompiledUpdate, so switching to it is an import change. */
export interface CompiledUpdate {
  readonly kind: 'operators' | 'replacement';
  apply(doc: Doc): Doc;
}

/** Validates an update document whole (unknown operators, bad paths, conflicting paths, _id changes). */
export function compileUpdate(update: unknown, inserting = false): CompiledUpdate {
  if (!isPlainObject(update)) throw new InvalidUpdateError('update must be a plain object');
  const keys = Object.keys(update);
  const opKeys = keys.filter((k) => k.startsWith('$'));
  if (opKeys.length === 0) {
    return {
      kind: 'replacement',
      apply: (doc) => {
        if (Object.hasOwn(update, '_id') && !valuesEqual(update._id, doc._id)) {
          throw new UpdateConflictError('_id', '_id is immutable');
        }
        const { _id: _drop, ...rest } = structuredClone(update);
        return doc._id === undefined ? rest : { _id: doc._id, ...rest };
      },
    };
  }
  if (opKeys.length !== keys.length) throw new InvalidUpdateError('update mixes operators and fields');
  const steps: Step[] = [];
  const written: string[] = [];
  for (const op of keys) {
    if (!Object.hasOwn(OPS, op)) throw new InvalidUpdateError(`unknown update operator ${op}`);
    const fields = update[op];
    if (!isPlainObject(fields)) throw new InvalidUpdateError(`${op} needs an object of fields`);
    for (const path of Object.keys(fields)) {
      const parts = splitPath(path);
      if (!parts || parts.some((p) => p.startsWith('$')))
        throw new InvalidUpdateError(`${op}: invalid path "${path}"`);
      if (parts[0] === '_id') throw new UpdateConflictError(path, '_id is immutable');
      steps.push({ op, path, parts, arg: fields[path] });
      written.push(path);
      if (op === '$rename' && typeof fields[path] === 'string') {
        if (fields[path].split('.')[0] === '_id')
          throw new UpdateConflictError(fields[path], '_id is immutable');
        written.push(fields[path]);
      }
    }
  }
  written.sort();
  for (let i = 1; i < written.length; i++) {
    const a = written[i - 1]!;
    const b = written[i]!;
    if (a === b || b.startsWith(`${a}.`))
      throw new InvalidUpdateError(`update paths "${a}" and "${b}" conflict`);
  }
  return {
    kind: 'operators',
    apply: (doc) => {
      const out = structuredClone(doc);
      for (const st of steps) {
        if (st.op === '$setOnInsert') {
          if (inserting) setAt(out, st.parts, st.path, structuredClone(st.arg));
          continue;
        }
        OPS[st.op]!(out, st.parts, st.path, st.arg);
      }
      return out;
    },
  };
}

/** The document an upsert inserts: the filter's equality fields with the update applied. */
export function upsertDocument(filter: Doc, update: unknown): Doc {
  const compiled = compileUpdate(update, true);
  const seed: Doc = {};
  const collect = (f: Doc) => {
    for (const k of Object.keys(f)) {
      const v = f[k];
      if (k === '$and' && Array.isArray(v)) for (const sub of v) if (isPlainObject(sub)) collect(sub);
      if (k.startsWith('$')) continue;
      let value: unknown;
      if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
        if (!Object.hasOwn(v, '$eq')) continue;
        value = v.$eq;
      } else if (v instanceof RegExp) continue;
      else value = v;
      const parts = splitPath(k);
      if (parts) setAt(seed, parts, k, structuredClone(value));
    }
  };
  collect(filter);
  if (compiled.kind === 'replacement') return compiled.apply(seed._id === undefined ? {} : { _id: seed._id });
  return compiled.apply(seed);
}

function getAt(doc: Doc, parts: string[]): unknown {
  let v: unknown = doc;
  for (const p of parts) {
    if (Array.isArray(v) && isArrayIndex(p)) v = v[Number(p)];
    else if (isPlainObject(v) && Object.hasOwn(v, p)) v = v[p];
    else return undefined;
  }
  return v;
}

function setAt(doc: Doc, parts: string[], path: string, value: unknown): void {
  let v: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const last = i === parts.length - 1;
    if (Array.isArray(v)) {
      if (!isArrayIndex(p)) throw new UpdateConflictError(path, `cannot create field "${p}" in an array`);
      const idx = Number(p);
      if (last) {
        while (v.length < idx) v.push(null); // MongoDB pads with nulls
        v[idx] = value;
        return;
      }
      if (v[idx] === undefined || v[idx] === null) {
        while (v.length < idx) v.push(null);
        v[idx] = {};
      }
      v = v[idx];
    } else if (isPlainObject(v)) {
      if (last) {
        define(v, p, value);
        return;
      }
      if (!Object.hasOwn(v, p) || v[p] === null) define(v, p, {});
      v = v[p];
    } else {
      throw new UpdateConflictError(
        path,
        `a ${v === null ? 'null' : typeof v} is in the way at "${parts.slice(0, i).join('.')}"`,
      );
    }
  }
}

function unsetAt(doc: Doc, parts: string[]): void {
  let v: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    if (Array.isArray(v) && isArrayIndex(p)) v = v[Number(p)];
    else if (isPlainObject(v) && Object.hasOwn(v, p)) v = v[p];
    else return;
  }
  const last = parts[parts.length - 1]!;
  if (Array.isArray(v) && isArrayIndex(last)) {
    if (Number(last) < v.length) v[Number(last)] = null; // $unset of an element leaves null, as MongoDB does
  } else if (isPlainObject(v)) delete v[last];
}

function define(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
