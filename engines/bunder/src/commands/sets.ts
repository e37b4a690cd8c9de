/** Set commands over RSet (O(1) membership and uniform random pick). */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { RSet } from '../keyspace.js';
import { E, ErrorReply, err, type Reply, SetReply } from '../reply.js';
import { globMatch } from '../util/glob.js';
import { parseI64 } from '../util/numbers.js';
import { parseCursor, parseScanOptions } from './keys.js';
import { type Def, defineAll } from './table.js';
import { getSet } from './util.js';

function dropIfEmpty(c: Client, e: Engine, key: string, s: RSet): void {
  if (s.size === 0) {
    c.db.delete(key);
    e.notify('g', 'del', key, c.dbIndex);
  }
}

/** Looks up every key; any non-set is WRONGTYPE (missing keys are empty sets). */
function loadSets(c: Client, keys: string[]): Array<RSet | undefined> | ErrorReply {
  const out: Array<RSet | undefined> = [];
  for (const k of keys) {
    const s = getSet(c, k);
    if (s instanceof ErrorReply) return s;
    out.push(s);
  }
  return out;
}

type Op = 'inter' | 'union' | 'diff';

function compute(sets: Array<RSet | undefined>, op: Op, limit = 0): string[] {
  if (op === 'union') {
    const out = new Set<string>();
    for (const s of sets) if (s) for (const m of s) out.add(m);
    return [...out];
  }
  if (op === 'diff') {
    const first = sets[0];
    if (!first) return [];
    const out: string[] = [];
    for (const m of first) {
      let keep = true;
      for (let i = 1; i < sets.length; i++) {
        if (sets[i]?.has(m)) {
          keep = false;
          break;
        }
      }
      if (keep) out.push(m);
    }
    return out;
  }
  if (sets.some((s) => !s)) return [];
  // intersect starting from the smallest set, as Redis does
  const sorted = (sets as RSet[]).slice().sort((a, b) => a.size - b.size);
  const out: string[] = [];
  for (const m of sorted[0]!) {
    if (sorted.every((s, i) => i === 0 || s.has(m))) {
      out.push(m);
      if (limit > 0 && out.length >= limit) break;
    }
  }
  return out;
}

function setOp(op: Op) {
  return (c: Client, argv: string[]): Reply => {
    const sets = loadSets(c, argv.slice(1));
    if (sets instanceof ErrorReply) return sets;
    return new SetReply(compute(sets, op));
  };
}

function setOpStore(op: Op) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const sets = loadSets(c, argv.slice(2));
    if (sets instanceof ErrorReply) return sets;
    const members = compute(sets, op);
    const dst = argv[1]!;
    const existed = c.db.delete(dst);
    if (members.length > 0) {
      c.db.add(dst, new RSet(members));
      e.changed(c, dst, `s${op}store`, 's');
    } else if (existed) {
      e.changed(c, dst, 'del', 'g');
    }
    return members.length;
  };
}

function spop(c: Client, argv: string[], e: Engine): Reply {
  let count: number | null = null;
  if (argv.length === 3) {
    const n = parseI64(argv[2]!);
    if (n === null || n < 0) return E.POSITIVE;
    count = n;
  } else if (argv.length > 3) return E.SYNTAX;
  const key = argv[1]!;
  const s = getSet(c, key);
  if (s instanceof ErrorReply) return s;
  if (!s) return count === null ? null : new SetReply([]);
  if (count === 0) return new SetReply([]);
  const out: string[] = [];
  const n = count ?? 1;
  while (out.length < n && s.size > 0) {
    const m = s.random();
    s.delete(m);
    out.push(m);
  }
  e.changed(c, key, 'spop', 's');
  // Random removals replay as SREM of the chosen members.
  e.propagateAs = [['SREM', key, ...out]];
  dropIfEmpty(c, e, key, s);
  return count === null ? out[0]! : new SetReply(out);
}

