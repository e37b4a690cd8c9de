/**
 * Exact emulation of the x86-64 C `long double` (x87 80-bit extended precision) that Redis uses for
 * INCRBYFLOAT and HINCRBYFLOAT: 64-bit significand, round to nearest with ties to even, normal
 * exponents down to 2^-16382, subnormals down to 2^-16445, overflow to infinity above
 * (2 - 2^-63) * 2^16383. Values are BigInt significands scaled by a power of two, so parsing
 * (glibc strtold through Redis's string2ld), addition and formatting (glibc "%.17Lf" through
 * ld2string's LD_STR_HUMAN mode) are bit-exact with the real server.
 */

/** A long double: (-1)^neg * mant * 2^exp with 0 <= mant < 2^64, or an infinity. */
export interface LongDouble {
  readonly neg: boolean;
  readonly inf: boolean;
  readonly mant: bigint;
  readonly exp: number;
}

const SIG_BITS = 64;
/** Exponent of the last significand bit of the smallest subnormal, 2^-16445. */
const MIN_LSB = -16445;
/** Largest exponent of the last significand bit of a finite value ((2^64 - 1) * 2^16320). */
const MAX_LSB = 16383 - (SIG_BITS - 1);
const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;
/** Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses inputs of this length or longer. */
const MAX_CHARS = 5 * 1024;
const FRACTION_DIGITS = 17;
const TEN_17 = 10n ** 17n;

/** +0, the value of a missing key or field. */
export const LD_ZERO: LongDouble = { neg: false, inf: false, mant: 0n, exp: 0 };
const ZERO = LD_ZERO;
const NEG_ZERO: LongDouble = { neg: true, inf: false, mant: 0n, exp: 0 };
const POS_INF: LongDouble = { neg: false, inf: true, mant: 0n, exp: 0 };
const NEG_INF: LongDouble = { neg: true, inf: true, mant: 0n, exp: 0 };

const DEC_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX_RE = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INF_RE = /^[+-]?inf(?:inity)?$/i;

/** Number of bits of a positive bigint. */
function bitLength(x: bigint): number {
  const h = x.toString(16);
  return (h.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(h[0]!, 16)));
}

const pow5Cache: bigint[] = [];
function pow5(k: number): bigint {
  if (k < 64) {
    let p = pow5Cache[k];
    if (p === undefined) {
      p = 5n ** BigInt(k);
      pow5Cache[k] = p;
    }
    return p;
  }
  return 5n ** BigInt(k);
}

/**
 * Rounds the exact positive value num / den * 2^e2 to a long double (nearest, ties to even). Returns
 * an infinity on overflow and a zero when the value is below half the smallest subnormal.
 */
function round(neg: boolean, num: bigint, den: bigint, e2: number): LongDouble {
  // floor(log2(num / den)), exactly.
  let b = bitLength(num) - bitLength(den);
  if (b >= 0 ? num < den << BigInt(b) : num << BigInt(-b) < den) b--;
  let lsb = Math.max(b + e2 - (SIG_BITS - 1), MIN_LSB);
  const shift = lsb - e2;
  let n = num;
  let d = den;
  if (shift >= 0) d <<= BigInt(shift);
  else n <<= BigInt(-shift);
  let q = n / d;
  const twice = (n - q * d) * 2n;
  if (twice > d || (twice === d && (q & 1n) === 1n)) q++;
  if (q === TWO_64) {
    q = TWO_63;
    lsb++;
  }
  if (lsb > MAX_LSB) return neg ? NEG_INF : POS_INF;
  if (q === 0n) return neg ? NEG_ZERO : ZERO;
  return { neg, inf: false, mant: q, exp: lsb };
}

/**
 * Redis's string2ld: glibc strtold on the whole string (decimal or hexadecimal floats, "inf" and
 * "infinity" in any case), refusing empty or too long strings, leading spaces, trailing characters,
 * NaN, and out-of-range values (overflow to infinity, or underflow all the way to zero; subnormal
 * results are accepted). Null when Redis would refuse the string.
 */
