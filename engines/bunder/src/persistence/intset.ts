/**
 * Intset: Redis's sorted array of integers for small all-integer sets.
 *   <encoding u32le: 2|4|8> <length u32le> <int>* (little-endian, ascending, unique)
 */

import { CompactFormatError } from './compact-error.js';
import { canonicalInt64, intToBuffer } from './int-string.js';

function fail(message: string, pos: number): never {
  throw new CompactFormatError('intset', message, pos);
}

export function decodeIntset(blob: Uint8Array): Buffer[] {
  if (blob.length < 8) fail('shorter than its header', 0);
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const width = buf.readUInt32LE(0);
  if (width !== 2 && width !== 4 && width !== 8) fail(`invalid encoding ${width}`, 0);
  const count = buf.readUInt32LE(4);
  if (8 + count * width !== blob.length) fail(`length ${count} does not match blob size`, 4);
  const out: Buffer[] = new Array(count);
  let prev: bigint | null = null;
  for (let i = 0; i < count; i++) {
    const at = 8 + i * width;
    const v =
      width === 2
        ? BigInt(buf.readInt16LE(at))
        : width === 4
          ? BigInt(buf.readInt32LE(at))
          : buf.readBigInt64LE(at);
    if (prev !== null && v <= prev) fail('members not strictly ascending', at);
    prev = v;
    out[i] = intToBuffer(v);
  }
  return out;
}

/** The int64 values of `members` if every one is a canonical integer (the condition for an intset). */
export function asIntsetMembers(members: readonly Buffer[]): bigint[] | null {
  const values: bigint[] = new Array(members.length);
  for (let i = 0; i < members.length; i++) {
    const v = canonicalInt64(members[i]!);
    if (v === null) return null;
    values[i] = v;
  }
  return values;
}

export function encodeIntset(values: readonly bigint[]): Buffer {
  const sorted = [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let width = 2;
  for (const v of sorted) {
    if (v < -2147483648n || v > 2147483647n) width = 8;
    else if ((v < -32768n || v > 32767n) && width < 4) width = 4;
  }
  const out = Buffer.allocUnsafe(8 + sorted.length * width);
  out.writeUInt32LE(width, 0);
  out.writeUInt32LE(sorted.length, 4);
  sorted.forEach((v, i) => {
    const at = 8 + i * width;
    if (width === 2) out.writeInt16LE(Number(v), at);
    else if (width === 4) out.writeInt32LE(Number(v), at);
    else out.writeBigInt64LE(v, at);
  });
  return out;
}
