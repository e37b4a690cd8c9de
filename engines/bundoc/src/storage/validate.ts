import { MAX_VALUE_BYTES } from './constants.js';
import { InvalidArgumentError } from './errors.js';

export const MAX_TREE_NAME_BYTES = 255;

export function checkTree(tree: unknown): string {
  if (typeof tree !== 'string' || tree.length === 0) {
    throw new InvalidArgumentError('tree name must be a non-empty string');
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short names need no byte count (a call per get).
  if (tree.length * 3 > MAX_TREE_NAME_BYTES && Buffer.byteLength(tree, 'utf8') > MAX_TREE_NAME_BYTES) {
    throw new InvalidArgumentError(`tree name exceeds ${MAX_TREE_NAME_BYTES} UTF-8 bytes`);
  }
  return tree;
}

export function checkKey(key: unknown, maxKey: number, what = 'key'): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new InvalidArgumentError(`${what} must be a Uint8Array`);
  if (key.length > maxKey) {
    throw new InvalidArgumentError(
      `${what} is ${key.length} bytes; the limit is ${maxKey} for this page size`,
    );
  }
  return key;
}

export function checkValue(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('value must be a Uint8Array');
  if (value.length > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(`value is ${value.length} bytes; the limit is ${MAX_VALUE_BYTES}`);
  }
  return value;
}

export interface RangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

export function checkRange(opts: unknown, maxKey: number): RangeOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object')
    throw new InvalidArgumentError('range options must be an object');
  const o = opts as RangeOptions;
  for (const k of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (o[k] !== undefined) checkKey(o[k], maxKey, `range bound ${k}`);
  }
  if (o.gt !== undefined && o.gte !== undefined)
    throw new InvalidArgumentError('use either gt or gte, not both');
  if (o.lt !== undefined && o.lte !== undefined)
    throw new InvalidArgumentError('use either lt or lte, not both');
  if (o.reverse !== undefined && typeof o.reverse !== 'boolean') {
    throw new InvalidArgumentError('range option reverse must be a boolean');
  }
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 0)) {
    throw new InvalidArgumentError('range option limit must be a non-negative integer');
  }
  return o;
}
