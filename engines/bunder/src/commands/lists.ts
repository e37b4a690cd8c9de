/** List commands over a deque (O(1) at both ends, O(1) index access). */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { Denque, type ListValue } from '../keyspace.js';
import { E, ErrorReply, err, NULL_ARRAY, OK, type Reply } from '../reply.js';
import { parseI64 } from '../util/numbers.js';
import { parseTimeout } from './blocking.js';
import { type BLOCKED, type Def, defineAll } from './table.js';
import { clampRange, getList, intArg } from './util.js';

type End = 'left' | 'right';

function push(
  c: Client,
  e: Engine,
  key: string,
  values: string[],
  left: boolean,
  onlyIfExists: boolean,
): Reply {
  const l = getList(c, key);
  if (l instanceof ErrorReply) return l;
  let list = l;
  if (!list) {
    if (onlyIfExists) return 0;
    list = new Denque<string>();
    c.db.add(key, list);
  }
  for (const v of values) {
    if (left) list.unshift(v);
    else list.push(v);
  }
  e.changed(c, key, left ? 'lpush' : 'rpush', 'l');
  e.signalReady(c.dbIndex, key);
  return list.length;
}

/** Removes a list key that became empty (Redis never keeps empty aggregates). */
function dropIfEmpty(c: Client, e: Engine, key: string, list: ListValue): void {
  if (list.length === 0) {
    c.db.delete(key);
    e.notify('g', 'del', key, c.dbIndex);
  }
}

function popN(list: ListValue, end: End, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n && list.length > 0; i++) out.push((end === 'left' ? list.shift() : list.pop())!);
  return out;
}

function popCommand(end: End) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    let count = -1;
    if (argv.length === 3) {
      const n = parseI64(argv[2]!);
      if (n === null || n < 0) return E.POSITIVE;
      count = n;
    } else if (argv.length > 3)
      return err(`ERR wrong number of arguments for '${end === 'left' ? 'lpop' : 'rpop'}' command`);
    const key = argv[1]!;
    const list = getList(c, key);
    if (list instanceof ErrorReply) return list;
    if (!list) return count >= 0 ? NULL_ARRAY : null;
    if (count === 0) return [];
    const out = popN(list, end, count < 0 ? 1 : count);
    e.changed(c, key, end === 'left' ? 'lpop' : 'rpop', 'l');
    dropIfEmpty(c, e, key, list);
    return count < 0 ? out[0]! : out;
  };
}

function lrange(c: Client, argv: string[]): Reply {
  const start = intArg(argv[2]!);
  if (start instanceof ErrorReply) return start;
  const end = intArg(argv[3]!);
  if (end instanceof ErrorReply) return end;
  const list = getList(c, argv[1]!);
  if (list instanceof ErrorReply) return list;
  if (!list) return [];
  const r = clampRange(start, end, list.length);
  if (!r) return [];
  const out: string[] = new Array(r[1] - r[0] + 1);
  for (let i = r[0]; i <= r[1]; i++) out[i - r[0]] = list.peekAt(i)!;
  return out;
}

function ltrim(c: Client, argv: string[], e: Engine): Reply {
  const start = intArg(argv[2]!);
  if (start instanceof ErrorReply) return start;
  const end = intArg(argv[3]!);
  if (end instanceof ErrorReply) return end;
  const key = argv[1]!;
  const list = getList(c, key);
  if (list instanceof ErrorReply) return list;
  if (!list) return OK;
  const r = clampRange(start, end, list.length);
  if (!r) list.clear();
  else {
    const rtrim = list.length - r[1] - 1;
    for (let i = 0; i < rtrim; i++) list.pop();
    for (let i = 0; i < r[0]; i++) list.shift();
  }
  e.changed(c, key, 'ltrim', 'l');
  dropIfEmpty(c, e, key, list);
  return OK;
}

