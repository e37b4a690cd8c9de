/** Sorted set commands over ZSet (skip list + map): O(log n) rank and range operations. */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { RSet, ZSet } from '../keyspace.js';
import { DoubleReply, E, ErrorReply, err, NULL_ARRAY, type Reply } from '../reply.js';
import {
  gteMin,
  type LexRange,
  lexGteMin,
  lexLteMax,
  lteMax,
  type ScoreRange,
  type SkipNode,
} from '../types/zset.js';
import { globMatch } from '../util/glob.js';
import { parseDouble, parseI64 } from '../util/numbers.js';
import { ScanCursors } from '../util/scan.js';
import { parseTimeout } from './blocking.js';
import { parseCursor, parseScanOptions } from './keys.js';
import { type BLOCKED, type Def, defineAll } from './table.js';
import { clampRange, getZSet, intArg } from './util.js';

const cursors = new ScanCursors();
const EMPTY = new ZSet();

function dropIfEmpty(c: Client, e: Engine, key: string, z: ZSet): void {
  if (z.size === 0) {
    c.db.delete(key);
    e.notify('g', 'del', key, c.dbIndex);
  }
}

export function parseScoreBound(s: string): { v: number; ex: boolean } | null {
  let ex = false;
  let t = s;
  if (t.startsWith('(')) {
    ex = true;
    t = t.slice(1);
  }
  const v = parseDouble(t);
  if (v === null || Number.isNaN(v)) return null;
  return { v, ex };
}

function parseScoreRange(min: string, max: string): ScoreRange | null {
  const a = parseScoreBound(min);
  const b = parseScoreBound(max);
  if (!a || !b) return null;
  return { min: a.v, minex: a.ex, max: b.v, maxex: b.ex };
}

function parseLexBound(s: string): { v: string; ex: boolean; inf: number } | null {
  if (s === '-') return { v: '', ex: false, inf: -1 };
  if (s === '+') return { v: '', ex: false, inf: 1 };
  if (s.startsWith('(')) return { v: s.slice(1), ex: true, inf: 0 };
  if (s.startsWith('[')) return { v: s.slice(1), ex: false, inf: 0 };
  return null;
}

function parseLexRange(min: string, max: string): LexRange | null {
  const a = parseLexBound(min);
  const b = parseLexBound(max);
  if (!a || !b) return null;
  return { min: a.v, minex: a.ex, minInf: a.inf, max: b.v, maxex: b.ex, maxInf: b.inf };
}

/** Members with scores, shaped for the protocol: flat in RESP2, pairs in RESP3. */
function withScores(c: Client, nodes: Array<[string, number]>, scores: boolean): Reply {
  if (!scores) return nodes.map((n) => n[0]);
  if (c.resp === 3) return nodes.map(([m, s]) => [m, new DoubleReply(s)]);
  const out: Reply[] = [];
  for (const [m, s] of nodes) out.push(m, new DoubleReply(s));
  return out;
}

function zadd(c: Client, argv: string[], e: Engine, forceIncr = false): Reply {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  let ch = false;
  let incr = forceIncr;
  let i = 2;
  if (!forceIncr) {
    for (; i < argv.length; i++) {
      const o = argv[i]!.toLowerCase();
      if (o === 'nx') nx = true;
      else if (o === 'xx') xx = true;
      else if (o === 'gt') gt = true;
      else if (o === 'lt') lt = true;
      else if (o === 'ch') ch = true;
      else if (o === 'incr') incr = true;
      else break;
    }
  }
  const rest = argv.length - i;
  if (rest === 0 || rest % 2 !== 0) return E.SYNTAX;
  if (nx && xx) return err('ERR XX and NX options at the same time are not compatible');
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return err('ERR GT, LT, and/or NX options at the same time are not compatible');
  }
  if (incr && rest > 2) return err('ERR INCR option supports a single increment-element pair');
  const scores: number[] = [];
  for (let j = i; j < argv.length; j += 2) {
    const s = parseDouble(argv[j]!);
    if (s === null) return E.NOT_FLOAT;
    scores.push(s);
  }
  const key = argv[1]!;
  let z = getZSet(c, key);
  if (z instanceof ErrorReply) return z;
  if (!z) {
    if (xx) return incr ? null : 0;
    z = new ZSet();
    c.db.add(key, z);
  }
  let added = 0;
  let updated = 0;
  let incrResult: number | null = null;
  for (let j = i, k = 0; j < argv.length; j += 2, k++) {
    const member = argv[j + 1]!;
    let score = scores[k]!;
    const cur = z.score(member);
    if (cur !== undefined) {
      if (nx) continue;
      if (incr) {
        score += cur;
        if (Number.isNaN(score)) {
          dropIfEmpty(c, e, key, z);
          return err('ERR resulting score is not a number (NaN)');
        }
      }
      if ((gt && score <= cur) || (lt && score >= cur)) continue;
      incrResult = score;
      if (score !== cur) {
        z.add(member, score);
        updated++;
      }
    } else {
      if (xx) continue;
      z.add(member, score);
      added++;
      incrResult = score;
    }
  }
  if (added + updated > 0) {
    e.changed(c, key, incr ? 'zincr' : 'zadd', 'z');
    e.signalReady(c.dbIndex, key);
  } else dropIfEmpty(c, e, key, z);
  if (incr) {
    if (incrResult !== null) e.propagateAs = [['ZADD', key, String(incrResult), argv[argv.length - 1]!]];
    return incrResult === null ? null : new DoubleReply(incrResult);
  }
  return ch ? added + updated : added;
}

