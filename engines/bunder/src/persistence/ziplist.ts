/**
 * Ziplist: the compact encoding Redis used before listpack (RDB files from Redis ≤ 6, and quicklist
 * version 1 nodes). Read only — Redis 7 never writes ziplists.
 *
 *   <zlbytes u32le> <zltail u32le> <zllen u16le> <entry>* 0xFF
 *   entry = <prevlen: 1 byte, or 0xFE + u32le> <encoding> <data>
 */

import { CompactFormatError } from './compact-error.js';
import { intToBuffer } from './int-string.js';

const HEADER = 10;

function fail(message: string, pos: number): never {
  throw new CompactFormatError('ziplist', message, pos);
}

/** Decodes every element to its string form (integers as decimal text, as Redis returns them). */
export function decodeZiplist(zl: Uint8Array): Buffer[] {
  if (zl.length < HEADER + 1) fail('shorter than its header', 0);
  const buf = Buffer.from(zl.buffer, zl.byteOffset, zl.length);
  const total = buf.readUInt32LE(0);
  if (total !== zl.length) fail(`header says ${total} bytes, blob has ${zl.length}`, 0);
  const count = buf.readUInt16LE(8);
  const end = zl.length - 1;
  const items: Buffer[] = [];
  let p = HEADER;
  let prevSize = 0;
  while (p < end) {
    const start = p;
    let prevlen = buf[p]!;
    if (prevlen === 0xfe) {
      if (p + 5 > end) fail('prevlen past end', p);
      prevlen = buf.readUInt32LE(p + 1);
      p += 5;
    } else {
      p += 1;
    }
    if (prevlen !== prevSize) fail('prevlen does not match previous entry', start);
    if (p >= end) fail('entry header past end', p);
    const b = buf[p]!;
    let item: Buffer;
    const top = b >> 6;
    if (top === 0 || top === 1 || top === 2) {
      let len: number;
      if (top === 0) {
        len = b & 0x3f;
        p += 1;
      } else if (top === 1) {
        if (p + 2 > end) fail('length past end', p);
        len = ((b & 0x3f) << 8) | buf[p + 1]!;
        p += 2;
      } else {
        if (p + 5 > end) fail('length past end', p);
        len = buf.readUInt32BE(p + 1);
        p += 5;
      }
      if (p + len > end) fail('string past end', p);
      item = Buffer.from(buf.subarray(p, p + len));
      p += len;
    } else {
      let v: bigint | number;
      let size: number;
      switch (b) {
        case 0xc0:
          size = 2;
          if (p + 1 + size > end) fail('int past end', p);
          v = buf.readInt16LE(p + 1);
          break;
        case 0xd0:
          size = 4;
          if (p + 1 + size > end) fail('int past end', p);
          v = buf.readInt32LE(p + 1);
          break;
        case 0xe0:
          size = 8;
          if (p + 1 + size > end) fail('int past end', p);
          v = buf.readBigInt64LE(p + 1);
          break;
        case 0xf0:
          size = 3;
          if (p + 1 + size > end) fail('int past end', p);
          v = buf.readIntLE(p + 1, 3);
          break;
        case 0xfe:
          size = 1;
          if (p + 1 + size > end) fail('int past end', p);
          v = buf.readInt8(p + 1);
          break;
        default:
          if (b >= 0xf1 && b <= 0xfd) {
            size = 0;
            v = (b & 0x0f) - 1;
          } else {
            fail(`invalid encoding byte 0x${b.toString(16)}`, p);
          }
      }
      item = intToBuffer(v);
      p += 1 + size;
    }
    prevSize = p - start;
    items.push(item);
  }
  if (p !== end || buf[end] !== 0xff) fail('missing terminator', p);
  if (count !== 0xffff && count !== items.length)
    fail(`header says ${count} entries, found ${items.length}`, 8);
  return items;
}