export function parseLongDouble(s: string): LongDouble | null {
  if (s.length === 0 || s.length >= MAX_CHARS) return null;
  let neg: boolean;
  let mant: bigint;
  let e2 = 0;
  let den = 1n;
  const dec = DEC_RE.exec(s);
  if (dec) {
    const intDigits = dec[2]!;
    const fracDigits = dec[3] ?? '';
    if (intDigits.length + fracDigits.length === 0) return null;
    neg = dec[1] === '-';
    let digits = intDigits + fracDigits;
    let start = 0;
    while (start < digits.length && digits.charCodeAt(start) === 48) start++;
    if (start === digits.length) return neg ? NEG_ZERO : ZERO;
    let end = digits.length;
    while (digits.charCodeAt(end - 1) === 48) end--;
    digits = digits.slice(start, end);
    // value = digits * 10^e10; the exponent text may be arbitrarily long, so it is a JS number here.
    const e10 =
      (dec[4] === undefined ? 0 : Number(dec[4])) -
      fracDigits.length +
      (intDigits.length + fracDigits.length - end);
    const magnitude = e10 + digits.length; // value is in [10^(magnitude-1), 10^magnitude)
    if (magnitude - 1 >= 4933) return null; // above the largest long double, ~1.19e4932
    if (magnitude <= -4951) return null; // below half the smallest subnormal, ~3.65e-4951
    mant = BigInt(digits);
    if (e10 >= 0) {
      mant *= pow5(e10);
      e2 = e10;
    } else {
      den = pow5(-e10);
      e2 = e10;
    }
  } else {
    const hex = HEX_RE.exec(s);
    if (hex) {
      const intDigits = hex[2]!;
      const fracDigits = hex[3] ?? '';
      if (intDigits.length + fracDigits.length === 0) return null;
      neg = hex[1] === '-';
      mant = BigInt(`0x${intDigits}${fracDigits}`);
      if (mant === 0n) return neg ? NEG_ZERO : ZERO;
      e2 = (hex[4] === undefined ? 0 : Number(hex[4])) - 4 * fracDigits.length;
      const log2 = bitLength(mant) - 1 + e2;
      if (log2 > 16400 || log2 < -16500) return null;
    } else if (INF_RE.test(s)) {
      return s.charCodeAt(0) === 45 ? NEG_INF : POS_INF;
    } else {
      return null;
    }
  }
  const v = round(neg, mant, den, e2);
  // strtold reports ERANGE for overflow and for underflow to zero; string2ld refuses both.
  return v.inf || v.mant === 0n ? null : v;
}

/** a + b in long double arithmetic; null when the sum is NaN (opposite infinities). */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.inf || b.inf) {
    if (a.inf && b.inf && a.neg !== b.neg) return null;
    return a.inf ? a : b;
  }
  if (b.mant === 0n) return a.mant === 0n ? (a.neg && b.neg ? NEG_ZERO : ZERO) : a;
  if (a.mant === 0n) return b;
  const e = Math.min(a.exp, b.exp);
  const x = a.mant << BigInt(a.exp - e);
  const y = b.mant << BigInt(b.exp - e);
  const sum = (a.neg ? -x : x) + (b.neg ? -y : y);
  if (sum === 0n) return ZERO; // exact cancellation is +0 when rounding to nearest
  return sum < 0n ? round(true, -sum, 1n, e) : round(false, sum, 1n, e);
}

/**
 * Redis's ld2string(..., LD_STR_HUMAN): glibc's "%.17Lf" (the exact binary value rounded to 17
 * fraction digits, ties to even), then trailing zeros and a trailing '.' removed, and "-0" shown as
 * "0". Infinities print as "inf" / "-inf".
 */
export function formatLongDoubleHuman(v: LongDouble): string {
  if (v.inf) return v.neg ? '-inf' : 'inf';
  if (v.mant === 0n) return '0';
  const sign = v.neg ? '-' : '';
  if (v.exp >= 0) return sign + (v.mant << BigInt(v.exp)).toString();
  const k = BigInt(-v.exp);
  const x = v.mant * TEN_17;
  let q = x >> k;
  const r = x - (q << k);
  const half = 1n << (k - 1n);
  if (r > half || (r === half && (q & 1n) === 1n)) q++;
  if (q === 0n) return '0';
  const s = q.toString().padStart(FRACTION_DIGITS + 1, '0');
  const int = s.slice(0, s.length - FRACTION_DIGITS);
  let end = s.length;
  while (end > int.length && s.charCodeAt(end - 1) === 48) end--;
  return end === int.length ? sign + int : `${sign + int}.${s.slice(int.length, end)}`;
}
