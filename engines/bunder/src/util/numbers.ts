/** Number parsing and formatting with Redis's exact rules (string2ll, strtod checks, %.17g). */

const INT_RE = /^-?[1-9][0-9]*$/;
const MAX_I64 = 9223372036854775807n;
const MIN_I64 = -9223372036854775808n;

/** Strict 64-bit integer (no spaces, no '+', no leading zeros), as a bigint; null when invalid. */
export function parseI64Big(s: string): bigint | null {
  if (s === '0') return 0n;
  if (s.length === 0 || s.length > 20 || !INT_RE.test(s)) return null;
  const v = BigInt(s);
  return v > MAX_I64 || v < MIN_I64 ? null : v;
}

/**
 * Strict 64-bit integer as a JS number (exact up to 2^53; larger magnitudes are rounded, which only
 * matters for counts and indexes where such values are clamped anyway). Null when invalid.
 */
export function parseI64(s: string): number | null {
  const n = s.length;
  if (n > 0 && n <= 15) {
    let i = 0;
    let neg = false;
    if (s.charCodeAt(0) === 45) {
      neg = true;
      i = 1;
      if (n === 1) return null;
    }
    const first = s.charCodeAt(i);
    if (first === 48) return n === 1 ? 0 : null;
    let v = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return null;
      v = v * 10 + c;
    }
    return neg ? -v : v;
  }
  const big = parseI64Big(s);
  return big === null ? null : Number(big);
}

const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF_RE = /^[+-]?inf(?:inity)?$/i;

/** A double as Redis's getDoubleFromObject accepts it (strtod, no spaces, no NaN). Null when invalid. */
export function parseDouble(s: string): number | null {
  if (FLOAT_RE.test(s)) return Number(s);
  if (INF_RE.test(s)) return s.charCodeAt(0) === 45 ? -Infinity : Infinity;
  return null;
}

/** printf("%.17g"), the way Redis 7.0 formats doubles in replies (d2string). */
function g17(v: number): string {
  let s = v.toExponential(16);
  const e = s.indexOf('e');
  let mant = s.slice(0, e);
  const exp = Number(s.slice(e + 1));
  if (exp < -4 || exp >= 17) {
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${mant}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  s = v.toFixed(Math.max(0, 16 - exp));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** Redis 7.0's d2string: integers print as integers, others as %.17g, infinities as "inf". */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (v > -4503599627370495 && v < 4503599627370496 && Number.isInteger(v)) return String(v);
  return g17(v);
}

/** Clamps a bigint result to int64 or reports overflow. */
export function fitsI64(v: bigint): boolean {
  return v <= MAX_I64 && v >= MIN_I64;
}
