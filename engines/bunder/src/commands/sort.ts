/**
 * SORT and SORT_RO as Redis 7.0's sort.c: numeric (strtod) or ALPHA ordering, ASC/DESC, LIMIT, BY with
 * `*` patterns and `->field` hash lookups (a BY pattern without `*` means "don't sort"), GET with `#`,
 * and STORE into a list. Numeric ties are broken by byte order, so results are deterministic.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { Denque, MutableString, RSet, ZSet } from '../keyspace.js';
import { E, err, type Reply } from '../reply.js';
import { parseI64 } from '../util/numbers.js';
import { type Def, defineAll } from './table.js';
import { eq } from './util.js';

/** lookupKeyByPattern: `#` is the element itself; `prefix*suffix` a string key; `…->field` a hash field. */
function byPattern(c: Client, pattern: string, subst: string): string | null {
  if (pattern === '#') return subst;
  const star = pattern.indexOf('*');
  if (star < 0) return null;
  const arrow = pattern.indexOf('->', star + 1);
  const hasField = arrow >= 0 && arrow + 2 < pattern.length;
  const keyPart = hasField ? pattern.slice(0, arrow) : pattern;
  const key = keyPart.slice(0, star) + subst + keyPart.slice(star + 1);
  const v = c.db.get(key);
  if (v === undefined) return null;
  if (hasField) {
    if (!(v instanceof Map)) return null;
    return v.get(pattern.slice(arrow + 2)) ?? null;
  }
  if (typeof v === 'string') return v;
  if (v instanceof MutableString) return v.toString();
  return null;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITE = /^[+-]?inf(?:inity)?$/i;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]+)$/;

/** strtod with SORT's checks: the whole string must be consumed, no ERANGE, no NaN. */
function sortScore(s: string): number | null {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  const t = s.slice(i);
  if (t === '') return i === 0 ? 0 : null; // strtod("") consumes nothing and leaves "" behind
  if (INFINITE.test(t)) return t[0] === '-' ? -Infinity : Infinity;
  const hex = HEX.exec(t);
  if (hex) return (hex[1] === '-' ? -1 : 1) * Number.parseInt(hex[2]!, 16);
  if (!DECIMAL.test(t)) return null;
  const v = Number(t);
  if (!Number.isFinite(v)) return null; // overflow: ERANGE
  if (v !== 0 && Math.abs(v) < 2.2250738585072014e-308) return null; // underflow: ERANGE
  if (v === 0 && /[1-9]/.test(t.replace(/[eE].*$/, ''))) return null;
  return v;
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Item {
  obj: string;
  score: number;
  cmp: string | null;
}

function sortGeneric(readonly: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    let desc = false;
    let alpha = false;
    let limitStart = 0;
    let limitCount = -1;
    let dontsort = false;
    let sortby: string | null = null;
    let storekey: string | null = null;
    const gets: string[] = [];
    for (let j = 2; j < argv.length; j++) {
      const left = argv.length - j - 1;
      const a = argv[j]!;
      if (eq(a, 'asc')) desc = false;
      else if (eq(a, 'desc')) desc = true;
      else if (eq(a, 'alpha')) alpha = true;
      else if (eq(a, 'limit') && left >= 2) {
        const s = parseI64(argv[j + 1]!);
        const n = parseI64(argv[j + 2]!);
        if (s === null || n === null) return E.NOT_INT;
        limitStart = s;
        limitCount = n;
        j += 2;
      } else if (!readonly && eq(a, 'store') && left >= 1) storekey = argv[++j]!;
      else if (eq(a, 'by') && left >= 1) {
        sortby = argv[++j]!;
        if (!sortby.includes('*')) dontsort = true;
      } else if (eq(a, 'get') && left >= 1) gets.push(argv[++j]!);
      else return E.SYNTAX;
    }
    const v = c.db.get(argv[1]!);
    if (v !== undefined && !(v instanceof Denque) && !(v instanceof RSet) && !(v instanceof ZSet)) {
      return E.WRONGTYPE;
    }
    // An unsorted set would come out in hash order; when it is stored, Redis sorts it ALPHA instead.
    if (dontsort && v instanceof RSet && storekey !== null) {
      dontsort = false;
      alpha = true;
      sortby = null;
    }
    let elements: string[];
    if (v === undefined) elements = [];
    else if (v instanceof Denque) elements = v.toArray();
    else if (v instanceof RSet) elements = [...v.members()];
    else {
      elements = [];
      for (let n = (v as ZSet).first(); n; n = ZSet.next(n)) elements.push(n.member);
    }
    const len = elements.length;
    let start = Math.max(limitStart, 0);
    let end = limitCount < 0 ? len - 1 : start + limitCount - 1;
    if (start >= len) {
      start = len - 1;
      end = len - 2;
    }
    if (end >= len) end = len - 1;
    if (dontsort && desc && !(v instanceof RSet)) elements.reverse();
    const items: Item[] = elements.map((obj) => ({ obj, score: 0, cmp: null }));
    let conversionError = false;
    if (!dontsort) {
      for (const it of items) {
        let by: string | null;
        if (sortby !== null) {
          by = byPattern(c, sortby, it.obj);
          if (by === null) continue;
        } else by = it.obj;
        if (alpha) {
          if (sortby !== null) it.cmp = by;
        } else {
          const s = sortScore(by);
          if (s === null) conversionError = true;
          else it.score = s;
        }
      }
      const sign = desc ? -1 : 1;
      items.sort((a, b) => {
        let cmp: number;
        if (!alpha) cmp = a.score > b.score ? 1 : a.score < b.score ? -1 : byteCompare(a.obj, b.obj);
        else if (sortby !== null) {
          if (a.cmp === null || b.cmp === null) cmp = a.cmp === b.cmp ? 0 : a.cmp === null ? -1 : 1;
          else cmp = byteCompare(a.cmp, b.cmp);
        } else cmp = byteCompare(a.obj, b.obj);
        return sign * cmp;
      });
    }
    if (conversionError) return err("ERR One or more scores can't be converted into double");
    const picked = start <= end ? items.slice(start, end + 1) : [];
    if (storekey === null) {
      const out: Reply[] = [];
      for (const it of picked) {
        if (gets.length === 0) out.push(it.obj);
        for (const g of gets) out.push(byPattern(c, g, it.obj));
      }
      return out;
    }
    const list = new Denque<string>();
    for (const it of picked) {
      if (gets.length === 0) list.push(it.obj);
      for (const g of gets) list.push(byPattern(c, g, it.obj) ?? '');
    }
    if (list.length > 0) {
      c.db.set(storekey, list);
      e.changed(c, storekey, 'sortstore', 'l', list.length);
      e.signalReady(c.dbIndex, storekey);
    } else if (c.db.delete(storekey)) {
      e.changed(c, storekey, 'del', 'g');
    }
    return list.length;
  };
}

const defs: Record<string, Def> = {
  sort: {
    arity: -2,
    flags: 'write denyoom movablekeys',
    keys: [1, 1, 1],
    group: 'generic',
    handler: sortGeneric(false),
  },
  sort_ro: {
    arity: -2,
    flags: 'readonly movablekeys',
    keys: [1, 1, 1],
    group: 'generic',
    since: '7.0.0',
    handler: sortGeneric(true),
  },
};

export const sortCommands = defineAll(defs);
