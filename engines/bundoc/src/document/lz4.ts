import lz4js from 'lz4js';

/**
 * Raw LZ4 blocks (no frame: the codec stores the uncompressed length itself). Compression is lz4js's;
 * decompression is a bounds-checked decoder of the standard block format, because lz4js's trusts its
 * input (a corrupt length can make it loop for seconds or read before the output).
 */

/** lz4js hashes 4-byte sequences to 16 bits. */
const hashTable = new Uint32Array(1 << 16);

/**
 * The LZ4 block of `src`, written into a new array after `reserve` leading bytes left for the caller,
 * or undefined when it would not fit in `maxBytes` (block plus reserve).
 */
export function lz4Compress(src: Uint8Array, reserve: number, maxBytes: number): Uint8Array | undefined {
  const out = new Uint8Array(reserve + lz4js.compressBound(src.length));
  // Entries left by an earlier input could point at the current position (a zero offset): clear them.
  hashTable.fill(0);
  const size = lz4js.compressBlock(src, out.subarray(reserve), 0, src.length, hashTable);
  if (size === 0 || reserve + size > maxBytes) return undefined;
  return out.subarray(0, reserve + size);
}

/**
 * Decodes the block `src[start, end)` into `dst`, which must be exactly the uncompressed size.
 * Returns undefined on success, otherwise what is wrong (the caller turns it into its error type).
 */
export function lz4Decompress(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
): string | undefined {
  let s = start;
  let d = 0;
  const dEnd = dst.length;
  while (s < end) {
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= end) return 'truncated literal length';
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > end - s || lit > dEnd - d) return 'literal run overruns the block';
    if (lit < 32) for (let i = 0; i < lit; i++) dst[d++] = src[s++]!;
    else {
      dst.set(src.subarray(s, s + lit), d);
      s += lit;
      d += lit;
    }
    if (s === end) break; // the last sequence carries literals only
    if (end - s < 2) return 'truncated match offset';
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) return `match offset ${offset} points outside the output`;
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (s >= end) return 'truncated match length';
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (len > dEnd - d) return 'match overruns the output';
    let m = d - offset;
    if (offset >= len) {
      dst.copyWithin(d, m, m + len);
      d += len;
    } else for (let i = 0; i < len; i++) dst[d++] = dst[m++]!; // overlapping: repeats the last `offset` bytes
  }
  return d === dEnd ? undefined : `block decodes to ${d} bytes, expected ${dEnd}`;
}