interface RangeSpec {
  by: 'rank' | 'score' | 'lex';
  rev: boolean;
  offset: number;
  count: number;
  scores: boolean;
  min: string;
  max: string;
}

/** Collects the (member, score) pairs a range selects. */
function selectRange(z: ZSet, spec: RangeSpec): Array<[string, number]> | ErrorReply {
  const out: Array<[string, number]> = [];
  if (spec.by === 'rank') {
    const start = parseI64(spec.min);
    const end = parseI64(spec.max);
    if (start === null || end === null) return E.NOT_INT;
    const r = clampRange(start, end, z.size);
    if (!r) return out;
    const n = r[1] - r[0] + 1;
    let node = spec.rev ? z.byRank(z.size - 1 - r[0]) : z.byRank(r[0]);
    for (let i = 0; i < n && node; i++) {
      out.push([node.member, node.score]);
      node = spec.rev ? node.backward : ZSet.next(node);
    }
    return out;
  }
  let offset = spec.offset;
  let count = spec.count;
  if (spec.by === 'score') {
    const range = spec.rev ? parseScoreRange(spec.max, spec.min) : parseScoreRange(spec.min, spec.max);
    if (!range) return E.MIN_MAX_FLOAT;
    let node: SkipNode | null = spec.rev ? z.lastInRange(range) : z.firstInRange(range);
    while (node && offset > 0) {
      node = spec.rev ? node.backward : ZSet.next(node);
      offset--;
    }
    while (node && count !== 0) {
      if (spec.rev ? !gteMin(node.score, range) : !lteMax(node.score, range)) break;
      out.push([node.member, node.score]);
      node = spec.rev ? node.backward : ZSet.next(node);
      count--;
    }
    return out;
  }
  const range = spec.rev ? parseLexRange(spec.max, spec.min) : parseLexRange(spec.min, spec.max);
  if (!range) return E.MIN_MAX_LEX;
  let node: SkipNode | null = spec.rev ? z.lastInLex(range) : z.firstInLex(range);
  while (node && offset > 0) {
    node = spec.rev ? node.backward : ZSet.next(node);
    offset--;
  }
  while (node && count !== 0) {
    if (spec.rev ? !lexGteMin(node.member, range) : !lexLteMax(node.member, range)) break;
    out.push([node.member, node.score]);
    node = spec.rev ? node.backward : ZSet.next(node);
    count--;
  }
  return out;
}

