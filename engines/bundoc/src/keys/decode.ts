import { type Direction, MAX_KEY_DEPTH, Tag } from './encode.js';
import { KeyEncodingError } from './errors.js';
import { MaxKey, MinKey, type Value } from './types.js';

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads key bytes back into values; `flip` is 0xff while reading a descending component. */
class KeyReader {
  pos = 0;
  flip = 0;
  constructor(readonly buf: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.buf.length) throw new KeyEncodingError('key bytes end in the middle of a value');
    return this.buf[this.pos++]! ^ this.flip;
  }

  double(): number {
    const raw = new Uint8Array(8);
    for (let i = 0; i < 8; i++) raw[i] = this.byte();
    if (raw.every((b) => b === 0)) return Number.NaN;
    if (raw[0]! & 0x80) raw[0] = raw[0]! & 0x7f;
    else for (let i = 0; i < 8; i++) raw[i] = ~raw[i]! & 0xff;
    for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? 7 - i : i] = raw[i]!;
    return f64[0]!;
  }

  string(): string {
    const units: number[] = [];
    let out = '';
    for (;;) {
      const b = this.byte();
      if (b === 0) {
        const next = this.byte();
        if (next === 1) break;
        if (next !== 0xff) throw new KeyEncodingError('bad escape in key string');
        units.push(0);
      } else if (b < 0x80) {
        units.push(b);
      } else if (b >= 0xf0) {
        const c =
          ((b & 0x07) << 18) |
          ((this.byte() & 0x3f) << 12) |
          ((this.byte() & 0x3f) << 6) |
          (this.byte() & 0x3f);
        const v = c - 0x10000;
        units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      } else if (b >= 0xe0) {
        units.push(((b & 0x0f) << 12) | ((this.byte() & 0x3f) << 6) | (this.byte() & 0x3f));
      } else if (b >= 0xc0) {
        units.push(((b & 0x1f) << 6) | (this.byte() & 0x3f));
      } else {
        throw new KeyEncodingError('bad UTF-8 lead byte in key string');
      }
      if (units.length >= 4096) {
        out += String.fromCharCode(...units);
        units.length = 0;
      }
    }
    return out + String.fromCharCode(...units);
  }

  value(depth: number): Value {
    return this.payload(this.byte(), depth);
  }

  payload(tag: number, depth: number): Value {
    if (depth > MAX_KEY_DEPTH) throw new KeyEncodingError(`key nested deeper than ${MAX_KEY_DEPTH} levels`);
    switch (tag) {
      case Tag.minKey:
        return MinKey as unknown as Value;
      case Tag.maxKey:
        return MaxKey as unknown as Value;
      case Tag.null:
        return null;
      case Tag.number:
        return this.double();
      case Tag.string:
        return this.string();
      case Tag.boolean: {
        const b = this.byte();
        if (b > 1) throw new KeyEncodingError('bad boolean in key');
        return b === 1;
      }
      case Tag.date:
        return new Date(this.double());
      case Tag.binary: {
        const n = ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0;
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) out[i] = this.byte();
        return out;
      }
      case Tag.array: {
        const arr: Value[] = [];
        for (let t = this.byte(); t !== 0; t = this.byte()) arr.push(this.payload(t, depth + 1));
        return arr;
      }
      case Tag.object: {
        const obj: { [k: string]: Value } = {};
        for (let t = this.byte(); t !== 0; t = this.byte()) {
          const name = this.string();
          // defineProperty keeps a field named __proto__ an ordinary field
          Object.defineProperty(obj, name, {
            value: this.payload(t, depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return obj;
      }
    }
    throw new KeyEncodingError(`unknown key tag 0x${tag.toString(16)}`);
  }
}

/** The value encodeKey produced these bytes from (missing decodes as null, -0 as 0). */
export function decodeKey(bytes: Uint8Array): Value {
  const r = new KeyReader(bytes);
  const v = r.value(0);
  if (r.pos !== bytes.length) throw new KeyEncodingError('trailing bytes after key');
  return v;
}

/** The component values of a key made by encodeCompoundKey with the same directions. */
export function decodeCompoundKey(bytes: Uint8Array, directions: readonly Direction[]): Value[] {
  const r = new KeyReader(bytes);
  const out = readComponents(r, directions);
  if (r.pos !== bytes.length) throw new KeyEncodingError('trailing bytes after compound key');
  return out;
}

/**
 * The component values at the start of a key made by encodeCompoundKey with these directions, whatever
 * follows them (the primary key a non-unique index entry ends with).
 */
export function decodeKeyPrefix(bytes: Uint8Array, directions: readonly Direction[]): Value[] {
  return readComponents(new KeyReader(bytes), directions);
}

function readComponents(r: KeyReader, directions: readonly Direction[]): Value[] {
  const out: Value[] = [];
  for (const d of directions) {
    r.flip = d === -1 ? 0xff : 0;
    out.push(r.value(0));
  }
  return out;
}
