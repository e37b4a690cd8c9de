import { keyCopy } from '../storage/copy-out.js';
import { KeyEncodingError } from './errors.js';
import { isPlainObject, MaxKeyType, MinKeyType } from './types.js';

/**
 * Order-preserving key bytes: for any values a, b, compareBytes(encodeKey(a), encodeKey(b)) has the sign
 * of compareValues(a, b). Every encoding is self-delimiting, so compound keys are plain concatenations and
 * a descending component is its bytes inverted. Layout (tag byte, then payload):
 *   MinKey 01 · null/missing 06 · number 0b + 8 bytes · string 10 + escaped UTF-8 + 00 01 ·
 *   object 15 + (tag, escaped name, payload)* + 00 · array 1a + value* + 00 ·
 *   binary 1f + u32 length + bytes · boolean 29 + 00|01 · date 2e + 8 bytes · MaxKey 7f.
 * Tags follow the TypeRank order and are never 00, so 00 can terminate objects and arrays. Inside an
 * object the value's tag comes before the field name because MongoDB compares value types first.
 */
export const Tag = {
  minKey: 0x01,
  null: 0x06,
  number: 0x0b,
  string: 0x10,
  object: 0x15,
  array: 0x1a,
  binary: 0x1f,
  boolean: 0x29,
  date: 0x2e,
  maxKey: 0x7f,
} as const;

/** Nesting limit for objects and arrays inside a key, so hostile input cannot overflow the stack. */
export const MAX_KEY_DEPTH = 100;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A growable byte buffer; one is reused per encode call chain. */
export class KeyWriter {
  buf = new Uint8Array(256);
  len = 0;

  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Doubles as 8 big-endian bytes whose unsigned order is numeric order (-0 folded to 0, NaN lowest). */
  double(n: number): void {
    this.ensure(8);
    const out = this.buf;
    const at = this.len;
    this.len += 8;
    if (Number.isNaN(n)) {
      out.fill(0, at, at + 8);
      return;
    }
    f64[0] = n === 0 ? 0 : n;
    for (let i = 0; i < 8; i++) out[at + i] = f64Bytes[littleEndian ? 7 - i : i]!;
    if (out[at]! & 0x80) {
      for (let i = 0; i < 8; i++) out[at + i] = ~out[at + i]! & 0xff;
    } else {
      out[at] = out[at]! | 0x80;
    }
  }

  /**
   * UTF-8 with lone surrogates kept as 3-byte sequences (WTF-8), so byte order is code point order and
   * decoding is exact; 00 is escaped as 00 ff and the string ends with 00 01.
   */
  string(s: string): void {
    this.ensure(s.length * 3 + 2);
    const out = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c === 0) {
          out[p++] = 0;
          out[p++] = 0xff;
        } else {
          out[p++] = c;
        }
      } else if (c < 0x800) {
        out[p++] = 0xc0 | (c >> 6);
        out[p++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
            out[p++] = 0xf0 | (c >> 18);
            out[p++] = 0x80 | ((c >> 12) & 0x3f);
            out[p++] = 0x80 | ((c >> 6) & 0x3f);
            out[p++] = 0x80 | (c & 0x3f);
            continue;
          }
        }
        out[p++] = 0xe0 | (c >> 12);
        out[p++] = 0x80 | ((c >> 6) & 0x3f);
        out[p++] = 0x80 | (c & 0x3f);
      }
    }
    out[p++] = 0;
    out[p++] = 1;
    this.len = p;
  }

  value(v: unknown, depth: number): void {
    this.byte(tagOf(v));
    this.payload(v, depth);
  }

  payload(v: unknown, depth: number): void {
    if (depth > MAX_KEY_DEPTH) throw new KeyEncodingError(`key nested deeper than ${MAX_KEY_DEPTH} levels`);
    switch (typeof v) {
      case 'number':
        this.double(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.byte(v ? 1 : 0);
        return;
      case 'undefined':
        return;
    }
    if (v === null || v instanceof MinKeyType || v instanceof MaxKeyType) return;
    if (Array.isArray(v)) {
      for (const e of v) this.value(e, depth + 1);
      this.byte(0);
      return;
    }
    if (v instanceof Date) {
      const ms = v.getTime();
      if (Number.isNaN(ms)) throw new KeyEncodingError('an invalid Date cannot be an index key');
      this.double(ms);
      return;
    }
    if (v instanceof Uint8Array) {
      this.ensure(4 + v.length);
      const n = v.length;
      this.buf[this.len++] = n >>> 24;
      this.buf[this.len++] = (n >>> 16) & 0xff;
      this.buf[this.len++] = (n >>> 8) & 0xff;
      this.buf[this.len++] = n & 0xff;
      this.buf.set(v, this.len);
      this.len += n;
      return;
    }
    // plain object (tagOf already rejected anything else)
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const fv = o[k];
      this.byte(tagOf(fv));
      this.string(k);
      this.payload(fv, depth + 1);
    }
    this.byte(0);
  }

  /** Raw bytes, unescaped (a trailing suffix such as the _id of a non-unique index key). */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  invertFrom(start: number): void {
    for (let i = start; i < this.len; i++) this.buf[i] = ~this.buf[i]! & 0xff;
  }

  take(): Uint8Array {
    return keyCopy(this.buf, 0, this.len);
  }
}

export function tagOf(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return Tag.number;
    case 'string':
      return Tag.string;
    case 'boolean':
      return Tag.boolean;
    case 'undefined':
      return Tag.null;
    case 'object':
      if (v === null) return Tag.null;
      if (Array.isArray(v)) return Tag.array;
      if (v instanceof Date) return Tag.date;
      if (v instanceof Uint8Array) return Tag.binary;
      if (v instanceof MinKeyType) return Tag.minKey;
      if (v instanceof MaxKeyType) return Tag.maxKey;
      if (isPlainObject(v)) return Tag.object;
      throw new KeyEncodingError(`cannot encode an instance of ${v.constructor?.name ?? 'unknown'} as a key`);
  }
  throw new KeyEncodingError(`cannot encode a ${typeof v} as a key`);
}

const shared = new KeyWriter();

/** The order-preserving bytes of one value (a missing field, `undefined`, encodes as null). */
export function encodeKey(value: unknown): Uint8Array {
  shared.len = 0;
  shared.value(value, 0);
  return shared.take();
}

/** 1 for ascending, -1 for descending, per compound key component. */
export type Direction = 1 | -1;

/**
 * Concatenated component encodings; descending components are inverted so they sort in reverse.
 * `suffix` bytes, if given, are appended as they are.
 */
export function encodeCompoundKey(
  values: readonly unknown[],
  directions: readonly Direction[],
  suffix?: Uint8Array,
): Uint8Array {
  if (values.length !== directions.length) {
    throw new KeyEncodingError(
      `compound key has ${values.length} values but ${directions.length} directions`,
    );
  }
  shared.len = 0;
  for (let i = 0; i < values.length; i++) {
    const start = shared.len;
    shared.value(values[i], 0);
    if (directions[i] === -1) shared.invertFrom(start);
  }
  if (suffix !== undefined) shared.bytes(suffix);
  return shared.take();
}

/** Unsigned lexicographic byte order, the order a B+tree keeps keys in. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
