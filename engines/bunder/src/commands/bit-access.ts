/**
 * Bit-level access to string values shared by the bitmap commands: reading the stored latin1 string or
 * MutableString in place (no copy), Redis's bit-offset argument (with `#n` for BITFIELD), and growing a
 * value into a zero-padded MutableString for writes (lookupStringForBitCommand).
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { MutableString } from '../keyspace.js';
import { E, ErrorReply } from '../reply.js';
import { parseI64 } from '../util/numbers.js';
import { mutable } from './strings.js';

/** Read access to a string value's bytes without copying it. */
export interface Bytes {
  readonly length: number;
  at(i: number): number;
}

export function bytesOf(v: string | MutableString): Bytes {
  if (typeof v === 'string') return { length: v.length, at: (i) => v.charCodeAt(i) };
  const buf = v.buf;
  return { length: v.len, at: (i) => buf[i]! };
}

/** The key's string bytes; undefined when missing, WRONGTYPE for other types. */
export function readString(c: Client, key: string): Bytes | undefined | ErrorReply {
  const v = c.db.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'string' || v instanceof MutableString) return bytesOf(v);
  return E.WRONGTYPE;
}

function maxBulk(e: Engine): number {
  return e.config.int('proto-max-bulk-len') || 512 * 1024 * 1024;
}

/** getBitOffsetFromArgument: a bit offset, or `#n` (times the field width) where allowed. */
export function bitOffset(arg: string, e: Engine, hashBits = 0): number | ErrorReply {
  const useHash = hashBits > 0 && arg[0] === '#';
  const n = parseI64(useHash ? arg.slice(1) : arg);
  if (n === null) return E.BIT_OFFSET;
  const off = useHash ? n * hashBits : n;
  if (off < 0 || Math.floor(off / 8) >= maxBulk(e)) return E.BIT_OFFSET;
  return off;
}

/** lookupStringForBitCommand: the key's string, created or zero-padded to hold bit `maxBit`. */
export function writableString(
  c: Client,
  key: string,
  maxBit: number,
): { m: MutableString; grew: boolean } | ErrorReply {
  const bytes = Math.floor(maxBit / 8) + 1;
  const m = mutable(c, key);
  if (m instanceof ErrorReply) return m;
  if (!m) {
    const fresh = new MutableString('', bytes);
    fresh.grow(bytes);
    c.db.set(key, fresh);
    return { m: fresh, grew: true };
  }
  const before = m.len;
  m.grow(bytes);
  return { m, grew: m.len !== before };
}
