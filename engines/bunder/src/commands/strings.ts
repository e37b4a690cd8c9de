/** String commands: GET/SET family, counters, ranges, LCS and bit operations. */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { MutableString } from '../keyspace.js';
import { E, ErrorReply, err, MapReply, OK, type Reply } from '../reply.js';
import { addLongDouble, formatLongDoubleHuman, LD_ZERO, parseLongDouble } from '../util/long-double.js';
import { fitsI64, parseI64, parseI64Big } from '../util/numbers.js';
import { type Def, defineAll } from './table.js';
import { getString, intArg } from './util.js';

const MAX_MS = 2 ** 63;
const MAX_STRING = 512 * 1024 * 1024;

/** Parses EX/PX/EXAT/PXAT (and KEEPTTL/PERSIST where allowed) into an absolute ms time. */
function expireFrom(c: Client, kind: string, value: string, cmd: string): number | ErrorReply {
  const n = parseI64(value);
  if (n === null) return E.NOT_INT;
  const invalid = err(`ERR invalid expire time in '${cmd}' command`);
  if (n <= 0) return invalid;
  let ms = n;
  if (kind === 'ex' || kind === 'exat') {
    if (n > MAX_MS / 1000) return invalid;
    ms = n * 1000;
  }
  if (kind === 'ex' || kind === 'px') {
    if (ms > MAX_MS - c.db.now) return invalid;
    ms += c.db.now;
  }
  return ms;
}

function set(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const value = argv[2]!;
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let expKind = '';
  let expValue = '';
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    const next = i + 1 < argv.length;
    if (a === 'nx' && !xx) nx = true;
    else if (a === 'xx' && !nx) xx = true;
    else if (a === 'get') get = true;
    else if (a === 'keepttl' && expKind === '') keepTtl = true;
    else if (
      (a === 'ex' || a === 'px' || a === 'exat' || a === 'pxat') &&
      !keepTtl &&
      expKind === '' &&
      next
    ) {
      expKind = a;
      expValue = argv[++i]!;
    } else return E.SYNTAX;
  }
  let at = -1;
  if (expKind !== '') {
    const r = expireFrom(c, expKind, expValue, 'set');
    if (r instanceof ErrorReply) return r;
    at = r;
  }
  let old: string | undefined;
  if (get) {
    const o = getString(c, key);
    if (o instanceof ErrorReply) return o;
    old = o;
  }
  const exists = get ? old !== undefined : nx || xx ? c.db.has(key) : false;
  if ((nx && exists) || (xx && !exists)) return get ? (old ?? null) : null;
  c.db.set(key, value, keepTtl);
  if (at >= 0) {
    c.db.setExpire(key, at);
    if (expKind !== 'pxat') {
      const args = ['SET', key, value, 'PXAT', String(at)];
      if (get) args.push('GET');
      e.propagateAs = [args];
    }
  }
  e.changed(c, key, 'set', '$');
  if (at >= 0) e.notify('g', 'expire', key, c.dbIndex);
  return get ? (old ?? null) : OK;
}

function setWithExpire(unit: 'ex' | 'px', cmd: string) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const key = argv[1]!;
    const at = expireFrom(c, unit, argv[2]!, cmd);
    if (at instanceof ErrorReply) return at;
    c.db.set(key, argv[3]!);
    c.db.setExpire(key, at);
    e.propagateAs = [['SET', key, argv[3]!, 'PXAT', String(at)]];
    e.changed(c, key, 'set', '$');
    e.notify('g', 'expire', key, c.dbIndex);
    return OK;
  };
}

function getex(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  let kind = '';
  let value = '';
  let persist = false;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    if (
      (a === 'ex' || a === 'px' || a === 'exat' || a === 'pxat') &&
      kind === '' &&
      !persist &&
      i + 1 < argv.length
    ) {
      kind = a;
      value = argv[++i]!;
    } else if (a === 'persist' && kind === '') persist = true;
    else return E.SYNTAX;
  }
  const v = getString(c, key);
  if (v === undefined || v instanceof ErrorReply) return v ?? null;
  let at = -1;
  if (kind !== '') {
    const r = expireFrom(c, kind, value, 'getex');
    if (r instanceof ErrorReply) return r;
    at = r;
  }
  if (at >= 0) {
    if (at <= c.db.now) {
      c.db.delete(key);
      e.propagateAs = [['DEL', key]];
      e.changed(c, key, 'del', 'g');
    } else {
      c.db.setExpire(key, at);
      e.propagateAs = [['PEXPIREAT', key, String(at)]];
      e.changed(c, key, 'expire', 'g');
    }
  } else if (persist && c.db.persist(key)) {
    e.propagateAs = [['PERSIST', key]];
    e.changed(c, key, 'persist', 'g');
  }
  return v;
}

