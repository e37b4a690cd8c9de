/**
 * Zipmap: the small-hash encoding of Redis ≤ 2.4, still accepted in RDB files. Read only.
 *   <zmlen u8> (<len> <key> <len> <free u8> <value> <free bytes>)* 0xFF
 *   len = 1 byte (< 254) or 254 followed by u32le
 */

import { CompactFormatError } from './compact-error.js';

function fail(message: string, pos: number): never {
  throw new CompactFormatError('zipmap', message, pos);
}

export function decodeZipmap(blob: Uint8Array): Array<[Buffer, Buffer]> {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const end = blob.length;
  let p = 1;
  const readLen = (): number => {
    if (p >= end) fail('length past end', p);
    const b = buf[p]!;
    if (b < 254) {
      p += 1;
      return b;
    }
    if (b === 254 && p + 5 <= end) {
      const v = buf.readUInt32LE(p + 1);
      p += 5;
      return v;
    }
    return fail('invalid length', p);
  };
  const pairs: Array<[Buffer, Buffer]> = [];
  while (p < end && buf[p] !== 0xff) {
    const klen = readLen();
    if (p + klen > end) fail('key past end', p);
    const key = Buffer.from(buf.subarray(p, p + klen));
    p += klen;
    const vlen = readLen();
    if (p >= end) fail('free byte past end', p);
    const free = buf[p]!;
    p += 1;
    if (p + vlen + free > end) fail('value past end', p);
    const value = Buffer.from(buf.subarray(p, p + vlen));
    p += vlen + free;
    pairs.push([key, value]);
  }
  if (p !== end - 1) fail('missing terminator', p);
  return pairs;
}
