/**
 * The values bundoc compares, indexes and queries: JSON values plus Date, and for index bounds
 * binary data and the two sentinels MinKey/MaxKey. `undefined` stands for a missing field.
 */
export type Value =
  | null
  | boolean
  | number
  | string
  | Date
  | Uint8Array
  | MinKeyType
  | MaxKeyType
  | Value[]
  | { [field: string]: Value };

/** Sorts before every other value; used for open index bounds. */
export class MinKeyType {
  readonly $minKey = 1;
}
/** Sorts after every other value; used for open index bounds. */
export class MaxKeyType {
  readonly $maxKey = 1;
}
export const MinKey: MinKeyType = Object.freeze(new MinKeyType());
export const MaxKey: MaxKeyType = Object.freeze(new MaxKeyType());

/**
 * Canonical type brackets in MongoDB's documented comparison order
 * (MinKey < null < numbers < strings < objects < arrays < binary < booleans < dates < MaxKey).
 * A missing field compares as null. The gaps leave room for the BSON types bundoc does not store.
 */
export const TypeRank = {
  minKey: 0,
  null: 5,
  number: 10,
  string: 15,
  object: 20,
  array: 25,
  binary: 30,
  boolean: 40,
  date: 45,
  maxKey: 127,
} as const;
export type TypeRankValue = (typeof TypeRank)[keyof typeof TypeRank];

/** True for `{}`-style objects (prototype Object.prototype or null), the only objects that are documents. */
export function isPlainObject(v: unknown): v is { [field: string]: unknown } {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The type bracket of a value; throws on values bundoc never stores or compares. */
export function typeRank(v: unknown): TypeRankValue {
  switch (typeof v) {
    case 'number':
      return TypeRank.number;
    case 'string':
      return TypeRank.string;
    case 'boolean':
      return TypeRank.boolean;
    case 'undefined':
      return TypeRank.null;
    case 'object':
      if (v === null) return TypeRank.null;
      if (Array.isArray(v)) return TypeRank.array;
      if (v instanceof Date) return TypeRank.date;
      if (v instanceof Uint8Array) return TypeRank.binary;
      if (v instanceof MinKeyType) return TypeRank.minKey;
      if (v instanceof MaxKeyType) return TypeRank.maxKey;
      return TypeRank.object;
  }
  throw new TypeError(`cannot compare a value of type ${typeof v}`);
}