function incrBy(c: Client, e: Engine, key: string, by: bigint | number, _cmd: string): Reply {
  const v = getString(c, key);
  if (v instanceof ErrorReply) return v;
  let cur: number | bigint = 0;
  if (v !== undefined) {
    const n = v.length <= 15 ? parseI64(v) : parseI64Big(v);
    if (n === null) return E.NOT_INT;
    cur = n;
  }
  let result: number | bigint;
  if (
    typeof cur === 'number' &&
    typeof by === 'number' &&
    Math.abs(cur) < 2 ** 52 &&
    Math.abs(by) < 2 ** 52
  ) {
    result = cur + by;
  } else {
    const big = BigInt(cur) + BigInt(by);
    if (!fitsI64(big)) return E.OVERFLOW;
    result = Number.isSafeInteger(Number(big)) ? Number(big) : big;
  }
  c.db.set(key, String(result), true);
  e.changed(c, key, 'incrby', '$');
  return result;
}

function incrByCommand(sign: 1 | -1, fixed: number | null, cmd: string) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    if (fixed !== null) return incrBy(c, e, argv[1]!, fixed * sign, cmd);
    const s = argv[2]!;
    const n = s.length <= 15 ? parseI64(s) : parseI64Big(s);
    if (n === null) return E.NOT_INT;
    if (sign === -1 && typeof n === 'bigint' && n === -9223372036854775808n) {
      return err('ERR decrement would overflow');
    }
    const by = typeof n === 'bigint' ? -n * BigInt(-sign) : n * sign;
    return incrBy(c, e, argv[1]!, by, cmd);
  };
}

function incrByFloat(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const v = getString(c, key);
  if (v instanceof ErrorReply) return v;
  const cur = v === undefined ? LD_ZERO : parseLongDouble(v);
  if (cur === null) return E.NOT_FLOAT;
  const by = parseLongDouble(argv[2]!);
  if (by === null) return E.NOT_FLOAT;
  const r = addLongDouble(cur, by);
  if (r === null || r.inf) return E.NAN;
  const text = formatLongDoubleHuman(r);
  c.db.set(key, text, true);
  e.propagateAs = [['SET', key, text, 'KEEPTTL']];
  e.changed(c, key, 'incrbyfloat', '$');
  return text;
}

function getrange(c: Client, argv: string[]): Reply {
  const start = intArg(argv[2]!);
  if (start instanceof ErrorReply) return start;
  const end = intArg(argv[3]!);
  if (end instanceof ErrorReply) return end;
  const v = getString(c, argv[1]!);
  if (v instanceof ErrorReply) return v;
  if (v === undefined) return '';
  if (start < 0 && end < 0 && start > end) return '';
  // GETRANGE clamps a negative end to 0 (unlike LRANGE), so "abc" 0 -5 is "a".
  const len = v.length;
  const s = start < 0 ? Math.max(0, len + start) : start;
  let e = end < 0 ? Math.max(0, len + end) : end;
  if (e >= len) e = len - 1;
  if (s > e || len === 0) return '';
  return v.slice(s, e + 1);
}

/** Turns a key's string into an editable buffer (SETRANGE, SETBIT, BITFIELD). */
function mutable(c: Client, key: string): MutableString | undefined | ErrorReply {
  const v = c.db.get(key);
  if (v === undefined) return undefined;
  if (v instanceof MutableString) return v;
  if (typeof v !== 'string') return E.WRONGTYPE;
  const m = new MutableString(v);
  c.db.set(key, m, true);
  return m;
}

