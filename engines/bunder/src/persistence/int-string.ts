/**
 * Redis stores strings that are canonical decimal int64 values ("-12", never "012", "+1" or "-0") as
 * integers in its compact encodings, and reads them back as the same decimal text. Matching that rule
 * exactly keeps round trips byte-exact.
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The int64 value of `s` if Redis's string2ll would accept it, else null. */
export function canonicalInt64(s: Uint8Array): bigint | null {
  const n = s.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  if (s[0] === 0x2d) {
    if (n === 1) return null;
    i = 1;
  }
  if (s[i] === 0x30) return n === 1 ? 0n : null; // "0" only; no leading zeros, no "-0"
  for (let j = i; j < n; j++) {
    const c = s[j]!;
    if (c < 0x30 || c > 0x39) return null;
  }
  // Up to 15 digits fits a double exactly; only longer ones need BigInt.
  const text = Buffer.from(s.buffer, s.byteOffset, n).toString('latin1');
  const v = n - i <= 15 ? BigInt(Number(text)) : BigInt(text);
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

export function intToBuffer(v: bigint | number): Buffer {
  return Buffer.from(v.toString(), 'latin1');
}

/** Redis reads a 64-bit field as unsigned where it means "length", signed where it means "value". */
export function toInt64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}
