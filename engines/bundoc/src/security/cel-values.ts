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
  if (Array.isArray(v)) return v.map(toCel);
  const m = new Map<string, CelInput>();
  for (const [k, x] of Object.entries(v)) m.set(k, toCel(x));
  return m;
}

/** `request.time` for an evaluation at `now`. */
export function celTimestamp(now: Date): CelInput {
  return timestampFromMs(now.getTime());
}