function setrange(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const offset = intArg(argv[2]!);
  if (offset instanceof ErrorReply) return offset;
  const value = argv[3]!;
  if (offset < 0) return err('ERR offset is out of range');
  const existing = c.db.get(key);
  if (existing !== undefined && typeof existing !== 'string' && !(existing instanceof MutableString)) {
    return E.WRONGTYPE;
  }
  if (value.length === 0) {
    if (existing === undefined) return 0;
    return typeof existing === 'string' ? existing.length : existing.len;
  }
  if (offset + value.length > MAX_STRING) return E.STRING_TOO_BIG;
  let m = mutable(c, key) as MutableString | undefined;
  if (!m) {
    m = new MutableString('', offset + value.length);
    c.db.set(key, m);
  }
  m.grow(offset + value.length);
  m.buf.write(value, offset, 'latin1');
  e.changed(c, key, 'setrange', '$');
  return m.len;
}

function append(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const v = c.db.get(key);
  let len: number;
  if (v === undefined) {
    c.db.set(key, argv[2]!);
    len = argv[2]!.length;
  } else if (typeof v === 'string') {
    if (v.length + argv[2]!.length > MAX_STRING) return E.STRING_TOO_BIG;
    const next = v + argv[2]!;
    c.db.set(key, next, true);
    len = next.length;
  } else if (v instanceof MutableString) {
    if (v.len + argv[2]!.length > MAX_STRING) return E.STRING_TOO_BIG;
    v.append(argv[2]!);
    len = v.len;
  } else return E.WRONGTYPE;
  e.changed(c, key, 'append', '$');
  return len;
}

function lcs(c: Client, argv: string[]): Reply {
  const av = c.db.get(argv[1]!);
  const bv = c.db.get(argv[2]!);
  const isStr = (v: unknown) => v === undefined || typeof v === 'string' || v instanceof MutableString;
  if (!isStr(av) || !isStr(bv)) return err('ERR The specified keys must contain string values');
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    if (a === 'idx') getIdx = true;
    else if (a === 'len') getLen = true;
    else if (a === 'withmatchlen') withMatchLen = true;
    else if (a === 'minmatchlen' && i + 1 < argv.length) {
      const n = intArg(argv[++i]!);
      if (n instanceof ErrorReply) return n;
      minMatchLen = Math.max(0, n);
    } else return E.SYNTAX;
  }
  if (getIdx && getLen) return err('ERR If you want both the length and indexes, please just use IDX.');
  const a = av === undefined ? '' : String(av);
  const b = bv === undefined ? '' : String(bv);
  const cells = (a.length + 1) * (b.length + 1);
  if (cells > 2 ** 28)
    return err('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  const w = b.length + 1;
  const dp = new Uint32Array(cells);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i * w + j] =
        a.charCodeAt(i - 1) === b.charCodeAt(j - 1)
          ? dp[(i - 1) * w + j - 1]! + 1
          : Math.max(dp[(i - 1) * w + j]!, dp[i * w + j - 1]!);
    }
  }
  const total = dp[a.length * w + b.length]!;
  if (getLen) return total;
  // Walk back from the end, collecting the LCS and (for IDX) the matching ranges, as Redis does.
  const out: string[] = new Array(total);
  let idx = total;
  let i = a.length;
  let j = b.length;
  const matches: Reply[] = [];
  let arange = -1;
  let brange = -1;
  let aend = -1;
  let bend = -1;
  const emit = () => {
    const len = aend - arange + 1;
    if (len >= minMatchLen) {
      const m: Reply[] = [
        [arange, aend],
        [brange, bend],
      ];
      if (withMatchLen) m.push(len);
      matches.push(m);
    }
  };
  while (i > 0 && j > 0) {
    let emitRange = false;
    if (a.charCodeAt(i - 1) === b.charCodeAt(j - 1)) {
      out[--idx] = a[i - 1]!;
      if (arange === -1) {
        arange = aend = i - 1;
        brange = bend = j - 1;
      } else if (arange === i && brange === j) {
        arange--;
        brange--;
      } else emitRange = true;
      if (arange === 0 || brange === 0) emitRange = true;
      i--;
      j--;
    } else {
      const up = dp[(i - 1) * w + j]!;
      const left = dp[i * w + j - 1]!;
      if (up > left) i--;
      else j--;
      if (arange !== -1) emitRange = true;
    }
    if (emitRange) {
      emit();
      arange = -1;
    }
  }
  if (!getIdx) return out.join('');
  return new MapReply(['matches', matches, 'len', total]);
}

