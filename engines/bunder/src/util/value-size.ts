/**
 * An estimate of the bytes a key and its value occupy, in the spirit of MEMORY USAGE: payload bytes
 * plus a fixed overhead per key and per element (V8 object headers, Map slots, skip-list nodes). Used by
 * MEMORY USAGE and by eviction to judge how much an eviction frees before the garbage collector runs.
 */
import { Denque, MutableString, RSet, type Value, ZSet } from '../keyspace.js';

const KEY_OVERHEAD = 56;
const ELEMENT_OVERHEAD = 48;

export function estimateBytes(key: string, v: Value): number {
  let bytes = KEY_OVERHEAD + key.length;
  if (typeof v === 'string') return bytes + v.length;
  if (v instanceof MutableString) return bytes + v.buf.length;
  if (v instanceof Denque) {
    for (const x of v.toArray()) bytes += ELEMENT_OVERHEAD + x.length;
    return bytes;
  }
  if (v instanceof Map) {
    for (const [f, x] of v) bytes += ELEMENT_OVERHEAD + f.length + x.length;
    return bytes;
  }
  if (v instanceof RSet) {
    for (const m of v) bytes += ELEMENT_OVERHEAD + m.length;
    return bytes;
  }
  if (v instanceof ZSet) {
    for (const m of v.dict.keys()) bytes += 2 * ELEMENT_OVERHEAD + m.length;
    return bytes;
  }
  // streams: entries are packed in nodes; a per-entry figure is close enough for eviction and reports
  return bytes + v.length * 64;
}
