/** Generic key commands: DEL EXISTS TYPE KEYS SCAN RENAME COPY MOVE, the EXPIRE family, OBJECT, … */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { Denque, MutableString, RSet, typeOf, type Value, ZSet } from '../keyspace.js';
import { E, ErrorReply, err, OK, type Reply, SimpleString } from '../reply.js';
import { globMatch } from '../util/glob.js';
import { parseI64 } from '../util/numbers.js';
import { ScanCursors } from '../util/scan.js';
import { type Def, defineAll } from './table.js';
import { cloneValue, eq } from './util.js';

const MAX_MS = 2 ** 63;

const scanCursors = new ScanCursors();

/** OBJECT ENCODING as Redis 7.0 would report it for a value of this shape. */
export function encodingOf(v: Value): string {
  if (typeof v === 'string' || v instanceof MutableString) {
    const s = typeof v === 'string' ? v : v.toString();
    if (s.length <= 20 && parseI64(s) !== null) return 'int';
    return s.length <= 44 && typeof v === 'string' ? 'embstr' : 'raw';
  }
  if (v instanceof Denque) return 'quicklist';
  if (v instanceof Map) {
    if (v.size > 128) return 'hashtable';
    for (const [f, x] of v) if (f.length > 64 || x.length > 64) return 'hashtable';
    return 'listpack';
  }
  if (v instanceof RSet) {
    if (v.size > 512) return 'hashtable';
    for (const m of v) if (m.length > 20 || parseI64(m) === null) return 'hashtable';
    return 'intset';
  }
  if (v instanceof ZSet) {
    if (v.size > 128) return 'skiplist';
    for (const m of v.dict.keys()) if (m.length > 64) return 'skiplist';
    return 'listpack';
  }
  return 'stream';
}

function del(c: Client, argv: string[], e: Engine): Reply {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (c.db.delete(argv[i]!)) {
      n++;
      e.changed(c, argv[i]!, 'del', 'g');
    }
  }
  return n;
}

type ExpireUnit = 1 | 1000;

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX XX GT LT, as Redis 7.0's expireGenericCommand. */
function expireGeneric(relative: boolean, unit: ExpireUnit) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const key = argv[1]!;
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (let i = 3; i < argv.length; i++) {
      const o = argv[i]!.toLowerCase();
      if (o === 'nx') nx = true;
      else if (o === 'xx') xx = true;
      else if (o === 'gt') gt = true;
      else if (o === 'lt') lt = true;
      else return err(`ERR Unsupported option ${argv[i]}`);
    }
    if (nx && (xx || gt || lt))
      return err('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) return err('ERR GT and LT options at the same time are not compatible');
    let when = parseI64(argv[2]!);
    if (when === null) return E.NOT_INT;
    const name = argv[0]!.toLowerCase();
    const invalid = err(`ERR invalid expire time in '${name}' command`);
    if (unit === 1000) {
      if (when > MAX_MS / 1000 || when < -MAX_MS / 1000) return invalid;
      when *= 1000;
    }
    if (relative) {
      if (when > MAX_MS - c.db.now) return invalid;
      when += c.db.now;
    }
    if (!c.db.has(key)) return 0;
    const current = c.db.getExpire(key) ?? -1;
    if (nx && current !== -1) return 0;
    if (xx && current === -1) return 0;
    if (gt && (current === -1 || when <= current)) return 0;
    if (lt && current !== -1 && when >= current) return 0;
    if (when <= c.db.now) {
      c.db.delete(key);
      e.propagateAs = [['DEL', key]];
      e.changed(c, key, 'del', 'g');
      return 1;
    }
    c.db.setExpire(key, when);
    e.propagateAs = [['PEXPIREAT', key, String(when)]];
    e.changed(c, key, 'expire', 'g');
    return 1;
  };
}

function ttlGeneric(ms: boolean, absolute: boolean) {
  return (c: Client, argv: string[]): Reply => {
    const key = argv[1]!;
    if (!c.db.has(key)) return -2;
    const at = c.db.getExpire(key);
    if (at === undefined) return -1;
    if (absolute) return ms ? at : Math.floor(at / 1000);
    const left = Math.max(0, at - c.db.now);
    return ms ? left : Math.floor((left + 500) / 1000);
  };
}

function rename(nx: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const src = argv[1]!;
    const dst = argv[2]!;
    const v = c.db.get(src);
    if (v === undefined) return E.NO_KEY;
    if (src === dst) return nx ? 0 : OK;
    if (nx && c.db.has(dst)) return 0;
    const ttl = c.db.getExpire(src);
    c.db.delete(dst);
    c.db.delete(src);
    c.db.add(dst, v);
    if (ttl !== undefined) c.db.setExpire(dst, ttl);
    e.changed(c, src, 'rename_from', 'g');
    e.changed(c, dst, 'rename_to', 'g', 0);
    return nx ? 1 : OK;
  };
}