const defs: Record<string, Def> = {
  get: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: (c, argv, e) => {
      const v = getString(c, argv[1]!);
      if (v === undefined) {
        e.stats.keyspaceMisses++;
        return null;
      }
      if (!(v instanceof ErrorReply)) e.stats.keyspaceHits++;
      return v;
    },
  },
  set: { arity: -3, flags: 'write denyoom', keys: [1, 1, 1], group: 'string', handler: set },
  setnx: {
    arity: 3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: (c, argv, e) => {
      if (c.db.has(argv[1]!)) return 0;
      c.db.set(argv[1]!, argv[2]!);
      e.changed(c, argv[1]!, 'set', '$');
      return 1;
    },
  },
  setex: {
    arity: 4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.0.0',
    handler: setWithExpire('ex', 'setex'),
  },
  psetex: {
    arity: 4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.6.0',
    handler: setWithExpire('px', 'psetex'),
  },
  getset: {
    arity: 3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: (c, argv, e) => {
      const old = getString(c, argv[1]!);
      if (old instanceof ErrorReply) return old;
      c.db.set(argv[1]!, argv[2]!);
      e.changed(c, argv[1]!, 'set', '$');
      return old ?? null;
    },
  },
  getdel: {
    arity: 2,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'string',
    since: '6.2.0',
    handler: (c, argv, e) => {
      const old = getString(c, argv[1]!);
      if (old === undefined || old instanceof ErrorReply) return old ?? null;
      c.db.delete(argv[1]!);
      e.changed(c, argv[1]!, 'del', 'g');
      return old;
    },
  },
  getex: { arity: -2, flags: 'write fast', keys: [1, 1, 1], group: 'string', since: '6.2.0', handler: getex },
  mget: {
    arity: -2,
    flags: 'readonly fast',
    keys: [1, -1, 1],
    group: 'string',
    handler: (c, argv) => {
      const out: Reply[] = new Array(argv.length - 1);
      for (let i = 1; i < argv.length; i++) {
        const v = getString(c, argv[i]!);
        out[i - 1] = v === undefined || v instanceof ErrorReply ? null : v;
      }
      return out;
    },
  },
  mset: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, -1, 2],
    group: 'string',
    handler: (c, argv, e) => {
      if (argv.length % 2 === 0) return err("ERR wrong number of arguments for 'mset' command");
      for (let i = 1; i < argv.length; i += 2) {
        c.db.set(argv[i]!, argv[i + 1]!);
        e.changed(c, argv[i]!, 'set', '$');
      }
      return OK;
    },
  },
  msetnx: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, -1, 2],
    group: 'string',
    handler: (c, argv, e) => {
      if (argv.length % 2 === 0) return err("ERR wrong number of arguments for 'msetnx' command");
      for (let i = 1; i < argv.length; i += 2) if (c.db.has(argv[i]!)) return 0;
      for (let i = 1; i < argv.length; i += 2) {
        c.db.set(argv[i]!, argv[i + 1]!);
        e.changed(c, argv[i]!, 'set', '$');
      }
      return 1;
    },
  },
  append: {
    arity: 3,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.0.0',
    handler: append,
  },
  strlen: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.2.0',
    handler: (c, argv) => {
      const v = c.db.get(argv[1]!);
      if (v === undefined) return 0;
      if (typeof v === 'string') return v.length;
      if (v instanceof MutableString) return v.len;
      return E.WRONGTYPE;
    },
  },
  incr: {
    arity: 2,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: incrByCommand(1, 1, 'incr'),
  },
  decr: {
    arity: 2,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: incrByCommand(-1, 1, 'decr'),
  },
  incrby: {
    arity: 3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: incrByCommand(1, null, 'incrby'),
  },
  decrby: {
    arity: 3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    handler: incrByCommand(-1, null, 'decrby'),
  },
  incrbyfloat: {
    arity: 3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.6.0',
    handler: incrByFloat,
  },
  getrange: {
    arity: 4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.4.0',
    handler: getrange,
  },
  substr: { arity: 4, flags: 'readonly', keys: [1, 1, 1], group: 'string', handler: getrange },
  setrange: {
    arity: 4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'string',
    since: '2.2.0',
    handler: setrange,
  },
  lcs: { arity: -3, flags: 'readonly', keys: [1, 2, 1], group: 'string', since: '7.0.0', handler: lcs },
};

export const stringCommands = defineAll(defs);
export { mutable };
