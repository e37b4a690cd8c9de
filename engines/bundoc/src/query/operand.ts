import { isPlainObject } from '../keys/types.js';
import { InvalidFilterError } from './errors.js';

/** Operand values may be JSON values, Dates and (where a regex is allowed) RegExps; anything else is rejected. */
export function checkOperand(v: unknown, where: string, depth = 0): void {
  if (depth > 100) throw new InvalidFilterError(`${where}: operand nested deeper than 100 levels`);
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      return; // NaN and ±Infinity are legal operands (MongoDB compares them); documents cannot hold them
    case 'object':
      if (v === null || v instanceof Date || v instanceof RegExp || v instanceof Uint8Array) return;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) checkOperand(v[i], `${where}[${i}]`, depth + 1);
        return;
      }
      if (isPlainObject(v)) {
        for (const k of Object.keys(v)) checkOperand(v[k], `${where}.${k}`, depth + 1);
        return;
      }
      throw new InvalidFilterError(
        `${where}: a ${v.constructor?.name ?? 'non-plain object'} is not a valid operand`,
      );
  }
  throw new InvalidFilterError(`${where}: a value of type ${typeof v} is not a valid operand`);
}

/** An object whose keys are operators ($gt, …) rather than field names; mixing the two is an error. */
export function isOperatorObject(v: unknown, where: string): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length === 0) return false;
  const ops = keys.filter((k) => k.startsWith('$')).length;
  if (ops === 0) return false;
  if (ops !== keys.length) {
    throw new InvalidFilterError(`${where}: cannot mix operators and field names in ${JSON.stringify(keys)}`);
  }
  return true;
}
