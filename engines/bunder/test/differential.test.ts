/**
 * Differential test against the real Redis on 127.0.0.1:6379: seeded random command sequences over all
 * data types go to both servers and the replies are compared exactly (type and bytes), except where
 * Redis itself is unordered or random. Uses database 9 with its own key prefix; FLUSHDB only there.
 */
import t from 'tap';
import { Bunder } from '../src/index.js';
import { RespClient, type RespValue, reachable } from './helpers/resp-client.js';

const REDIS_PORT = 6379;
const DB = '9';
const SEQUENCES = Number(process.env.BUNDER_DIFF_SEQUENCES ?? 30);
const STEPS = Number(process.env.BUNDER_DIFF_STEPS ?? 300);

/** Small deterministic PRNG (mulberry32) so that failures reproduce from the printed seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = (r: Rand) => string[];

const LEX_KEY = 'bd:lex';

class Rand {
  constructor(private readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  key(): string {
    return `bd:${this.pick(['a', 'b', 'c', 'd', 'e', 'f'])}`;
  }
  val(): string {
    return this.pick([
      'x',
      'y',
      'z',
      '',
      '0',
      '1',
      '-7',
      '42',
      '3.5',
      'hello world',
      'bin\x00\xff\r\n',
      'x'.repeat(70),
    ]);
  }
  num(): string {
    return String(this.pick([-3, -2, -1, 0, 1, 2, 3, 5, 100, -100]));
  }
  score(): string {
    return this.pick([
      '0',
      '1',
      '-1',
      '1.5',
      '0.1',
      '2.25',
      '1e20',
      '-inf',
      '+inf',
      '3',
      '(1',
      '(2.5',
      'abc',
    ]);
  }
  lex(): string {
    return this.pick(['-', '+', '[a', '(b', '[x', '(z', '[', 'bad']);
  }
  keys(n = this.int(1, 3)): string[] {
    return Array.from({ length: n }, () => this.key());
  }
}

const gens: Gen[] = [
  // strings
  (r) => [
    'SET',
    r.key(),
    r.val(),
    ...r.pick([
      [],
      ['NX'],
      ['XX'],
      ['GET'],
      ['EX', '1000'],
      ['KEEPTTL'],
      ['EX', '0'],
      ['PX', 'x'],
      ['NX', 'XX'],
    ]),
  ],
  (r) => ['GET', r.key()],
  (r) => ['GETSET', r.key(), r.val()],
  (r) => ['APPEND', r.key(), r.val()],
  (r) => ['STRLEN', r.key()],
  (r) => ['INCR', r.key()],
  (r) => ['DECR', r.key()],
  (r) => ['INCRBY', r.key(), r.pick([r.num(), '9223372036854775807', 'x'])],
  (r) => ['DECRBY', r.key(), r.num()],
  (r) => ['INCRBYFLOAT', r.key(), r.pick(['1.5', '-0.25', '2', '10.125', 'abc'])],
  (r) => ['GETRANGE', r.key(), r.num(), r.num()],
  (r) => ['SETRANGE', r.key(), r.pick(['0', '3', '10', '-1']), r.val()],
  (r) => ['MGET', ...r.keys()],
  (r) => ['MSET', r.key(), r.val(), ...(r.chance(0.5) ? [r.key(), r.val()] : [])],
  (r) => ['MSETNX', r.key(), r.val(), r.key(), r.val()],
  (r) => ['SETNX', r.key(), r.val()],
  (r) => ['GETDEL', r.key()],
  (r) => ['GETEX', r.key(), ...r.pick([[], ['PERSIST'], ['EX', '500'], ['EX', '-1']])],
  (r) => [
    'LCS',
    r.key(),
    r.key(),
    ...r.pick([[], ['LEN'], ['IDX'], ['IDX', 'WITHMATCHLEN'], ['IDX', 'MINMATCHLEN', '2']]),
  ],
  // keys
  (r) => ['DEL', ...r.keys()],
  (r) => ['EXISTS', ...r.keys()],
  (r) => ['TYPE', r.key()],
  (r) => ['RENAME', r.key(), r.key()],
  (r) => ['RENAMENX', r.key(), r.key()],
  (r) => ['COPY', r.key(), r.key(), ...r.pick([[], ['REPLACE']])],
  (r) => [
    'EXPIRE',
    r.key(),
    r.pick(['1000', '2000', '-1', 'x']),
    ...r.pick([[], ['NX'], ['XX'], ['GT'], ['LT'], ['NX', 'XX']]),
  ],
  (r) => ['PERSIST', r.key()],
  (r) => ['TTL', r.key()],
  (r) => ['TOUCH', ...r.keys()],
  // lists
  (r) => [r.pick(['LPUSH', 'RPUSH']), r.key(), r.val(), ...(r.chance(0.5) ? [r.val()] : [])],
  (r) => [r.pick(['LPUSHX', 'RPUSHX']), r.key(), r.val()],
  (r) => [r.pick(['LPOP', 'RPOP']), r.key(), ...r.pick([[], ['2'], ['0'], ['-1']])],
  (r) => ['LLEN', r.key()],
  (r) => ['LRANGE', r.key(), r.num(), r.num()],
  (r) => ['LINDEX', r.key(), r.num()],
  (r) => ['LSET', r.key(), r.num(), r.val()],
  (r) => ['LINSERT', r.key(), r.pick(['BEFORE', 'AFTER', 'X']), r.val(), r.val()],
  (r) => ['LREM', r.key(), r.num(), r.val()],
  (r) => ['LTRIM', r.key(), r.num(), r.num()],
  (r) => [
    'LPOS',
    r.key(),
    r.val(),
    ...r.pick([
      [],
      ['RANK', '-1'],
      ['COUNT', '0'],
      ['RANK', '2', 'COUNT', '2'],
      ['MAXLEN', '2'],
      ['RANK', '0'],
    ]),
  ],
  (r) => ['LMOVE', r.key(), r.key(), r.pick(['LEFT', 'RIGHT']), r.pick(['LEFT', 'RIGHT'])],
  (r) => ['RPOPLPUSH', r.key(), r.key()],
  (r) => ['LMPOP', '2', r.key(), r.key(), r.pick(['LEFT', 'RIGHT']), ...r.pick([[], ['COUNT', '2']])],
  // hashes
  (r) => ['HSET', r.key(), r.val(), r.val(), ...(r.chance(0.3) ? [r.val(), r.val()] : [])],
  (r) => ['HSETNX', r.key(), r.val(), r.val()],
  (r) => ['HGET', r.key(), r.val()],
  (r) => ['HMGET', r.key(), r.val(), r.val()],
  (r) => ['HDEL', r.key(), r.val(), r.val()],
  (r) => ['HEXISTS', r.key(), r.val()],
  (r) => ['HLEN', r.key()],
  (r) => ['HSTRLEN', r.key(), r.val()],
  (r) => ['HKEYS', r.key()],
  (r) => ['HVALS', r.key()],
  (r) => ['HGETALL', r.key()],
  (r) => ['HINCRBY', r.key(), r.pick(['0', '1', '42']), r.num()],
  (r) => ['HINCRBYFLOAT', r.key(), r.pick(['0', '1', '42']), r.pick(['1.5', '-0.25', 'x'])],
  // sets
  (r) => ['SADD', r.key(), r.val(), ...(r.chance(0.5) ? [r.val(), r.num()] : [])],
  (r) => ['SREM', r.key(), r.val(), r.val()],
  (r) => ['SMEMBERS', r.key()],
  (r) => ['SISMEMBER', r.key(), r.val()],
  (r) => ['SMISMEMBER', r.key(), r.val(), r.val()],
  (r) => ['SCARD', r.key()],
  (r) => ['SMOVE', r.key(), r.key(), r.val()],
  (r) => [r.pick(['SINTER', 'SUNION', 'SDIFF']), ...r.keys()],
  (r) => [r.pick(['SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE']), r.key(), ...r.keys()],
  (r) => ['SINTERCARD', '2', r.key(), r.key(), ...r.pick([[], ['LIMIT', '1']])],
  (r) => ['SPOP', r.key(), ...r.pick([[], ['0'], ['10']])],
  // sorted sets
  (r) => [
    'ZADD',
    r.key(),
    ...r.pick([[], ['NX'], ['XX'], ['GT', 'CH'], ['LT'], ['INCR'], ['NX', 'XX'], ['GT', 'LT']]),
    r.score(),
    r.val(),
  ],
  (r) => ['ZADD', r.key(), r.score(), r.val(), r.score(), r.val()],
  (r) => ['ZINCRBY', r.key(), r.score(), r.val()],
  (r) => ['ZREM', r.key(), r.val(), r.val()],
  (r) => ['ZSCORE', r.key(), r.val()],
  (r) => ['ZMSCORE', r.key(), r.val(), r.val()],
  (r) => ['ZCARD', r.key()],
  (r) => ['ZCOUNT', r.key(), r.score(), r.score()],
  // Lex ranges are only defined when all scores are equal: they get a key of their own.
  (r) => ['ZADD', LEX_KEY, '0', r.val(), ...(r.chance(0.5) ? ['0', r.pick(['a', 'b', 'c', 'x', 'zz'])] : [])],
  (r) => ['ZLEXCOUNT', LEX_KEY, r.lex(), r.lex()],
  (r) => [
    'ZRANGE',
    r.key(),
    r.num(),
    r.num(),
    ...r.pick([[], ['WITHSCORES'], ['REV'], ['REV', 'WITHSCORES'], ['LIMIT', '0', '1']]),
  ],
  (r) => [
    'ZRANGE',
    r.key(),
    r.score(),
    r.score(),
    'BYSCORE',
    ...r.pick([[], ['REV'], ['LIMIT', '1', '2'], ['WITHSCORES']]),
  ],
  (r) => [
    'ZRANGE',
    LEX_KEY,
    r.lex(),
    r.lex(),
    'BYLEX',
    ...r.pick([[], ['REV'], ['LIMIT', '0', '2'], ['WITHSCORES']]),
  ],
  (r) => [
    r.pick(['ZRANGEBYSCORE', 'ZREVRANGEBYSCORE']),
    r.key(),
    r.score(),
    r.score(),
    ...r.pick([[], ['WITHSCORES'], ['LIMIT', '0', '2']]),
  ],
  (r) => [
    r.pick(['ZRANGEBYLEX', 'ZREVRANGEBYLEX']),
    LEX_KEY,
    r.lex(),
    r.lex(),
    ...r.pick([[], ['LIMIT', '1', '1']]),
  ],
  (r) => ['ZREVRANGE', r.key(), r.num(), r.num(), ...r.pick([[], ['WITHSCORES']])],
  (r) => [r.pick(['ZRANK', 'ZREVRANK']), r.key(), r.val()],
  (r) => [r.pick(['ZPOPMIN', 'ZPOPMAX']), r.key(), ...r.pick([[], ['2'], ['-1']])],
  (r) => ['ZREMRANGEBYRANK', r.key(), r.num(), r.num()],
  (r) => ['ZREMRANGEBYSCORE', r.key(), r.score(), r.score()],
  (r) => ['ZREMRANGEBYLEX', r.pick([LEX_KEY, r.key()]), r.lex(), r.lex()],
  (r) => [
    r.pick(['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE']),
    r.key(),
    '2',
    r.key(),
    r.key(),
    ...r.pick([[], ['WEIGHTS', '2', '0.5'], ['AGGREGATE', 'MAX']]),
  ],
  (r) => [r.pick(['ZUNION', 'ZINTER', 'ZDIFF']), '2', r.key(), r.key(), ...r.pick([[], ['WITHSCORES']])],
  (r) => ['ZRANGESTORE', r.key(), r.key(), '0', '-1'],
  (r) => ['ZMPOP', '2', r.key(), r.key(), r.pick(['MIN', 'MAX']), ...r.pick([[], ['COUNT', '2']])],
  (r) => ['ZINTERCARD', '2', r.key(), r.key()],
  // errors of every kind
  (r) => [r.pick(['GET', 'LLEN', 'HLEN']), ...(r.chance(0.5) ? [] : [r.key(), r.key()])],
  (r) => ['NOSUCHCOMMAND', r.val()],
  () => ['DBSIZE'],
];

/** Commands whose reply order Redis does not define: compare as multisets. */
const UNORDERED = new Set(['SMEMBERS', 'SINTER', 'SUNION', 'SDIFF', 'HKEYS', 'HVALS', 'KEYS']);
/** Flat field/value replies: compare as sets of pairs. */
const PAIRS = new Set(['HGETALL']);
/** Random picks: compare only the reply's shape. */
const RANDOM = new Set(['SPOP']);

