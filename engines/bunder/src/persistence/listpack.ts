/**
 * Listpack: Redis 7's compact sequence of strings and integers (hashes, sorted sets, list nodes, streams).
 *
 *   <total-bytes u32le> <count u16le> <entry>* 0xFF
 *   entry = <encoding + data> <backlen>   (backlen: size of encoding + data, 7 bits per byte, reversed)
 */

import { CompactFormatError } from './compact-error.js';
import { canonicalInt64 } from './int-string.js';

export type ListpackItem = Buffer | bigint;

const HEADER = 6;
const EOF_BYTE = 0xff;
const UNKNOWN_COUNT = 0xffff;

function fail(message: string, pos: number): never {
  throw new CompactFormatError('listpack', message, pos);
}

function backlenSize(len: number): number {
  if (len <= 127) return 1;
  if (len < 16383) return 2;
  if (len < 2097151) return 3;
  if (len < 268435455) return 4;
  return 5;
}

/** Decodes every element; integers come back as bigint (callers turn them into text as needed). */
export function decodeListpack(lp: Uint8Array): ListpackItem[] {
  if (lp.length < HEADER + 1) fail('shorter than its header', 0);
  const buf = Buffer.from(lp.buffer, lp.byteOffset, lp.length);
  const total = buf.readUInt32LE(0);
  if (total !== lp.length) fail(`header says ${total} bytes, blob has ${lp.length}`, 0);
  const count = buf.readUInt16LE(4);
  const items: ListpackItem[] = [];
  let p = HEADER;
  const end = lp.length - 1;
  while (p < end) {
    const start = p;
    const b = buf[p]!;
    let item: ListpackItem;
    if (b < 0x80) {
      item = BigInt(b);
      p += 1;
    } else if (b < 0xc0) {
      const len = b & 0x3f;
      p += 1;
      if (p + len > end) fail('string past end', start);
      item = Buffer.from(buf.subarray(p, p + len));
      p += len;
    } else if (b < 0xe0) {
      if (p + 2 > end) fail('integer past end', start);
      let v = ((b & 0x1f) << 8) | buf[p + 1]!;
      if (v >= 1 << 12) v -= 1 << 13;
      item = BigInt(v);
      p += 2;
    } else if (b < 0xf0) {
      if (p + 2 > end) fail('string length past end', start);
      const len = ((b & 0x0f) << 8) | buf[p + 1]!;
      p += 2;
      if (p + len > end) fail('string past end', start);
      item = Buffer.from(buf.subarray(p, p + len));
      p += len;
    } else {
      switch (b) {
        case 0xf0: {
          if (p + 5 > end) fail('string length past end', start);
          const len = buf.readUInt32LE(p + 1);
          p += 5;
          if (p + len > end) fail('string past end', start);
          item = Buffer.from(buf.subarray(p, p + len));
          p += len;
          break;
        }
        case 0xf1:
          if (p + 3 > end) fail('int16 past end', start);
          item = BigInt(buf.readInt16LE(p + 1));
          p += 3;
          break;
        case 0xf2:
          if (p + 4 > end) fail('int24 past end', start);
          item = BigInt(buf.readIntLE(p + 1, 3));
          p += 4;
          break;
        case 0xf3:
          if (p + 5 > end) fail('int32 past end', start);
          item = BigInt(buf.readInt32LE(p + 1));
          p += 5;
          break;
        case 0xf4:
          if (p + 9 > end) fail('int64 past end', start);
          item = buf.readBigInt64LE(p + 1);
          p += 9;
          break;
        default:
          fail(`invalid encoding byte 0x${b.toString(16)}`, start);
      }
    }
    const entryLen = p - start;
    const blen = backlenSize(entryLen);
    if (p + blen > end) fail('backlen past end', p);
    if (decodeBacklen(buf, p + blen - 1) !== entryLen) fail('backlen does not match entry size', p);
    p += blen;
    items.push(item);
  }
  if (p !== end || buf[end] !== EOF_BYTE) fail('missing terminator', p);
  if (count !== UNKNOWN_COUNT && count !== items.length) {
    fail(`header says ${count} entries, found ${items.length}`, 4);
  }
  return items;
}