function lpos(c: Client, argv: string[]): Reply {
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let i = 3; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (i + 1 >= argv.length) return E.SYNTAX;
    const n = parseI64(argv[++i]!);
    if (n === null) return E.NOT_INT;
    if (o === 'rank') {
      if (n === 0 || n < -(2 ** 63) + 1) {
        return err(
          "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        );
      }
      rank = n;
    } else if (o === 'count') {
      if (n < 0) return err("ERR COUNT can't be negative");
      count = n;
    } else if (o === 'maxlen') {
      if (n < 0) return err("ERR MAXLEN can't be negative");
      maxlen = n;
    } else return E.SYNTAX;
  }
  const list = getList(c, argv[1]!);
  if (list instanceof ErrorReply) return list;
  if (!list) return count >= 0 ? [] : null;
  const el = argv[2]!;
  const out: number[] = [];
  const want = count === 0 ? Number.POSITIVE_INFINITY : count < 0 ? 1 : count;
  let skip = Math.abs(rank) - 1;
  const len = list.length;
  for (let k = 0; k < len && (maxlen === 0 || k < maxlen) && out.length < want; k++) {
    const i = rank > 0 ? k : len - 1 - k;
    if (list.peekAt(i) === el) {
      if (skip > 0) skip--;
      else out.push(i);
    }
  }
  if (count >= 0) return out;
  return out.length > 0 ? out[0]! : null;
}

function parseEnd(s: string): End | null {
  const l = s.toLowerCase();
  return l === 'left' ? 'left' : l === 'right' ? 'right' : null;
}

/** LMOVE core: pops from src's `from` end and pushes on dst's `to` end. */
function move(c: Client, e: Engine, src: string, dst: string, from: End, to: End): Reply | undefined {
  const s = getList(c, src);
  if (s instanceof ErrorReply) return s;
  if (!s) return undefined;
  const d = getList(c, dst);
  if (d instanceof ErrorReply) return d;
  const v = (from === 'left' ? s.shift() : s.pop())!;
  e.changed(c, src, from === 'left' ? 'lpop' : 'rpop', 'l');
  dropIfEmpty(c, e, src, s);
  push(c, e, dst, [v], to === 'left', false);
  return v;
}

function lmove(c: Client, argv: string[], e: Engine): Reply {
  const from = parseEnd(argv[3]!);
  const to = parseEnd(argv[4]!);
  if (!from || !to) return E.SYNTAX;
  return move(c, e, argv[1]!, argv[2]!, from, to) ?? null;
}

function blockingMove(
  c: Client,
  e: Engine,
  src: string,
  dst: string,
  from: End,
  to: End,
  timeout: string,
): Reply | typeof BLOCKED {
  const deadline = parseTimeout(timeout, c.db.now);
  if (deadline instanceof ErrorReply) return deadline;
  const r = move(c, e, src, dst, from, to);
  if (r !== undefined) return r;
  if (e.inExec) return null;
  const args = ['LMOVE', src, dst, from.toUpperCase(), to.toUpperCase()];
  return e.block(c, {
    keys: [src],
    dbIndex: c.dbIndex,
    deadline,
    onTimeout: null,
    retry: () => {
      const dirty = e.dirty;
      const v = move(c, e, src, dst, from, to);
      if (v !== undefined && e.dirty !== dirty) e.propagate?.(c.dbIndex, args);
      return v;
    },
  });
}

/** LMPOP/BLMPOP argument parsing: numkeys key… LEFT|RIGHT [COUNT n]. */
function parseMpop(argv: string[], at: number): { keys: string[]; end: End; count: number } | ErrorReply {
  const n = parseI64(argv[at]!);
  if (n === null || n <= 0) return err('ERR numkeys should be greater than 0');
  if (n > argv.length - at - 2) return E.SYNTAX;
  const keys = argv.slice(at + 1, at + 1 + n);
  const end = parseEnd(argv[at + 1 + n]!);
  if (!end) return E.SYNTAX;
  let count = -1;
  for (let i = at + 2 + n; i < argv.length; i++) {
    if (argv[i]!.toLowerCase() === 'count' && count === -1 && i + 1 < argv.length) {
      const v = parseI64(argv[++i]!);
      if (v === null || v <= 0) return err('ERR count should be greater than 0');
      count = v;
    } else return E.SYNTAX;
  }
  return { keys, end, count: count === -1 ? 1 : count };
}

/** Pops from the first non-empty list among `keys`; the AOF gets the equivalent plain pop. */
function mpop(c: Client, e: Engine, keys: string[], end: End, count: number): Reply | undefined {
  for (const key of keys) {
    const list = getList(c, key);
    if (list instanceof ErrorReply) return list;
    if (!list) continue;
    const out = popN(list, end, count);
    e.propagateAs = [[end === 'left' ? 'LPOP' : 'RPOP', key, String(out.length)]];
    e.changed(c, key, end === 'left' ? 'lpop' : 'rpop', 'l');
    dropIfEmpty(c, e, key, list);
    return [key, out];
  }
  return undefined;
}

