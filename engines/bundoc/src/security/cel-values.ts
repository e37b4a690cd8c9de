/**
 * Documents and auth claims as CEL values.
 *
 * - Every JSON number is a CEL `double`, whatever its value: JavaScript (and JSON) have one number type,
 *   and a value's CEL type must not depend on whether it happens to be integral (a rule that adds 1.0 to
 *   a price must not start failing when the price is 10). CEL compares and tests equality across int and
 *   double (`resource.data.age >= 18` works), but arithmetic does not mix them: write `x + 1.0`, or
 *   `int(x) + 1`.
 * - A Date becomes a CEL `timestamp` (millisecond precision, as the Date has), so rules can compare it
 *   with `request.time` and subtract durations.
 * - Objects become maps with string keys; arrays become lists; strings, booleans and null map directly.
 *
 * Conversion is lazy: an object becomes a map that converts a field when the rule reads it, so a rule
 * that reads two fields of a large document costs two conversions, not a copy of the document.
 */
import type { CelInput } from '@bufbuild/cel';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';

export function toCel(v: unknown): CelInput {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'object':
      break;
    default:
      throw new TypeError(`a ${typeof v} is not a document value`);
  }
  if (v === null) return null;
  if (v instanceof Date) return timestampFromMs(v.getTime());
  // Elements are converted now (a list is indexed and iterated by position), their contents lazily.
  if (Array.isArray(v)) return v.map(toCel);
  return new ObjectMap(v as { [k: string]: unknown }) as unknown as CelInput;
}

/**
 * A read-only Map view of a document object, converting values on access (@bufbuild/cel accepts any
 * `Map` and reads it through get/keys/entries/values/forEach/size). Converted values are memoised.
 */
class ObjectMap extends Map<string, CelInput> {
  readonly #obj: { [k: string]: unknown };
  readonly #seen = new Map<string, CelInput>();

  constructor(obj: { [k: string]: unknown }) {
    super();
    this.#obj = obj;
  }

  override get(key: string): CelInput | undefined {
    if (typeof key !== 'string' || !Object.hasOwn(this.#obj, key)) return undefined;
    let v = this.#seen.get(key);
    if (v === undefined) {
      v = toCel(this.#obj[key]);
      this.#seen.set(key, v);
    }
    return v;
  }

  override has(key: string): boolean {
    return typeof key === 'string' && Object.hasOwn(this.#obj, key);
  }

  override get size(): number {
    return Object.keys(this.#obj).length;
  }

  override keys(): MapIterator<string> {
    return Object.keys(this.#obj)[Symbol.iterator]() as MapIterator<string>;
  }

  override *values(): MapIterator<CelInput> {
    for (const k of Object.keys(this.#obj)) yield this.get(k) as CelInput;
  }

  override *entries(): MapIterator<[string, CelInput]> {
    for (const k of Object.keys(this.#obj)) yield [k, this.get(k) as CelInput];
  }

  override [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }

  override forEach(
    fn: (value: CelInput, key: string, map: Map<string, CelInput>) => void,
    thisArg?: unknown,
  ): void {
    for (const k of Object.keys(this.#obj)) fn.call(thisArg, this.get(k) as CelInput, k, this);
  }

  override set(): this {
    throw new TypeError('document values are read-only in rules');
  }

  override delete(): boolean {
    throw new TypeError('document values are read-only in rules');
  }

  override clear(): void {
    throw new TypeError('document values are read-only in rules');
  }
}

/** `request.time` for an evaluation at `now`. */
export function celTimestamp(now: Date): CelInput {
  return timestampFromMs(now.getTime());
}