function canon(cmd: string, v: RespValue): unknown {
  if (RANDOM.has(cmd)) {
    if (v.t === 'array') return { t: 'array', n: v.v?.length ?? -1 };
    return { t: v.t, null: v.v === null };
  }
  if (v.t === 'array' && v.v && UNORDERED.has(cmd)) {
    return { t: 'array', v: v.v.map((x) => JSON.stringify(x)).sort() };
  }
  if (v.t === 'array' && v.v && PAIRS.has(cmd)) {
    const pairs: string[] = [];
    for (let i = 0; i < v.v.length; i += 2) pairs.push(JSON.stringify([v.v[i], v.v[i + 1]]));
    return { t: 'array', v: pairs.sort() };
  }
  return v;
}

/**
 * After SPOP the two servers' sets differ; make them equal again by copying Redis's state, members and
 * time to live (recreating the set dropped its TTL: a later TTL then differed, seed 74497358).
 */
async function resyncKey(redis: RespClient, bunder: RespClient, key: string): Promise<void> {
  const dump = await redis.call('SMEMBERS', key);
  const pttl = await redis.call('PTTL', key);
  await bunder.call('DEL', key);
  if (dump.t === 'array' && dump.v && dump.v.length > 0) {
    await bunder.call('SADD', key, ...dump.v.map((x) => (x as { v: string }).v));
    if (pttl.t === 'int' && Number(pttl.v) > 0) await bunder.call('PEXPIRE', key, pttl.v);
  }
}