/** Parses the ZRANGE-family options after `min max`. */
function parseRangeArgs(
  argv: string[],
  from: number,
  base: Pick<RangeSpec, 'by' | 'rev'>,
  min: string,
  max: string,
  allow: { byKeywords: boolean; withScores: boolean; limit: boolean },
): RangeSpec | ErrorReply {
  const spec: RangeSpec = { ...base, offset: 0, count: -1, scores: false, min, max };
  let limitGiven = false;
  for (let i = from; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === 'withscores' && allow.withScores) spec.scores = true;
    else if (o === 'limit' && allow.limit && i + 2 < argv.length) {
      const off = parseI64(argv[i + 1]!);
      const cnt = parseI64(argv[i + 2]!);
      if (off === null || cnt === null) return E.NOT_INT;
      spec.offset = off;
      spec.count = cnt;
      limitGiven = true;
      i += 2;
    } else if (allow.byKeywords && o === 'byscore') spec.by = 'score';
    else if (allow.byKeywords && o === 'bylex') spec.by = 'lex';
    else if (allow.byKeywords && o === 'rev') spec.rev = true;
    else return E.SYNTAX;
  }
  if (limitGiven && spec.by === 'rank') {
    return err('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  }
  if (spec.scores && spec.by === 'lex') {
    return err('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  }
  if (spec.offset < 0) spec.count = 0;
  return spec;
}

function rangeCommand(
  base: Pick<RangeSpec, 'by' | 'rev'>,
  allow: { byKeywords: boolean; withScores: boolean; limit: boolean },
) {
  return (c: Client, argv: string[]): Reply => {
    const spec = parseRangeArgs(argv, 4, base, argv[2]!, argv[3]!, allow);
    if (spec instanceof ErrorReply) return spec;
    // Redis validates the range before looking at the key
    const check = selectRange(EMPTY, spec);
    if (check instanceof ErrorReply) return check;
    const z = getZSet(c, argv[1]!);
    if (z instanceof ErrorReply) return z;
    if (!z) return [];
    const r = selectRange(z, spec);
    if (r instanceof ErrorReply) return r;
    return withScores(c, r, spec.scores);
  };
}

function zrangestore(c: Client, argv: string[], e: Engine): Reply {
  const spec = parseRangeArgs(argv, 5, { by: 'rank', rev: false }, argv[3]!, argv[4]!, {
    byKeywords: true,
    withScores: false,
    limit: true,
  });
  if (spec instanceof ErrorReply) return spec;
  const src = getZSet(c, argv[2]!);
  if (src instanceof ErrorReply) return src;
  const r = selectRange(src ?? new ZSet(), spec);
  if (r instanceof ErrorReply) return r;
  const dst = argv[1]!;
  const existed = c.db.delete(dst);
  if (r.length > 0) {
    const z = new ZSet();
    for (const [m, s] of r) z.add(m, s);
    c.db.add(dst, z);
    e.changed(c, dst, 'zrangestore', 'z');
  } else if (existed) e.changed(c, dst, 'del', 'g');
  return r.length;
}

function pop(
  c: Client,
  e: Engine,
  key: string,
  z: ZSet,
  max: boolean,
  count: number,
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  while (out.length < count && z.size > 0) {
    const n = (max ? z.last() : z.first())!;
    out.push([n.member, n.score]);
    z.remove(n.member);
  }
  e.changed(c, key, max ? 'zpopmax' : 'zpopmin', 'z');
  e.propagateAs = [['ZREM', key, ...out.map((p) => p[0])]];
  dropIfEmpty(c, e, key, z);
  return out;
}

function zpop(max: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    let count = 1;
    const hasCount = argv.length === 3;
    if (hasCount) {
      const n = parseI64(argv[2]!);
      if (n === null) return E.NOT_INT;
      if (n < 0) return E.POSITIVE;
      count = n;
    } else if (argv.length > 3) return E.SYNTAX;
    const z = getZSet(c, argv[1]!);
    if (z instanceof ErrorReply) return z;
    if (!z || count === 0) return [];
    const out = pop(c, e, argv[1]!, z, max, count);
    if (c.resp === 3 && hasCount) return out.map(([m, s]) => [m, new DoubleReply(s)]);
    const flat: Reply[] = [];
    for (const [m, s] of out) flat.push(m, new DoubleReply(s));
    return flat;
  };
}

function bzpop(max: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply | typeof BLOCKED => {
    const keys = argv.slice(1, -1);
    const deadline = parseTimeout(argv[argv.length - 1]!, c.db.now);
    if (deadline instanceof ErrorReply) return deadline;
    const attempt = (): Reply | undefined => {
      for (const key of keys) {
        const z = getZSet(c, key);
        if (z instanceof ErrorReply) return z;
        if (!z) continue;
        const [[m, s]] = pop(c, e, key, z, max, 1) as [[string, number]];
        return [key, m, new DoubleReply(s)];
      }
      return undefined;
    };
    const r = attempt();
    if (r !== undefined) return r;
    if (e.inExec) return NULL_ARRAY;
    return e.block(c, {
      keys,
      dbIndex: c.dbIndex,
      deadline,
      onTimeout: NULL_ARRAY,
      retry: () => {
        const v = attempt();
        if (v !== undefined) {
          for (const a of e.propagateAs ?? []) e.propagate?.(c.dbIndex, a);
          e.propagateAs = null;
        }
        return v;
      },
    });
  };
}

function parseZmpop(
  argv: string[],
  at: number,
): { keys: string[]; max: boolean; count: number } | ErrorReply {
  const n = parseI64(argv[at]!);
  if (n === null || n <= 0) return err('ERR numkeys should be greater than 0');
  if (n > argv.length - at - 2) return E.SYNTAX;
  const keys = argv.slice(at + 1, at + 1 + n);
  const where = argv[at + 1 + n]!.toLowerCase();
  if (where !== 'min' && where !== 'max') return E.SYNTAX;
  let count = -1;
  for (let i = at + 2 + n; i < argv.length; i++) {
    if (argv[i]!.toLowerCase() === 'count' && count === -1 && i + 1 < argv.length) {
      const v = parseI64(argv[++i]!);
      if (v === null || v <= 0) return err('ERR count should be greater than 0');
      count = v;
    } else return E.SYNTAX;
  }
  return { keys, max: where === 'max', count: count === -1 ? 1 : count };
}

function zmpopOnce(
  c: Client,
  e: Engine,
  p: { keys: string[]; max: boolean; count: number },
): Reply | undefined {
  for (const key of p.keys) {
    const z = getZSet(c, key);
    if (z instanceof ErrorReply) return z;
    if (!z) continue;
    const out = pop(c, e, key, z, p.max, p.count);
    return [key, out.map(([m, s]) => [m, new DoubleReply(s)])];
  }
  return undefined;
}

type Aggregate = 'sum' | 'min' | 'max';

/** ZUNION/ZINTER/ZDIFF (and *STORE): numkeys key… [WEIGHTS w…] [AGGREGATE …] [WITHSCORES]. */
function zsetOp(op: 'union' | 'inter' | 'diff', store: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const at = store ? 2 : 1;
    const name = argv[0]!.toLowerCase();
    const n = parseI64(argv[at]!);
    if (n === null) return E.NOT_INT;
    if (n < 1) return err(`ERR at least 1 input key is needed for '${name}' command`);
    if (n > argv.length - at - 1) return E.SYNTAX;
    const keys = argv.slice(at + 1, at + 1 + n);
    const inputs: Array<Map<string, number> | null> = [];
    for (const k of keys) {
      const v = c.db.get(k);
      if (v === undefined) inputs.push(null);
      else if (v instanceof ZSet) inputs.push(v.dict);
      else if (v instanceof RSet) inputs.push(new Map([...v].map((m) => [m, 1])));
      else return E.WRONGTYPE;
    }
    const weights: number[] = keys.map(() => 1);
    let agg: Aggregate = 'sum';
    let scores = false;
    for (let i = at + 1 + n; i < argv.length; i++) {
      const o = argv[i]!.toLowerCase();
      const left = argv.length - i - 1;
      if (o === 'weights' && op !== 'diff' && left >= n) {
        for (let k = 0; k < n; k++) {
          const w = parseDouble(argv[i + 1 + k]!);
          if (w === null) return err('ERR weight value is not a float');
          weights[k] = w;
        }
        i += n;
      } else if (o === 'aggregate' && op !== 'diff' && left >= 1) {
        const a = argv[++i]!.toLowerCase();
        if (a !== 'sum' && a !== 'min' && a !== 'max') return E.SYNTAX;
        agg = a;
      } else if (o === 'withscores' && !store) scores = true;
      else return E.SYNTAX;
    }
    const combine = (a: number, b: number): number => {
      if (agg === 'min') return Math.min(a, b);
      if (agg === 'max') return Math.max(a, b);
      const s = a + b;
      return Number.isNaN(s) ? 0 : s;
    };
    const weigh = (s: number, w: number): number => {
      const r = s * w;
      return Number.isNaN(r) ? 0 : r;
    };
    const result = new Map<string, number>();
    if (op === 'union') {
      inputs.forEach((m, idx) => {
        if (!m) return;
        for (const [member, s] of m) {
          const v = weigh(s, weights[idx]!);
          const cur = result.get(member);
          result.set(member, cur === undefined ? v : combine(cur, v));
        }
      });
    } else if (op === 'inter') {
      if (inputs.every((m) => m !== null)) {
        const order = inputs.map((m, idx) => ({ m: m!, idx })).sort((a, b) => a.m.size - b.m.size);
        for (const [member, s0] of order[0]!.m) {
          let acc = weigh(s0, weights[order[0]!.idx]!);
          let ok = true;
          for (let k = 1; k < order.length; k++) {
            const s = order[k]!.m.get(member);
            if (s === undefined) {
              ok = false;
              break;
            }
            acc = combine(acc, weigh(s, weights[order[k]!.idx]!));
          }
          if (ok) result.set(member, acc);
        }
      }
    } else if (inputs[0]) {
      for (const [member, s] of inputs[0]) {
        if (!inputs.slice(1).some((m) => m?.has(member))) result.set(member, s);
      }
    }
    const z = new ZSet();
    for (const [m, s] of result) z.add(m, s);
    if (store) {
      const dst = argv[1]!;
      const existed = c.db.delete(dst);
      if (z.size > 0) {
        c.db.add(dst, z);
        e.changed(c, dst, `z${op}store`, 'z');
      } else if (existed) e.changed(c, dst, 'del', 'g');
      return z.size;
    }
    return withScores(c, [...z.entries()], scores);
  };
}

function zrandmember(c: Client, argv: string[]): Reply {
  let count: number | null = null;
  let ws = false;
  if (argv.length >= 3) {
    const n = parseI64(argv[2]!);
    if (n === null) return E.NOT_INT;
    count = n;
    if (argv.length === 4 && argv[3]!.toLowerCase() === 'withscores') ws = true;
    else if (argv.length > 3) return E.SYNTAX;
  }
  const z = getZSet(c, argv[1]!);
  if (z instanceof ErrorReply) return z;
  if (!z) return count === null ? null : [];
  const all = [...z.entries()];
  const pick = () => all[Math.floor(Math.random() * all.length)]!;
  if (count === null) return pick()[0];
  let chosen: Array<[string, number]>;
  if (count < 0) {
    if (-count > 2 ** 31) return err('ERR value is out of range');
    chosen = Array.from({ length: -count }, pick);
  } else {
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    chosen = all.slice(0, count);
  }
  return withScores(c, chosen, ws);
}

function zscan(c: Client, argv: string[]): Reply {
  const cursor = parseCursor(argv[2]!);
  if (cursor === null) return err('ERR invalid cursor');
  const opts = parseScanOptions(argv, 3, false);
  if (opts instanceof ErrorReply) return opts;
  const z = getZSet(c, argv[1]!);
  if (z instanceof ErrorReply) return z;
  if (!z) return ['0', []];
  const small = z.size <= 128;
  const it = small ? z.dict.keys() : cursors.resume(cursor, () => z.dict.keys());
  if (!it) return ['0', []];
  const out: Reply[] = [];
  let done = false;
  for (let n = 0; small || n < opts.count; n++) {
    const s = it.next();
    if (s.done) {
      done = true;
      break;
    }
    const score = z.score(s.value);
    if (score === undefined) continue;
    if (opts.match !== null && !globMatch(opts.match, s.value)) continue;
    out.push(s.value, new DoubleReply(score));
  }
  return [done ? '0' : String(cursors.park(it)), out];
}

function readZ(c: Client, key: string, f: (z: ZSet) => Reply, missing: Reply): Reply {
  const z = getZSet(c, key);
  if (z instanceof ErrorReply) return z;
  return z ? f(z) : missing;
}

const R = { byKeywords: false, withScores: true, limit: true };

const defs: Record<string, Def> = {
  zadd: {
    arity: -4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, a, e) => zadd(c, a, e),
  },
  zincrby: {
    arity: 4,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, argv, e) => zadd(c, argv, e, true),
  },
  zrem: {
    arity: -3,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, argv, e) => {
      const z = getZSet(c, argv[1]!);
      if (z instanceof ErrorReply) return z;
      if (!z) return 0;
      let n = 0;
      for (let i = 2; i < argv.length; i++) if (z.remove(argv[i]!)) n++;
      if (n > 0) {
        e.changed(c, argv[1]!, 'zrem', 'z');
        dropIfEmpty(c, e, argv[1]!, z);
      }
      return n;
    },
  },
  zscore: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, argv) =>
      readZ(
        c,
        argv[1]!,
        (z) => {
          const s = z.score(argv[2]!);
          return s === undefined ? null : new DoubleReply(s);
        },
        null,
      ),
  },
  zmscore: {
    arity: -3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '6.2.0',
    handler: (c, argv) => {
      const z = getZSet(c, argv[1]!);
      if (z instanceof ErrorReply) return z;
      return argv.slice(2).map((m) => {
        const s = z?.score(m);
        return s === undefined ? null : new DoubleReply(s);
      });
    },
  },
  zcard: {
    arity: 2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, argv) => readZ(c, argv[1]!, (z) => z.size, 0),
  },
  zcount: {
    arity: 4,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: (c, argv) => {
      const r = parseScoreRange(argv[2]!, argv[3]!);
      if (!r) return E.MIN_MAX_FLOAT;
      return readZ(c, argv[1]!, (z) => Math.max(0, z.countUpTo(r) - z.countBelow(r)), 0);
    },
  },
  zlexcount: {
    arity: 4,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.8.9',
    handler: (c, argv) => {
      const r = parseLexRange(argv[2]!, argv[3]!);
      if (!r) return E.MIN_MAX_LEX;
      return readZ(c, argv[1]!, (z) => z.lexCount(r), 0);
    },
  },
  zrange: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: rangeCommand({ by: 'rank', rev: false }, { byKeywords: true, withScores: true, limit: true }),
  },
  zrangestore: {
    arity: -5,
    flags: 'write denyoom',
    keys: [1, 2, 1],
    group: 'sorted-set',
    since: '6.2.0',
    handler: zrangestore,
  },
  zrevrange: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: rangeCommand({ by: 'rank', rev: true }, { byKeywords: false, withScores: true, limit: false }),
  },
  zrangebyscore: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.0.5',
    handler: rangeCommand({ by: 'score', rev: false }, R),
  },
  zrevrangebyscore: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.2.0',
    handler: rangeCommand({ by: 'score', rev: true }, R),
  },
  zrangebylex: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.8.9',
    handler: rangeCommand({ by: 'lex', rev: false }, { byKeywords: false, withScores: false, limit: true }),
  },
  zrevrangebylex: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.8.9',
    handler: rangeCommand({ by: 'lex', rev: true }, { byKeywords: false, withScores: false, limit: true }),
  },
  zrank: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: (c, argv) =>
      readZ(
        c,
        argv[1]!,
        (z) => {
          const r = z.rank(argv[2]!);
          return r < 0 ? null : r;
        },
        null,
      ),
  },
  zrevrank: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: (c, argv) =>
      readZ(
        c,
        argv[1]!,
        (z) => {
          const r = z.rank(argv[2]!);
          return r < 0 ? null : z.size - 1 - r;
        },
        null,
      ),
  },
  zpopmin: {
    arity: -2,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '5.0.0',
    handler: zpop(false),
  },
  zpopmax: {
    arity: -2,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '5.0.0',
    handler: zpop(true),
  },
  bzpopmin: {
    arity: -3,
    flags: 'write noscript blocking fast',
    keys: [1, -2, 1],
    group: 'sorted-set',
    since: '5.0.0',
    handler: bzpop(false),
  },
  bzpopmax: {
    arity: -3,
    flags: 'write noscript blocking fast',
    keys: [1, -2, 1],
    group: 'sorted-set',
    since: '5.0.0',
    handler: bzpop(true),
  },
  zmpop: {
    arity: -4,
    flags: 'write',
    group: 'sorted-set',
    since: '7.0.0',
    handler: (c, argv, e) => {
      const p = parseZmpop(argv, 1);
      if (p instanceof ErrorReply) return p;
      return zmpopOnce(c, e, p) ?? NULL_ARRAY;
    },
  },
  bzmpop: {
    arity: -5,
    flags: 'write blocking',
    group: 'sorted-set',
    since: '7.0.0',
    handler: (c, argv, e) => {
      const deadline = parseTimeout(argv[1]!, c.db.now);
      if (deadline instanceof ErrorReply) return deadline;
      const p = parseZmpop(argv, 2);
      if (p instanceof ErrorReply) return p;
      const r = zmpopOnce(c, e, p);
      if (r !== undefined) return r;
      if (e.inExec) return NULL_ARRAY;
      return e.block(c, {
        keys: p.keys,
        dbIndex: c.dbIndex,
        deadline,
        onTimeout: NULL_ARRAY,
        retry: () => {
          const v = zmpopOnce(c, e, p);
          if (v !== undefined) {
            for (const a of e.propagateAs ?? []) e.propagate?.(c.dbIndex, a);
            e.propagateAs = null;
          }
          return v;
        },
      });
    },
  },
  zremrangebyrank: {
    arity: 4,
    flags: 'write',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: (c, argv, e) => removeRange(c, argv, e, 'rank'),
  },
  zremrangebyscore: {
    arity: 4,
    flags: 'write',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '1.2.0',
    handler: (c, argv, e) => removeRange(c, argv, e, 'score'),
  },
  zremrangebylex: {
    arity: 4,
    flags: 'write',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.8.9',
    handler: (c, argv, e) => removeRange(c, argv, e, 'lex'),
  },
  zunion: {
    arity: -3,
    flags: 'readonly',
    group: 'sorted-set',
    since: '6.2.0',
    handler: zsetOp('union', false),
  },
  zinter: {
    arity: -3,
    flags: 'readonly',
    group: 'sorted-set',
    since: '6.2.0',
    handler: zsetOp('inter', false),
  },
  zdiff: {
    arity: -3,
    flags: 'readonly',
    group: 'sorted-set',
    since: '6.2.0',
    handler: zsetOp('diff', false),
  },
  zunionstore: {
    arity: -4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: zsetOp('union', true),
  },
  zinterstore: {
    arity: -4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.0.0',
    handler: zsetOp('inter', true),
  },
  zdiffstore: {
    arity: -4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '6.2.0',
    handler: zsetOp('diff', true),
  },
  zintercard: {
    arity: -3,
    flags: 'readonly',
    group: 'sorted-set',
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
      const sets: Array<Map<string, number> | RSet> = [];
      let missing = false;
      for (const k of argv.slice(2, 2 + n)) {
        const v = c.db.get(k);
        if (v === undefined) missing = true;
        else if (v instanceof ZSet) sets.push(v.dict);
        else if (v instanceof RSet) sets.push(v);
        else return E.WRONGTYPE;
      }
      if (missing) return 0;
      sets.sort((a, b) => a.size - b.size);
      let count = 0;
      for (const m of sets[0] instanceof RSet ? sets[0] : sets[0]!.keys()) {
        if (sets.every((s, i) => i === 0 || s.has(m))) {
          count++;
          if (limit > 0 && count >= limit) break;
        }
      }
      return count;
    },
  },
  zscan: {
    arity: -3,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '2.8.0',
    handler: zscan,
  },
  zrandmember: {
    arity: -2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'sorted-set',
    since: '6.2.0',
    handler: zrandmember,
  },
};

function removeRange(c: Client, argv: string[], e: Engine, by: 'rank' | 'score' | 'lex'): Reply {
  const spec: RangeSpec = {
    by,
    rev: false,
    offset: 0,
    count: -1,
    scores: false,
    min: argv[2]!,
    max: argv[3]!,
  };
  if (by === 'score' && !parseScoreRange(argv[2]!, argv[3]!)) return E.MIN_MAX_FLOAT;
  if (by === 'lex' && !parseLexRange(argv[2]!, argv[3]!)) return E.MIN_MAX_LEX;
  if (by === 'rank' && (intArg(argv[2]!) instanceof ErrorReply || intArg(argv[3]!) instanceof ErrorReply))
    return E.NOT_INT;
  const z = getZSet(c, argv[1]!);
  if (z instanceof ErrorReply) return z;
  if (!z) return 0;
  const r = selectRange(z, spec);
  if (r instanceof ErrorReply) return r;
  for (const [m] of r) z.remove(m);
  if (r.length > 0) {
    e.changed(c, argv[1]!, `zremrangeby${by}`, 'z');
    dropIfEmpty(c, e, argv[1]!, z);
  }
  return r.length;
}

export const zsetCommands = defineAll(defs);
