/**
 * The string formats a schema may name. ajv ships none (they live in ajv-formats); bundoc supports a
 * small fixed set, and any other format is rejected when the schema is set rather than ignored.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Deliberately loose (one @, a dot in the domain, no spaces): exact RFC 5322 checking rejects real addresses.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

/** RFC 3339 full-date: 2024-02-29. */
export function isDate(s: string): boolean {
  const m = DATE.exec(s);
  return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** RFC 3339 date-time with a mandatory offset: 2024-02-29T12:00:00.5Z, 2024-02-29T12:00:00+02:00. */
export function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (m === null || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
  const [h, min, sec] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (h > 23 || min > 59 || sec > 60) return false; // 60: a leap second
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

export const FORMATS: { readonly [name: string]: (s: string) => boolean } = {
  date: isDate,
  'date-time': isDateTime,
  uuid: (s) => UUID.test(s),
  email: (s) => s.length <= 254 && EMAIL.test(s),
};
