/**
 * Differential test of SORT and SORT_RO against the real Redis on 127.0.0.1:6379 (database 10): lists,
 * sets and sorted sets of numbers and words, sorted numerically or ALPHA, ASC/DESC, with LIMIT, BY weight
 * keys and hash fields (and BY nosort), GET # / keys / hash fields, and STORE. Where Redis's own order
 * is undefined (a set read without sorting, or equal ALPHA BY weights that qsort may permute), replies
 * are compared as multisets.
 */
import t from 'tap';
import { type Rand, redisSkip, runDifferential } from './helpers/diff-kit.js';
import type { RespValue } from './helpers/resp-client.js';

const SEQUENCES = Number(process.env.BUNDER_DIFF_SEQUENCES ?? 25);
const STEPS = Number(process.env.BUNDER_DIFF_STEPS ?? 300);

const ELEMENTS = [
  '1',
  '2',
  '3',
  '10',
  '-4',
  '2.5',
  '007',
  'apple',
  'Banana',
  'cherry',
  '',
  ' 5',
  '1e3',
  'inf',
  '0x10',
];
const NUMERIC = ['1', '2', '3', '10', '-4', '2.5', '007', '1e3', '42', '-0'];

function elem(r: Rand): string {
  return r.chance(0.6) ? r.pick(NUMERIC) : r.pick(ELEMENTS);
}

function sortArgs(r: Rand, ro: boolean): string[] {
  const args: string[] = [];
  const parts = r.int(0, 4);
  for (let i = 0; i < parts; i++) {
    switch (r.int(0, 7)) {
      case 0:
        args.push(r.pick(['ASC', 'DESC', 'desc']));
        break;
      case 1:
        args.push('ALPHA');
        break;
      case 2:
        args.push('LIMIT', r.pick(['0', '1', '2', '-1', '10', 'x']), r.pick(['0', '1', '3', '-1', '100']));
        break;
      case 3:
        args.push('BY', r.pick(['w_*', 'h_*->f', 'nosort', 'missing_*', 'w_*->f', 'h_*->']));
        break;
      case 4:
      case 5:
        args.push('GET', r.pick(['#', 'w_*', 'h_*->f', 'h_*->g', 'nostar']));
        break;
      case 6:
        if (!ro) args.push('STORE', r.pick(['so:dst', 'so:list']));
        break;
      default:
        args.push(r.pick(['FOO', 'LIMIT', 'BY', 'STORE']));
    }
  }
  return args;
}

function next(r: Rand): string[] {
  switch (r.int(0, 11)) {
    case 0:
      return ['RPUSH', 'so:list', ...Array.from({ length: r.int(1, 4) }, () => elem(r))];
    case 1:
      return ['SADD', 'so:set', ...Array.from({ length: r.int(1, 4) }, () => elem(r))];
    case 2:
      return ['ZADD', 'so:zset', String(r.int(-5, 5)), elem(r)];
    case 3:
      return ['SET', `w_${elem(r)}`, r.pick(['1', '2', '5', '-3', '0.5', 'abc', '', '100'])];
    case 4:
      return ['HSET', `h_${elem(r)}`, r.pick(['f', 'g']), r.pick(['9', '1', 'zz', 'a', '3.5'])];
    case 5:
      return ['DEL', r.pick(['so:list', 'so:set', 'so:zset', 'so:dst'])];
    case 6:
      return ['LRANGE', r.pick(['so:dst', 'so:list']), '0', '-1'];
    case 7:
      return ['SORT_RO', r.pick(['so:list', 'so:set', 'so:zset', 'nokey', 'w_1']), ...sortArgs(r, true)];
    default:
      return ['SORT', r.pick(['so:list', 'so:set', 'so:zset', 'nokey', 'w_1']), ...sortArgs(r, false)];
  }
}

/** The options SORT actually parsed (arguments such as "STORE" can also be a BY or GET pattern). */
function options(cmd: string[]): {
  patterns: string[];
  store: string | null;
  alpha: boolean;
  limit: boolean;
} {
  const o = { patterns: [] as string[], store: null as string | null, alpha: false, limit: false };
  for (let j = 2; j < cmd.length; j++) {
    const a = cmd[j]!.toLowerCase();
    const left = cmd.length - j - 1;
    if (a === 'alpha') o.alpha = true;
    else if (a === 'limit' && left >= 2) {
      o.limit = true;
      j += 2;
    } else if (a === 'store' && left >= 1 && cmd[0] === 'SORT') o.store = cmd[++j]!;
    else if (a === 'by' && left >= 1) o.patterns.push(cmd[++j]!);
    else if (a === 'get' && left >= 1) j++;
  }
  return o;
}

function canon(cmd: string[], v: RespValue): unknown {
  const name = cmd[0]!.toUpperCase();
  if (!name.startsWith('SORT') || v.t !== 'array' || !v.v) return v;
  const o = options(cmd);
  // Every BY is applied in turn: the last pattern wins, but one without `*` disables sorting for good.
  const pattern = o.patterns[o.patterns.length - 1];
  const nosort = o.patterns.some((p) => !p.includes('*'));
  const unorderedSet = cmd[1] === 'so:set' && nosort && o.store === null;
  const alphaBy = o.alpha && pattern !== undefined && !nosort;
  if (unorderedSet || alphaBy) {
    // With LIMIT the selected subset itself depends on that undefined order: compare only the size.
    if (o.limit) return { t: 'array', n: v.v.length };
    return { t: 'array', multiset: v.v.map((x) => JSON.stringify(x)).sort() };
  }
  return v;
}

/** After an unordered STORE the stored lists may differ in order; copy Redis's. */
async function after(
  cmd: string[],
  a: RespValue,
  redis: import('./helpers/resp-client.js').RespClient,
  bunder: import('./helpers/resp-client.js').RespClient,
): Promise<void> {
  const dst = options(cmd).store;
  if (dst === null || a.t !== 'int') return;
  const list = await redis.call('LRANGE', dst, '0', '-1');
  await bunder.call('DEL', dst);
  if (list.t === 'array' && list.v && list.v.length > 0) {
    await bunder.call('RPUSH', dst, ...list.v.map((x) => (x as { v: string }).v));
  }
}

const skip = await redisSkip();

t.test('random SORT commands get identical replies from bunder and Redis', { skip }, async (t) => {
  await runDifferential(t, {
    db: '10',
    sequences: SEQUENCES,
    steps: STEPS,
    makeState: () => null,
    next,
    canon,
    after,
  });
});
