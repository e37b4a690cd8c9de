export { compareNumbers, compareStrings, compareValues, valuesEqual } from './compare.js';
export { decodeCompoundKey, decodeKey } from './decode.js';
export { compareBytes, type Direction, encodeCompoundKey, encodeKey, MAX_KEY_DEPTH, Tag } from './encode.js';
export { KeyEncodingError } from './errors.js';
export {
  isPlainObject,
  MaxKey,
  MaxKeyType,
  MinKey,
  MinKeyType,
  TypeRank,
  type TypeRankValue,
  typeRank,
  type Value,
} from './types.js';
