/** Hash commands over a Map (insertion ordered, like Redis's listpack for small hashes). */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import type { HashValue } from '../keyspace.js';
import { E, ErrorReply, err, MapReply, OK, type Reply } from '../reply.js';
import { globMatch } from '../util/glob.js';
import { addLongDouble, formatLongDoubleHuman, LD_ZERO, parseLongDouble } from '../util/long-double.js';
import { fitsI64, parseI64, parseI64Big } from '../util/numbers.js';
import { ScanCursors } from '../util/scan.js';
import { parseCursor, parseScanOptions } from './keys.js';
import { type Def, defineAll } from './table.js';
import { getHash } from './util.js';

const cursors = new ScanCursors();

function hashForWrite(c: Client, key: string): HashValue | ErrorReply {
  const h = getHash(c, key);
  if (h instanceof ErrorReply) return h;
  if (h) return h;
  const fresh: HashValue = new Map();
  c.db.add(key, fresh);
  return fresh;
}

function dropIfEmpty(c: Client, e: Engine, key: string, h: HashValue): void {
  if (h.size === 0) {
    c.db.delete(key);
    e.notify('g', 'del', key, c.dbIndex);
  }
}

function hset(c: Client, argv: string[], e: Engine): Reply {
  if (argv.length % 2 !== 0)
    return err(`ERR wrong number of arguments for '${argv[0]!.toLowerCase()}' command`);
  const h = hashForWrite(c, argv[1]!);
  if (h instanceof ErrorReply) return h;
  let created = 0;
  for (let i = 2; i < argv.length; i += 2) {
    const before = h.size;
    h.set(argv[i]!, argv[i + 1]!);
    if (h.size !== before) created++;
  }
  e.changed(c, argv[1]!, 'hset', 'h');
  return argv[0]!.toLowerCase() === 'hmset' ? OK : created;
}

/** Random fields as HRANDFIELD returns them (negative count allows repeats). */
function hrandfield(c: Client, argv: string[]): Reply {
  let count: number | null = null;
  let withValues = false;
  if (argv.length >= 3) {
    const n = parseI64(argv[2]!);
    if (n === null) return E.NOT_INT;
    count = n;
    if (argv.length === 4) {
      if (argv[3]!.toLowerCase() !== 'withvalues') return E.SYNTAX;
      withValues = true;
    } else if (argv.length > 4) return E.SYNTAX;
  }
  const h = getHash(c, argv[1]!);
  if (h instanceof ErrorReply) return h;
  if (!h) return count === null ? null : [];
  const entries = [...h];
  const pick = () => entries[Math.floor(Math.random() * entries.length)]!;
  if (count === null) return pick()[0];
  const out: string[] = [];
  if (count < 0) {
    if (-count > 2 ** 31) return err('ERR value is out of range');
    for (let i = 0; i < -count; i++) {
      const [f, v] = pick();
      out.push(f);
      if (withValues) out.push(v);
    }
  } else {
    // distinct fields: shuffle a copy and take the first `count`
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    for (const [f, v] of entries.slice(0, count)) {
      out.push(f);
      if (withValues) out.push(v);
    }
  }
  return withValues && c.resp === 3 ? pairs(out) : out;
}