/** Reads a backlen ending at `last`, right to left as Redis does. */
function decodeBacklen(buf: Buffer, last: number): number {
  let v = 0;
  let shift = 0;
  let p = last;
  for (;;) {
    const b = buf[p]!;
    v += (b & 127) * 2 ** shift;
    if (!(b & 128)) break;
    shift += 7;
    p--;
    if (shift > 28) return -1;
  }
  return v;
}

function encodeBacklen(len: number, out: Buffer, at: number): number {
  const size = backlenSize(len);
  // Most significant group first; every byte but the first (leftmost) carries the continuation bit.
  for (let i = 0; i < size; i++) {
    const shift = 7 * (size - 1 - i);
    const group = Math.floor(len / 2 ** shift) & 127;
    out[at + i] = i === 0 ? group : group | 128;
  }
  return size;
}

function encodeInteger(v: bigint, out: Buffer, at: number): number {
  if (v >= 0n && v <= 127n) {
    out[at] = Number(v);
    return 1;
  }
  if (v >= -4096n && v <= 4095n) {
    const u = Number(v < 0n ? v + 8192n : v);
    out[at] = 0xc0 | (u >> 8);
    out[at + 1] = u & 0xff;
    return 2;
  }
  if (v >= -32768n && v <= 32767n) {
    out[at] = 0xf1;
    out.writeInt16LE(Number(v), at + 1);
    return 3;
  }
  if (v >= -8388608n && v <= 8388607n) {
    out[at] = 0xf2;
    out.writeIntLE(Number(v), at + 1, 3);
    return 4;
  }
  if (v >= -2147483648n && v <= 2147483647n) {
    out[at] = 0xf3;
    out.writeInt32LE(Number(v), at + 1);
    return 5;
  }
  out[at] = 0xf4;
  out.writeBigInt64LE(v, at + 1);
  return 9;
}

function encodeString(s: Uint8Array, out: Buffer, at: number): number {
  const n = s.length;
  let h: number;
  if (n < 64) {
    out[at] = 0x80 | n;
    h = 1;
  } else if (n < 4096) {
    out[at] = 0xe0 | (n >> 8);
    out[at + 1] = n & 0xff;
    h = 2;
  } else {
    out[at] = 0xf0;
    out.writeUInt32LE(n, at + 1);
    h = 5;
  }
  out.set(s, at + h);
  return h + n;
}

/**
 * Builds a listpack. Buffers that are canonical integers are stored as integers, as Redis does, so the
 * bytes match what Redis itself would write.
 */
export function encodeListpack(items: readonly ListpackItem[]): Buffer {
  let cap = HEADER + 1;
  for (const it of items) cap += typeof it === 'bigint' ? 14 : it.length + 10;
  const out = Buffer.allocUnsafe(cap);
  let p = HEADER;
  for (const it of items) {
    const asInt = typeof it === 'bigint' ? it : it.length <= 20 ? canonicalInt64(it) : null;
    const len = asInt !== null ? encodeInteger(asInt, out, p) : encodeString(it as Buffer, out, p);
    p += len;
    p += encodeBacklen(len, out, p);
  }
  out[p++] = EOF_BYTE;
  out.writeUInt32LE(p, 0);
  out.writeUInt16LE(Math.min(items.length, UNKNOWN_COUNT), 4);
  return out.subarray(0, p);
}

/** Size the encoded element would take, to decide node splits without encoding twice. */
export function listpackEntrySize(item: ListpackItem): number {
  if (typeof item === 'bigint') return 10;
  const n = item.length;
  const body = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n;
  return body + backlenSize(body);
}