function blockingPop(end: End) {
  return (c: Client, argv: string[], e: Engine): Reply | typeof BLOCKED => {
    const keys = argv.slice(1, -1);
    const deadline = parseTimeout(argv[argv.length - 1]!, c.db.now);
    if (deadline instanceof ErrorReply) return deadline;
    const tryPop = (): Reply | undefined => {
      for (const key of keys) {
        const list = getList(c, key);
        if (list instanceof ErrorReply) return list;
        if (!list) continue;
        const v = (end === 'left' ? list.shift() : list.pop())!;
        e.changed(c, key, end === 'left' ? 'lpop' : 'rpop', 'l');
        dropIfEmpty(c, e, key, list);
        e.propagateAs = [[end === 'left' ? 'LPOP' : 'RPOP', key]];
        return [key, v];
      }
      return undefined;
    };
    const r = tryPop();
    if (r !== undefined) return r;
    if (e.inExec) return NULL_ARRAY;
    return e.block(c, {
      keys,
      dbIndex: c.dbIndex,
      deadline,
      onTimeout: NULL_ARRAY,
      retry: () => {
        const dirty = e.dirty;
        const v = tryPop();
        if (v !== undefined && e.dirty !== dirty) {
          for (const a of e.propagateAs ?? []) e.propagate?.(c.dbIndex, a);
          e.propagateAs = null;
        }
        return v;
      },
    });
  };
}