function srandmember(c: Client, argv: string[]): Reply {
  let count: number | null = null;
  if (argv.length === 3) {
    const n = parseI64(argv[2]!);
    if (n === null) return E.NOT_INT;
    count = n;
  } else if (argv.length > 3) return E.SYNTAX;
  const s = getSet(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  if (!s) return count === null ? null : [];
  if (count === null) return s.random();
  if (count < 0) {
    if (-count > 2 ** 31) return err('ERR value is out of range');
    const out: string[] = [];
    for (let i = 0; i < -count; i++) out.push(s.random());
    return out;
  }
  const all = [...s.members()];
  if (count >= all.length) return all;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (all.length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count);
}

function sscan(c: Client, argv: string[]): Reply {
  const cursor = parseCursor(argv[2]!);
  if (cursor === null) return err('ERR invalid cursor');
  const opts = parseScanOptions(argv, 3, false);
  if (opts instanceof ErrorReply) return opts;
  const s = getSet(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  if (!s) return ['0', []];
  // Members are scanned from a snapshot taken at cursor 0 position order; small sets in one call.
  const members = s.members();
  const out: string[] = [];
  const start = s.size <= 512 ? 0 : cursor;
  const end = s.size <= 512 ? members.length : Math.min(members.length, start + opts.count);
  for (let i = start; i < end; i++) {
    const m = members[i]!;
    if (opts.match === null || globMatch(opts.match, m)) out.push(m);
  }
  return [end >= members.length ? '0' : String(end), out];
}

const defs: Record<string, Def> = {
  sadd: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'set',
    handler: (c, argv, e) => {
      const key = argv[1]!;
      let s = getSet(c, key);
      if (s instanceof ErrorReply) return s;
      if (!s) {
        s = new RSet();
        c.db.add(key, s);
      }
      let n = 0;
      for (let i = 2; i < argv.length; i++) if (s.add(argv[i]!)) n++;
      if (n > 0) e.changed(c, key, 'sadd', 's');
      return n;
    },
  },
  srem: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'set',
    handler: (c, argv, e) => {
      const key = argv[1]!;
      const s = getSet(c, key);
      if (s instanceof ErrorReply) return s;
      if (!s) return 0;
      let n = 0;
      for (let i = 2; i < argv.length; i++) if (s.delete(argv[i]!)) n++;
      if (n > 0) {
        e.changed(c, key, 'srem', 's');
        dropIfEmpty(c, e, key, s);
      }
      return n;
    },
  },
  smembers: {
    arity: 2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'set',
    handler: (c, argv) => {
      const s = getSet(c, argv[1]!);
      if (s instanceof ErrorReply) return s;
      return new SetReply(s ? [...s.members()] : []);
    },
  },
  sismember: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'set',
    handler: (c, argv) => {
      const s = getSet(c, argv[1]!);
      if (s instanceof ErrorReply) return s;
      return s?.has(argv[2]!) ? 1 : 0;
    },
  },
  smismember: {
    arity: -3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'set',
    since: '6.2.0',
    handler: (c, argv) => {
      const s = getSet(c, argv[1]!);
      if (s instanceof ErrorReply) return s;
      return argv.slice(2).map((m) => (s?.has(m) ? 1 : 0));
    },
  },
  scard: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'set',
    handler: (c, argv) => {
      const s = getSet(c, argv[1]!);
      if (s instanceof ErrorReply) return s;
      return s?.size ?? 0;
    },
  },
  spop: { arity: -2, flags: 'write fast', keys: [1, 1, 1], group: 'set', handler: spop },
  srandmember: { arity: -2, flags: 'readonly', keys: [1, 1, 1], group: 'set', handler: srandmember },
  smove: {
    arity: 4,
    flags: 'write fast',
    keys: [1, 2, 1],
    group: 'set',
    handler: (c, argv, e) => {
      const [src, dst, m] = [argv[1]!, argv[2]!, argv[3]!];
      const s = getSet(c, src);
      if (s === undefined) return 0;
      if (s instanceof ErrorReply) return s;
      const d = getSet(c, dst);
      if (d instanceof ErrorReply) return d;
      if (src === dst) return s.has(m) ? 1 : 0;
      if (!s.has(m)) return 0;
      s.delete(m);
      e.changed(c, src, 'srem', 's');
      dropIfEmpty(c, e, src, s);
      let target = d;
      if (!target) {
        target = new RSet();
        c.db.add(dst, target);
      }
      if (target.add(m)) e.changed(c, dst, 'sadd', 's');
      return 1;
    },
  },
  sinter: { arity: -2, flags: 'readonly', keys: [1, -1, 1], group: 'set', handler: setOp('inter') },
  sunion: { arity: -2, flags: 'readonly', keys: [1, -1, 1], group: 'set', handler: setOp('union') },
  sdiff: { arity: -2, flags: 'readonly', keys: [1, -1, 1], group: 'set', handler: setOp('diff') },
  sinterstore: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, -1, 1],
    group: 'set',
    handler: setOpStore('inter'),
  },
  sunionstore: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, -1, 1],
    group: 'set',
    handler: setOpStore('union'),
  },
  sdiffstore: {
    arity: -3,
    flags: 'write denyoom',
    keys: [1, -1, 1],
    group: 'set',
    handler: setOpStore('diff'),
  },
  sintercard: {
    arity: -3,
    flags: 'readonly',
    group: 'set',
    since: '7.0.0',
    handler: (c, argv) => {
      const n = parseI64(argv[1]!);
      if (n === null || n <= 0) return err('ERR numkeys should be greater than 0');
      if (n > argv.length - 2) return err("ERR Number of keys can't be greater than number of args");
      let limit = 0;
      for (let i = 2 + n; i < argv.length; i++) {
        if (argv[i]!.toLowerCase() === 'limit' && i + 1 < argv.length) {
          const l = parseI64(argv[++i]!);
          if (l === null) return E.NOT_INT;
          if (l < 0) return err("ERR LIMIT can't be negative");
          limit = l;
        } else return E.SYNTAX;
      }
      const sets = loadSets(c, argv.slice(2, 2 + n));
      if (sets instanceof ErrorReply) return sets;
      return compute(sets, 'inter', limit).length;
    },
  },
  sscan: { arity: -3, flags: 'readonly', keys: [1, 1, 1], group: 'set', since: '2.8.0', handler: sscan },
};

export const setCommands = defineAll(defs);