const redisUp = await reachable(REDIS_PORT);
const skip = redisUp
  ? false
  : `no Redis on 127.0.0.1:${REDIS_PORT}; the differential test needs the reference server`;

t.test('random command sequences get identical replies from bunder and Redis', { skip }, async (t) => {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const redis = await RespClient.connect(REDIS_PORT);
  const bunder = await RespClient.connect(port);
  t.teardown(async () => {
    await redis.call('FLUSHDB');
    redis.close();
    bunder.close();
    await kv.close();
  });
  await redis.call('SELECT', DB);
  await bunder.call('SELECT', DB);
  const baseSeed = Number(process.env.BUNDER_DIFF_SEED ?? Date.now() % 1e9);
  let compared = 0;
  for (let s = 0; s < SEQUENCES; s++) {
    const seed = baseSeed + s;
    const r = new Rand(rng(seed));
    await redis.call('FLUSHDB');
    await bunder.call('FLUSHDB');
    const history: string[][] = [];
    for (let i = 0; i < STEPS; i++) {
      const cmd = r.pick(gens)(r);
      history.push(cmd);
      const [a, b] = await Promise.all([redis.call(...cmd), bunder.call(...cmd)]);
      const name = cmd[0]!.toUpperCase();
      const ca = canon(name, a);
      const cb = canon(name, b);
      if (JSON.stringify(ca) !== JSON.stringify(cb)) {
        t.same(cb, ca, `seed ${seed} step ${i}: ${JSON.stringify(cmd)}`, {
          history: history.slice(-15).map((h) => JSON.stringify(h)),
        });
        return;
      }
      compared++;
      if (name === 'SPOP' && a.t !== 'error') await resyncKey(redis, bunder, cmd[1]!);
    }
  }
  t.pass(`${compared} replies identical (seeds ${baseSeed}..${baseSeed + SEQUENCES - 1})`);
});