function scanGeneric(c: Client, argv: string[]): Reply {
  const cursor = parseCursor(argv[1]!);
  if (cursor === null) return err('ERR invalid cursor');
  const opts = parseScanOptions(argv, 2, true);
  if (opts instanceof ErrorReply) return opts;
  const db = c.db;
  const it = scanCursors.resume(cursor, () => db.dict.keys());
  if (!it) return ['0', []];
  const out: string[] = [];
  let examined = 0;
  let done = false;
  while (examined < opts.count) {
    const step = it.next();
    if (step.done) {
      done = true;
      break;
    }
    examined++;
    const key = step.value;
    const v = db.get(key);
    if (v === undefined) continue;
    if (opts.match !== null && !globMatch(opts.match, key)) continue;
    if (opts.type !== null && typeOf(v) !== opts.type) continue;
    out.push(key);
  }
  return [done ? '0' : String(scanCursors.park(it)), out];
}

export function parseCursor(s: string): number | null {
  return /^\d+$/.test(s) && s.length < 21 ? Number(s) : null;
}

export interface ScanOptions {
  match: string | null;
  count: number;
  type: string | null;
  noValues: boolean;
}

export function parseScanOptions(argv: string[], from: number, allowType: boolean): ScanOptions | ErrorReply {
  const o: ScanOptions = { match: null, count: 10, type: null, noValues: false };
  for (let i = from; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    const more = i + 1 < argv.length;
    if (a === 'count' && more) {
      const n = parseI64(argv[++i]!);
      if (n === null) return E.NOT_INT;
      if (n < 1) return E.SYNTAX;
      o.count = n;
    } else if (a === 'match' && more) {
      o.match = argv[++i]!;
      if (o.match === '*') o.match = null;
    } else if (a === 'type' && more && allowType) {
      o.type = argv[++i]!.toLowerCase();
    } else {
      return E.SYNTAX;
    }
  }
  return o;
}

function copy(c: Client, argv: string[], e: Engine): Reply {
  const src = argv[1]!;
  const dst = argv[2]!;
  let dbIndex = c.dbIndex;
  let replace = false;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    if (a === 'replace') replace = true;
    else if (a === 'db' && i + 1 < argv.length) {
      const n = parseI64(argv[++i]!);
      if (n === null) return E.NOT_INT;
      if (n < 0 || n >= e.ks.dbs.length) return E.DB_RANGE;
      dbIndex = n;
    } else return E.SYNTAX;
  }
  if (src === dst && dbIndex === c.dbIndex) return E.SAME_OBJECT;
  const v = c.db.get(src);
  if (v === undefined) return 0;
  const target = e.ks.dbs[dbIndex]!;
  if (target.has(dst)) {
    if (!replace) return 0;
    target.delete(dst);
  }
  target.add(dst, cloneValue(v));
  const ttl = c.db.getExpire(src);
  if (ttl !== undefined) target.setExpire(dst, ttl);
  e.dirty++;
  e.signalModified(dbIndex, dst);
  e.notify('g', 'copy_to', dst, dbIndex);
  return 1;
}

function move(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const n = parseI64(argv[2]!);
  if (n === null) return E.NOT_INT;
  if (n < 0 || n >= e.ks.dbs.length) return E.DB_RANGE;
  if (n === c.dbIndex) return E.SAME_OBJECT;
  const v = c.db.get(key);
  if (v === undefined) return 0;
  const target = e.ks.dbs[n]!;
  if (target.has(key)) return 0;
  const ttl = c.db.getExpire(key);
  c.db.delete(key);
  target.add(key, v);
  if (ttl !== undefined) target.setExpire(key, ttl);
  e.changed(c, key, 'move_from', 'g');
  e.signalModified(n, key);
  e.notify('g', 'move_to', key, n);
  return 1;
}