const defs: Record<string, Def> = {
  lpush: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv, e) => push(c, e, argv[1]!, argv.slice(2), true, false),
  },
  rpush: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv, e) => push(c, e, argv[1]!, argv.slice(2), false, false),
  },
  lpushx: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'list',
    since: '2.2.0',
    handler: (c, argv, e) => push(c, e, argv[1]!, argv.slice(2), true, true),
  },
  rpushx: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'list',
    since: '2.2.0',
    handler: (c, argv, e) => push(c, e, argv[1]!, argv.slice(2), false, true),
  },
  lpop: { arity: -2, flags: 'write fast', keys: [1, 1, 1], group: 'list', handler: popCommand('left') },
  rpop: { arity: -2, flags: 'write fast', keys: [1, 1, 1], group: 'list', handler: popCommand('right') },
  llen: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv) => {
      const l = getList(c, argv[1]!);
      return l instanceof ErrorReply ? l : (l?.length ?? 0);
    },
  },
  lrange: { arity: 4, flags: 'readonly', keys: [1, 1, 1], group: 'list', handler: lrange },
  lindex: {
    arity: 3,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv) => {
      const i = intArg(argv[2]!);
      if (i instanceof ErrorReply) return i;
      const l = getList(c, argv[1]!);
      if (l instanceof ErrorReply) return l;
      if (!l) return null;
      const idx = i < 0 ? l.length + i : i;
      return idx >= 0 && idx < l.length ? l.peekAt(idx)! : null;
    },
  },
  lset: {
    arity: 4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv, e) => {
      const i = intArg(argv[2]!);
      if (i instanceof ErrorReply) return i;
      const l = getList(c, argv[1]!);
      if (l instanceof ErrorReply) return l;
      if (!l) return E.NO_KEY;
      const idx = i < 0 ? l.length + i : i;
      if (idx < 0 || idx >= l.length) return E.INDEX_RANGE;
      l.splice(idx, 1, argv[3]!);
      e.changed(c, argv[1]!, 'lset', 'l');
      return OK;
    },
  },
  linsert: {
    arity: 5,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'list',
    since: '2.2.0',
    handler: (c, argv, e) => {
      const where = argv[2]!.toLowerCase();
      if (where !== 'before' && where !== 'after') return E.SYNTAX;
      const l = getList(c, argv[1]!);
      if (l instanceof ErrorReply) return l;
      if (!l) return 0;
      const pivot = argv[3]!;
      for (let i = 0; i < l.length; i++) {
        if (l.peekAt(i) === pivot) {
          const at = where === 'before' ? i : i + 1;
          if (at === l.length) l.push(argv[4]!);
          else if (at === 0) l.unshift(argv[4]!);
          else l.splice(at, 0, argv[4]!);
          e.changed(c, argv[1]!, 'linsert', 'l');
          return l.length;
        }
      }
      return -1;
    },
  },
  lrem: {
    arity: 4,
    flags: 'write',
    keys: [1, 1, 1],
    group: 'list',
    handler: (c, argv, e) => {
      const count = intArg(argv[2]!);
      if (count instanceof ErrorReply) return count;
      const key = argv[1]!;
      const l = getList(c, key);
      if (l instanceof ErrorReply) return l;
      if (!l) return 0;
      const el = argv[3]!;
      const items = l.toArray();
      const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count);
      let removed = 0;
      const keep: string[] = [];
      if (count >= 0) {
        for (const v of items) {
          if (v === el && removed < limit) removed++;
          else keep.push(v);
        }
      } else {
        for (let i = items.length - 1; i >= 0; i--) {
          if (items[i] === el && removed < limit) removed++;
          else keep.push(items[i]!);
        }
        keep.reverse();
      }
      if (removed === 0) return 0;
      l.clear();
      for (const v of keep) l.push(v);
      e.changed(c, key, 'lrem', 'l');
      dropIfEmpty(c, e, key, l);
      return removed;
    },
  },
  ltrim: { arity: 4, flags: 'write', keys: [1, 1, 1], group: 'list', handler: ltrim },
  lpos: { arity: -3, flags: 'readonly', keys: [1, 1, 1], group: 'list', since: '6.0.6', handler: lpos },
  lmove: { arity: 5, flags: 'write denyoom', keys: [1, 2, 1], group: 'list', since: '6.2.0', handler: lmove },
  rpoplpush: {
    arity: 3,
    flags: 'write denyoom',
    keys: [1, 2, 1],
    group: 'list',
    since: '1.2.0',
    handler: (c, argv, e) => move(c, e, argv[1]!, argv[2]!, 'right', 'left') ?? null,
  },
  lmpop: {
    arity: -4,
    flags: 'write',
    keys: [0, 0, 0],
    group: 'list',
    since: '7.0.0',
    handler: (c, argv, e) => {
      const p = parseMpop(argv, 1);
      if (p instanceof ErrorReply) return p;
      return mpop(c, e, p.keys, p.end, p.count) ?? NULL_ARRAY;
    },
  },
  blpop: {
    arity: -3,
    flags: 'write noscript blocking',
    keys: [1, -2, 1],
    group: 'list',
    handler: blockingPop('left'),
  },
  brpop: {
    arity: -3,
    flags: 'write noscript blocking',
    keys: [1, -2, 1],
    group: 'list',
    handler: blockingPop('right'),
  },
  blmove: {
    arity: 6,
    flags: 'write denyoom noscript blocking',
    keys: [1, 2, 1],
    group: 'list',
    since: '6.2.0',
    handler: (c, argv, e) => {
      const from = parseEnd(argv[3]!);
      const to = parseEnd(argv[4]!);
      if (!from || !to) return E.SYNTAX;
      return blockingMove(c, e, argv[1]!, argv[2]!, from, to, argv[5]!);
    },
  },
  brpoplpush: {
    arity: 4,
    flags: 'write denyoom noscript blocking',
    keys: [1, 2, 1],
    group: 'list',
    since: '2.2.0',
    handler: (c, argv, e) => blockingMove(c, e, argv[1]!, argv[2]!, 'right', 'left', argv[3]!),
  },
  blmpop: {
    arity: -5,
    flags: 'write blocking',
    group: 'list',
    since: '7.0.0',
    handler: (c, argv, e) => {
      const deadline = parseTimeout(argv[1]!, c.db.now);
      if (deadline instanceof ErrorReply) return deadline;
      const p = parseMpop(argv, 2);
      if (p instanceof ErrorReply) return p;
      const r = mpop(c, e, p.keys, p.end, p.count);
      if (r !== undefined) return r;
      if (e.inExec) return NULL_ARRAY;
      return e.block(c, {
        keys: p.keys,
        dbIndex: c.dbIndex,
        deadline,
        onTimeout: NULL_ARRAY,
        retry: () => {
          const v = mpop(c, e, p.keys, p.end, p.count);
          if (v !== undefined) {
            for (const a of e.propagateAs ?? []) e.propagate?.(c.dbIndex, a);
            e.propagateAs = null;
          }
          return v;
        },
      });
    },
  },
};

export const listCommands = defineAll(defs);