function pairs(flat: string[]): Reply {
  const out: Reply[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function hscan(c: Client, argv: string[]): Reply {
  const cursor = parseCursor(argv[2]!);
  if (cursor === null) return err('ERR invalid cursor');
  const opts = parseScanOptions(argv, 3, false);
  if (opts instanceof ErrorReply) return opts;
  const h = getHash(c, argv[1]!);
  if (h instanceof ErrorReply) return h;
  if (!h) return ['0', []];
  const out: string[] = [];
  const small = h.size <= 128;
  const it = small ? h.keys() : cursors.resume(cursor, () => h.keys());
  if (!it) return ['0', []];
  let done = false;
  for (let n = 0; small || n < opts.count; n++) {
    const s = it.next();
    if (s.done) {
      done = true;
      break;
    }
    const v = h.get(s.value);
    if (v === undefined) continue;
    if (opts.match !== null && !globMatch(opts.match, s.value)) continue;
    out.push(s.value, v);
  }
  return [done ? '0' : String(cursors.park(it)), out];
}

function incr(c: Client, argv: string[], e: Engine): Reply {
  const by = argv[3]!.length <= 15 ? parseI64(argv[3]!) : parseI64Big(argv[3]!);
  if (by === null) return E.NOT_INT;
  const h = hashForWrite(c, argv[1]!);
  if (h instanceof ErrorReply) return h;
  const cur = h.get(argv[2]!);
  let base: number | bigint = 0;
  if (cur !== undefined) {
    const n = cur.length <= 15 ? parseI64(cur) : parseI64Big(cur);
    if (n === null) {
      dropIfEmpty(c, e, argv[1]!, h);
      return E.HASH_NOT_INT;
    }
    base = n;
  }
  let result: number | bigint;
  if (
    typeof base === 'number' &&
    typeof by === 'number' &&
    Math.abs(base) < 2 ** 52 &&
    Math.abs(by) < 2 ** 52
  ) {
    result = base + by;
  } else {
    const big = BigInt(base) + BigInt(by);
    if (!fitsI64(big)) {
      dropIfEmpty(c, e, argv[1]!, h);
      return E.OVERFLOW;
    }
    result = Number.isSafeInteger(Number(big)) ? Number(big) : big;
  }
  h.set(argv[2]!, String(result));
  e.changed(c, argv[1]!, 'hincrby', 'h');
  return result;
}

/** HINCRBYFLOAT refuses an infinite increment before looking at the key (Redis 7.0). */
function incrFloat(c: Client, argv: string[], e: Engine): Reply {
  const by = parseLongDouble(argv[3]!);
  if (by === null) return E.NOT_FLOAT;
  if (by.inf) return E.NOT_FINITE;
  const h = hashForWrite(c, argv[1]!);
  if (h instanceof ErrorReply) return h;
  const cur = h.get(argv[2]!);
  const base = cur === undefined ? LD_ZERO : parseLongDouble(cur);
  if (base === null) {
    dropIfEmpty(c, e, argv[1]!, h);
    return E.HASH_NOT_FLOAT;
  }
  const r = addLongDouble(base, by);
  if (r === null || r.inf) {
    dropIfEmpty(c, e, argv[1]!, h);
    return E.NAN;
  }
  const text = formatLongDoubleHuman(r);
  h.set(argv[2]!, text);
  e.propagateAs = [['HSET', argv[1]!, argv[2]!, text]];
  e.changed(c, argv[1]!, 'hincrbyfloat', 'h');
  return text;
}

function readHash(c: Client, key: string, f: (h: HashValue) => Reply, missing: Reply): Reply {
  const h = getHash(c, key);
  if (h instanceof ErrorReply) return h;
  return h ? f(h) : missing;
}

const defs: Record<string, Def> = {
  hset: { arity: -4, flags: 'write denyoom fast', keys: [1, 1, 1], group: 'hash', handler: hset },
  hmset: {
    arity: -4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: hset,
  },
  hsetnx: {
    arity: 4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv, e) => {
      const h = getHash(c, argv[1]!);
      if (h instanceof ErrorReply) return h;
      if (h?.has(argv[2]!)) return 0;
      const target = h ?? (hashForWrite(c, argv[1]!) as HashValue);
      target.set(argv[2]!, argv[3]!);
      e.changed(c, argv[1]!, 'hset', 'h');
      return 1;
    },
  },
  hget: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => h.get(argv[2]!) ?? null, null),
  },
  hmget: {
    arity: -3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => {
      const h = getHash(c, argv[1]!);
      if (h instanceof ErrorReply) return h;
      return argv.slice(2).map((f) => h?.get(f) ?? null);
    },
  },
  hdel: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv, e) => {
      const h = getHash(c, argv[1]!);
      if (h instanceof ErrorReply) return h;
      if (!h) return 0;
      let n = 0;
      for (let i = 2; i < argv.length; i++) if (h.delete(argv[i]!)) n++;
      if (n > 0) {
        e.changed(c, argv[1]!, 'hdel', 'h');
        dropIfEmpty(c, e, argv[1]!, h);
      }
      return n;
    },
  },
  hexists: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => (h.has(argv[2]!) ? 1 : 0), 0),
  },
  hlen: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => h.size, 0),
  },
  hstrlen: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '3.2.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => h.get(argv[2]!)?.length ?? 0, 0),
  },
  hkeys: {
    arity: 2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => [...h.keys()], []),
  },
  hvals: {
    arity: 2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) => readHash(c, argv[1]!, (h) => [...h.values()], []),
  },
  hgetall: {
    arity: 2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: (c, argv) =>
      readHash(
        c,
        argv[1]!,
        (h) => {
          const out: string[] = [];
          for (const [f, v] of h) out.push(f, v);
          return new MapReply(out);
        },
        new MapReply([]),
      ),
  },
  hincrby: {
    arity: 4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.0.0',
    handler: incr,
  },
  hincrbyfloat: {
    arity: 4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'hash',
    since: '2.6.0',
    handler: incrFloat,
  },
  hscan: { arity: -3, flags: 'readonly', keys: [1, 1, 1], group: 'hash', since: '2.8.0', handler: hscan },
  hrandfield: {
    arity: -2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'hash',
    since: '6.2.0',
    handler: hrandfield,
  },
};

export const hashCommands = defineAll(defs);
