import { isPlainObject } from '../keys/types.js';
import { UpdateConflictError } from './errors.js';
import { hasOwn, isArrayIndex } from './path.js';
import { define } from './projection.js';

/** Where an update writes: the object or array holding the last path component, and that component. */
export interface Slot {
  container: Record<string, unknown> | unknown[];
  key: string;
}

/** MongoDB pads arrays with nulls when a numeric path writes past the end; this caps the padding. */
export const MAX_ARRAY_PAD = 1_000_000;

/**
 * Finds the slot for `parts` in `doc`. With `create`, missing intermediate fields become objects (and
 * array positions are padded with null); a scalar or a non-numeric step into an array on the way is an
 * UpdateConflictError. Without `create`, returns undefined when the path does not exist.
 */
export function findSlot(
  doc: Record<string, unknown>,
  parts: readonly string[],
  path: string,
  create: boolean,
): Slot | undefined {
  let cur: Record<string, unknown> | unknown[] = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    let next = read(cur, part);
    if (next === undefined) {
      if (!create) return undefined;
      if (Array.isArray(cur) && !isArrayIndex(part)) {
        throw new UpdateConflictError(path, `cannot create field "${part}" in an array`);
      }
      next = {};
      write(cur, part, next, path);
    } else if (!isPlainObject(next) && !Array.isArray(next)) {
      if (!create) return undefined;
      throw new UpdateConflictError(path, `cannot create field "${parts[i + 1]}" in a ${kind(next)} value`);
    }
    cur = next as Record<string, unknown> | unknown[];
  }
  const key = parts[parts.length - 1]!;
  if (Array.isArray(cur) && !isArrayIndex(key)) {
    if (!create) return undefined;
    throw new UpdateConflictError(path, `cannot create field "${key}" in an array`);
  }
  return { container: cur, key };
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** The value at a slot, undefined when absent. */
export function read(container: Record<string, unknown> | unknown[], key: string): unknown {
  if (Array.isArray(container)) {
    if (!isArrayIndex(key)) return undefined;
    return container[Number(key)];
  }
  return hasOwn(container, key) ? container[key] : undefined;
}

export function write(
  container: Record<string, unknown> | unknown[],
  key: string,
  value: unknown,
  path: string,
): void {
  if (Array.isArray(container)) {
    const idx = Number(key);
    if (idx - container.length > MAX_ARRAY_PAD) {
      throw new UpdateConflictError(
        path,
        `index ${idx} would pad the array by more than ${MAX_ARRAY_PAD} nulls`,
      );
    }
    while (container.length < idx) container.push(null);
    container[idx] = value;
    return;
  }
  define(container, key, value);
}

/** $unset semantics: object fields are removed, array positions become null (arrays keep their length). */
export function remove(container: Record<string, unknown> | unknown[], key: string): void {
  if (Array.isArray(container)) {
    const idx = Number(key);
    if (idx < container.length) container[idx] = null;
    return;
  }
  delete container[key];
}

/** True if walking `parts` in `doc` passes through an array before the last component. */
export function crossesArray(doc: Record<string, unknown>, parts: readonly string[]): boolean {
  let cur: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    if (Array.isArray(cur)) return true;
    if (!isPlainObject(cur)) return false;
    cur = cur[parts[i]!];
  }
  return Array.isArray(cur);
}
