import { cloneValue } from '../document/validate.js';
import { isPlainObject } from '../keys/types.js';
import { InvalidUpdateError } from './errors.js';
import { hasOwn, splitPath } from './path.js';
import { type ApplyOptions, compileUpdate } from './update.js';
import { findSlot, write } from './update-path.js';

/**
 * The equality fields of a filter as a document, which an upsert starts from: `{ a: 1, 'b.c': 2,
 * d: { $eq: 3 }, $and: [{ e: 4 }] }` seeds `{ a: 1, b: { c: 2 }, d: 3, e: 4 }`. Other operators, $or
 * and regexes contribute nothing. Two equalities on the same or overlapping paths are an error.
 */
export function upsertSeed(filter: Record<string, unknown>): Record<string, unknown> {
  const eqs: [string, unknown][] = [];
  collect(filter, eqs);
  const seed: Record<string, unknown> = {};
  const seen: string[] = [];
  for (const [path, value] of eqs) {
    for (const s of seen) {
      if (s === path || s.startsWith(`${path}.`) || path.startsWith(`${s}.`)) {
        throw new InvalidUpdateError(`cannot seed an upsert: path "${path}" is matched twice in the filter`);
      }
    }
    seen.push(path);
    const parts = splitPath(path);
    if (parts === undefined) continue;
    const slot = findSlot(seed, parts, path, true)!;
    write(slot.container, slot.key, cloneValue(value), path);
  }
  return seed;
}

function collect(filter: Record<string, unknown>, out: [string, unknown][]): void {
  for (const key of Object.keys(filter)) {
    const cond = filter[key];
    if (key === '$and' && Array.isArray(cond)) {
      for (const sub of cond) if (isPlainObject(sub)) collect(sub, out);
      continue;
    }
    if (key.startsWith('$')) continue;
    if (cond instanceof RegExp) continue;
    if (isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith('$'))) {
      if (hasOwn(cond, '$eq') && !(cond.$eq instanceof RegExp)) out.push([key, cond.$eq]);
      continue;
    }
    out.push([key, cond]);
  }
}

/**
 * The document an upsert inserts when the filter matched nothing: for an operator update, the filter's
 * equality fields with the update applied; for a replacement, the replacement plus the filter's _id.
 */
export function upsertDocument(
  filter: Record<string, unknown>,
  update: unknown,
  options?: ApplyOptions,
): Record<string, unknown> {
  const compiled = compileUpdate(update);
  const seed = upsertSeed(filter);
  if (compiled.kind === 'replacement') {
    const base = hasOwn(seed, '_id') ? { _id: seed._id } : {};
    return compiled.apply(base, options);
  }
  return compiled.apply(seed, options);
}
