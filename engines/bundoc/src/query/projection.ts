import { isPlainObject } from '../keys/types.js';
import { InvalidProjectionError } from './errors.js';
import { hasOwn, splitPath } from './path.js';

/** `{ name: 1, 'address.city': 1 }` (inclusion) or `{ password: 0 }` (exclusion); `_id` is in unless `_id: 0`. */
export type ProjectionSpec = Record<string, 0 | 1 | boolean>;
export type Projector = (doc: Record<string, unknown>) => Record<string, unknown>;

/** A tree of projected paths: `true` marks a projected leaf. */
type Tree = Map<string, Tree | true>;

/**
 * Compiles a projection. Output keeps the document's field order; included values are shared with the
 * input document, not copied. Operators ($slice, $elemMatch, positional `.$`) are not supported.
 */
export function compileProjection(spec: unknown): Projector {
  if (!isPlainObject(spec)) throw new InvalidProjectionError('projection must be an object');
  let includeId = true;
  let mode: 'include' | 'exclude' | undefined;
  const tree: Tree = new Map();
  for (const path of Object.keys(spec)) {
    const v = spec[path];
    if (typeof v !== 'number' && typeof v !== 'boolean') {
      throw new InvalidProjectionError(`projection.${path}: only 0/1/true/false are supported`);
    }
    const on = v !== 0 && v !== false;
    const parts = splitPath(path);
    if (parts === undefined || parts.some((p) => p.startsWith('$'))) {
      throw new InvalidProjectionError(`projection: invalid or unsupported field path "${path}"`);
    }
    if (path === '_id') {
      includeId = on;
      continue;
    }
    const m = on ? 'include' : 'exclude';
    if (mode !== undefined && mode !== m) {
      throw new InvalidProjectionError(`projection cannot mix inclusion and exclusion (at "${path}")`);
    }
    mode = m;
    addPath(tree, parts, path);
  }
  if (mode === 'include') {
    return (doc) => {
      const out = includeTree(doc, tree) as Record<string, unknown>;
      if (includeId && hasOwn(doc, '_id')) return { _id: doc._id, ...withoutId(out) };
      return out;
    };
  }
  if (mode === undefined && includeId && hasOwn(spec, '_id')) {
    return (doc) => (hasOwn(doc, '_id') ? { _id: doc._id } : {}); // { _id: 1 } alone is an inclusion
  }
  if (mode === 'exclude' || !includeId) {
    if (!includeId) tree.set('_id', true);
    return (doc) => excludeTree(doc, tree) as Record<string, unknown>;
  }
  return (doc) => doc;
}

function withoutId(o: Record<string, unknown>): Record<string, unknown> {
  if (!hasOwn(o, '_id')) return o;
  const { _id, ...rest } = o;
  return rest;
}

function addPath(tree: Tree, parts: string[], path: string): void {
  let node = tree;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const existing = node.get(p);
    const last = i === parts.length - 1;
    if (existing === true || (existing !== undefined && last)) {
      throw new InvalidProjectionError(`projection: path "${path}" collides with another projected path`);
    }
    if (last) node.set(p, true);
    else {
      const next = existing ?? new Map();
      node.set(p, next);
      node = next;
    }
  }
}

function includeTree(v: unknown, tree: Tree): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const e of v) if (isPlainObject(e) || Array.isArray(e)) out.push(includeTree(e, tree));
    return out;
  }
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const sub = tree.get(k);
    if (sub === undefined) continue;
    const val = o[k];
    if (sub === true) define(out, k, val);
    else if (isPlainObject(val) || Array.isArray(val)) define(out, k, includeTree(val, sub));
  }
  return out;
}

function excludeTree(v: unknown, tree: Tree): unknown {
  if (Array.isArray(v))
    return v.map((e) => (isPlainObject(e) || Array.isArray(e) ? excludeTree(e, tree) : e));
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const sub = tree.get(k);
    const val = o[k];
    if (sub === true) continue;
    if (sub !== undefined && (isPlainObject(val) || Array.isArray(val)))
      define(out, k, excludeTree(val, sub));
    else define(out, k, val);
  }
  return out;
}

/** Assignment that keeps a field named __proto__ an ordinary own field. */
export function define(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