t.test('lex ranges over members with different scores follow Redis (listpack walk)', { skip }, async (t) => {
  // Redis calls these results unspecified, but answers them deterministically for listpack-sized sets.
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const redis = await RespClient.connect(REDIS_PORT);
  const bunder = await RespClient.connect(port);
  t.teardown(async () => {
    await redis.call('DEL', 'bd:lex');
    redis.close();
    bunder.close();
    await kv.close();
  });
  await redis.call('SELECT', DB);
  await bunder.call('SELECT', DB);
  const ranges = [
    ['[x', '+'],
    ['-', '+'],
    ['[b', '[y'],
    ['(a', '(z'],
    ['[z', '[a'],
    ['-', '-'],
    ['[', '(hello world'],
  ];
  for (const members of [
    ['-inf', 'hello world', '0.1', 'z', '2.25', ''],
    ['3', 'a', '1', 'c', '2', 'b', '0', 'zz'],
  ]) {
    for (const [min, max] of ranges) {
      for (const cmd of [
        ['ZLEXCOUNT', 'bd:lex', min!, max!],
        ['ZRANGEBYLEX', 'bd:lex', min!, max!],
        ['ZREVRANGEBYLEX', 'bd:lex', max!, min!],
        ['ZRANGEBYLEX', 'bd:lex', min!, max!, 'LIMIT', '1', '1'],
        ['ZREMRANGEBYLEX', 'bd:lex', min!, max!],
      ]) {
        const replies = [];
        for (const c of [redis, bunder]) {
          await c.call('DEL', 'bd:lex');
          await c.call('ZADD', 'bd:lex', ...members);
          replies.push(await c.call(...cmd));
        }
        t.same(replies[1], replies[0], `${JSON.stringify(members)} ${cmd.join(' ')}`);
      }
    }
  }
});
