/**
 * LZF compression in the liblzf format that Redis uses for RDB strings and compressed quicklist nodes.
 *
 * The stream is a sequence of chunks, each starting with a control byte:
 *   000LLLLL                      literal run of L+1 bytes follows
 *   LLLooooo oooooooo             back reference, length L+2 (L in 1..6), offset o+1 back
 *   111ooooo LLLLLLLL oooooooo    back reference, length L+9
 * Any valid liblzf decoder accepts our output; it does not need to be byte-identical to liblzf's.
 */

import { LzfError } from './errors.js';

const MAX_LITERAL = 32;
const MAX_OFFSET = 1 << 13;
const MAX_MATCH = (1 << 8) + (1 << 3); // 264 bytes: length code 7 + 255, plus the implicit 2
const HASH_LOG = 14;
const HASH_SIZE = 1 << HASH_LOG;

// One hash table reused across calls: compression is synchronous, so no call can interleave.
const hashTable = new Int32Array(HASH_SIZE);

function hash3(input: Uint8Array, i: number): number {
  const v = (input[i]! << 16) | (input[i + 1]! << 8) | input[i + 2]!;
  return (Math.imul(v, 2654435761) >>> (32 - HASH_LOG)) & (HASH_SIZE - 1);
}

/**
 * Compresses `input`. Returns null when the result would not be smaller than `maxOutput` bytes
 * (Redis only stores the compressed form when it saves space, so callers pass `input.length - 4`).
 */
export function lzfCompress(input: Uint8Array, maxOutput = input.length - 1): Buffer | null {
  const n = input.length;
  if (n === 0 || maxOutput <= 0) return null;
  // Worst case output is input + one control byte per 32 literals; cap by maxOutput.
  const out = Buffer.allocUnsafe(Math.min(maxOutput, n + Math.ceil(n / MAX_LITERAL) + 1));
  const outEnd = out.length;
  hashTable.fill(-1);

  let ip = 0;
  let op = 1; // out[0] is reserved for the first literal run's control byte
  let lit = 0; // length of the literal run in progress; its control byte sits at out[op - lit - 1]

  const emitLiteral = (): boolean => {
    if (op >= outEnd) return false;
    lit++;
    out[op++] = input[ip++]!;
    if (lit === MAX_LITERAL) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++; // reserve the next run's control byte; it is only written if a literal follows
    }
    return true;
  };

  while (ip < n - 2) {
    const slot = hash3(input, ip);
    const ref = hashTable[slot]!;
    hashTable[slot] = ip;
    const off = ip - ref - 1;
    if (
      ref >= 0 &&
      off < MAX_OFFSET &&
      input[ref] === input[ip] &&
      input[ref + 1] === input[ip + 1] &&
      input[ref + 2] === input[ip + 2]
    ) {
      const maxLen = Math.min(n - ip, MAX_MATCH);
      let len = 3;
      while (len < maxLen && input[ref + len] === input[ip + len]) len++;
      // Close the literal run (or drop its reserved byte if empty), then emit the reference.
      if (lit > 0) out[op - lit - 1] = lit - 1;
      else op--;
      const code = len - 2;
      if (op + (code < 7 ? 2 : 3) + 1 > outEnd) return null;
      if (code < 7) {
        out[op++] = (code << 5) | (off >> 8);
      } else {
        out[op++] = (7 << 5) | (off >> 8);
        out[op++] = code - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++; // reserve the next run's control byte
      // Index the positions inside the match cheaply: only its last two starts.
      const end = ip + len;
      for (let j = Math.max(ip + 1, end - 2); j < end && j < n - 2; j++) hashTable[hash3(input, j)] = j;
      ip = end;
    } else if (!emitLiteral()) {
      return null;
    }
  }
  while (ip < n) if (!emitLiteral()) return null;
  if (lit > 0) out[op - lit - 1] = lit - 1;
  else op--;
  if (op > maxOutput) return null;
  return out.subarray(0, op);
}

/**
 * Decompresses `input` into exactly `outputLength` bytes (Redis stores both lengths). Any inconsistency
 * — a run past the end of input or output, a reference before the start, a short result — is an error.
 */
export function lzfDecompress(input: Uint8Array, outputLength: number): Buffer {
  const out = Buffer.allocUnsafe(outputLength);
  let ip = 0;
  let op = 0;
  const n = input.length;
  while (ip < n) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (ip + len > n) throw new LzfError('LZF_CORRUPT', 'LZF literal run past end of input', ip - 1);
      if (op + len > outputLength) throw new LzfError('LZF_OUTPUT_TOO_SMALL', 'LZF output overflow', ip - 1);
      for (let i = 0; i < len; i++) out[op++] = input[ip++]!;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) {
        if (ip >= n) throw new LzfError('LZF_CORRUPT', 'LZF reference length past end of input', ip - 1);
        len += input[ip++]!;
      }
      if (ip >= n) throw new LzfError('LZF_CORRUPT', 'LZF reference offset past end of input', ip - 1);
      ref -= input[ip++]!;
      len += 2;
      if (ref < 0) throw new LzfError('LZF_CORRUPT', 'LZF back reference before start of output', ip - 1);
      if (op + len > outputLength) throw new LzfError('LZF_OUTPUT_TOO_SMALL', 'LZF output overflow', ip - 1);
      // Byte by byte: the source may overlap the destination (runs of repeated bytes).
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  if (op !== outputLength) {
    throw new LzfError('LZF_CORRUPT', `LZF output is ${op} bytes, expected ${outputLength}`, n);
  }
  return out;
}