function object(c: Client, argv: string[], e: Engine): Reply {
  const sub = argv[1]!.toLowerCase();
  if (sub === 'help') {
    return [
      'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'ENCODING <key>',
      '    Return the kind of internal representation used in order to store the value',
      '    associated with a <key>.',
      'FREQ <key>',
      '    Return the access frequency index of the <key>. The returned integer is',
      '    proportional to the logarithm of the recent access frequency of the key.',
      'REFCOUNT <key>',
      '    Return the number of references of the value associated with the specified',
      '    <key>.',
      'HELP',
      '    Print this help.',
    ].map((s) => new SimpleString(s));
  }
  // OBJECT does not count as an access (Redis's LOOKUP_NOTOUCH)
  const v = c.db.peek(argv[2] ?? '');
  if (v === undefined) return null;
  switch (sub) {
    case 'encoding':
      return encodingOf(v);
    case 'refcount':
      return typeof v === 'string' && encodingOf(v) === 'int' && Number(v) >= 0 && Number(v) < 10000
        ? 2147483647
        : 1;
    case 'idletime': {
      const ks = e.ks;
      if (ks.tracking === 'lfu') {
        return err(
          'ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
        );
      }
      if (ks.tracking === null) {
        // Idle times are kept from the first OBJECT IDLETIME on (see trackingFor): every key starts now.
        e.idleTimesWanted = true;
        ks.setTracking('idle');
      }
      const at = c.db.access?.get(argv[2]!);
      return at === undefined ? 0 : Math.max(0, Math.floor((ks.now - at) / 1000));
    }
    default:
      if (e.ks.tracking === 'lfu') {
        const packed = c.db.access?.get(argv[2]!);
        return packed === undefined ? 5 : e.ks.lfuCounter(packed);
      }
      return err(
        'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
      );
  }
}

const defs: Record<string, Def> = {
  del: { arity: -2, flags: 'write', keys: [1, -1, 1], group: 'generic', handler: del },
  unlink: {
    arity: -2,
    flags: 'write fast',
    keys: [1, -1, 1],
    group: 'generic',
    since: '4.0.0',
    handler: del,
  },
  exists: {
    arity: -2,
    flags: 'readonly fast',
    keys: [1, -1, 1],
    group: 'generic',
    handler: (c, argv) => {
      let n = 0;
      for (let i = 1; i < argv.length; i++) if (c.db.has(argv[i]!)) n++;
      return n;
    },
  },
  touch: {
    arity: -2,
    flags: 'readonly fast',
    keys: [1, -1, 1],
    group: 'generic',
    since: '3.2.1',
    handler: (c, argv) => {
      let n = 0;
      for (let i = 1; i < argv.length; i++) if (c.db.has(argv[i]!)) n++;
      return n;
    },
  },
  type: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: (c, argv) => {
      const v = c.db.get(argv[1]!);
      return new SimpleString(v === undefined ? 'none' : typeOf(v));
    },
  },
  keys: {
    arity: 2,
    flags: 'readonly',
    group: 'generic',
    handler: (c, argv) => {
      const pattern = argv[1]!;
      const all = pattern === '*';
      const out: string[] = [];
      const db = c.db;
      for (const k of db.dict.keys()) {
        if ((all || globMatch(pattern, k)) && db.get(k) !== undefined) out.push(k);
      }
      return out;
    },
  },
  scan: { arity: -2, flags: 'readonly', group: 'generic', since: '2.8.0', handler: scanGeneric },
  randomkey: {
    arity: 1,
    flags: 'readonly',
    group: 'generic',
    handler: (c) => c.db.randomKey(),
  },
  rename: { arity: 3, flags: 'write', keys: [1, 2, 1], group: 'generic', handler: rename(false) },
  renamenx: { arity: 3, flags: 'write fast', keys: [1, 2, 1], group: 'generic', handler: rename(true) },
  copy: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, 2, 1],
    group: 'generic',
    since: '6.2.0',
    handler: copy,
  },
  move: { arity: 3, flags: 'write fast', keys: [1, 1, 1], group: 'generic', handler: move },
  expire: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: expireGeneric(true, 1000),
  },
  pexpire: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: expireGeneric(true, 1),
  },
  expireat: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: expireGeneric(false, 1000),
  },
  pexpireat: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: expireGeneric(false, 1),
  },
  ttl: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: ttlGeneric(false, false),
  },
  pttl: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: ttlGeneric(true, false),
  },
  expiretime: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'generic',
    since: '7.0.0',
    handler: ttlGeneric(false, true),
  },
  pexpiretime: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'generic',
    since: '7.0.0',
    handler: ttlGeneric(true, true),
  },
  persist: {
    arity: 2,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'generic',
    handler: (c, argv, e) => {
      const key = argv[1]!;
      if (!c.db.has(key) || !c.db.persist(key)) return 0;
      e.changed(c, key, 'persist', 'g');
      return 1;
    },
  },
  object: {
    arity: -2,
    group: 'generic',
    handler: object,
    sub: {
      encoding: { arity: 3, flags: 'readonly', keys: [2, 2, 1], handler: object },
      refcount: { arity: 3, flags: 'readonly', keys: [2, 2, 1], handler: object },
      freq: { arity: 3, flags: 'readonly', keys: [2, 2, 1], handler: object },
      idletime: { arity: 3, flags: 'readonly', keys: [2, 2, 1], handler: object },
      help: { arity: 2, flags: 'loading stale', handler: object },
    },
  },
};

export const keyCommands = defineAll(defs);
export { eq };
