import { isPlainObject } from '../keys/types.js';
import { InvalidFilterError } from './errors.js';

/**
 * $type aliases and BSON type numbers. Documents are JSON, which has a single number type, so every
 * number is a "double"/"number", and an integral number is also an "int" and a "long"; "decimal" and the
 * BSON-only types (binData, objectId, regex, timestamp, …) match nothing stored but are accepted.
 */
const predicates: Record<string, (v: unknown) => boolean> = {
  double: (v) => typeof v === 'number',
  string: (v) => typeof v === 'string',
  object: isPlainObject,
  array: Array.isArray,
  binData: (v) => v instanceof Uint8Array,
  undefined: () => false,
  objectId: () => false,
  bool: (v) => typeof v === 'boolean',
  date: (v) => v instanceof Date,
  null: (v) => v === null,
  regex: () => false,
  dbPointer: () => false,
  javascript: () => false,
  symbol: () => false,
  javascriptWithScope: () => false,
  int: (v) => Number.isInteger(v),
  timestamp: () => false,
  long: (v) => Number.isInteger(v),
  decimal: () => false,
  minKey: () => false,
  maxKey: () => false,
  number: (v) => typeof v === 'number',
};
const byNumber: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  12: 'dbPointer',
  13: 'javascript',
  14: 'symbol',
  15: 'javascriptWithScope',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};

export function typePredicate(spec: unknown, where: string): (v: unknown) => boolean {
  const specs = Array.isArray(spec) ? spec : [spec];
  if (specs.length === 0) throw new InvalidFilterError(`${where}: $type needs at least one type`);
  const preds = specs.map((s) => {
    const name = typeof s === 'number' ? byNumber[s] : typeof s === 'string' ? s : undefined;
    const p = name === undefined ? undefined : predicates[name];
    if (p === undefined || !Object.hasOwn(predicates, name!)) {
      throw new InvalidFilterError(`${where}: unknown $type ${JSON.stringify(s)}`);
    }
    return p;
  });
  return preds.length === 1 ? preds[0]! : (v) => preds.some((p) => p(v));
}
