/**
 * INCRBYFLOAT / HINCRBYFLOAT long double emulation (src/util/long-double.ts): unit cases whose expected
 * replies were taken from Redis 7.0.15 on x86-64, and a fast-check differential property against the
 * real Redis on 127.0.0.1:6379 (database 8, keys under "ldt:"; only those keys are deleted).
 */
import fc from 'fast-check';
import t from 'tap';
import { Bunder } from '../src/index.js';
import { addLongDouble, formatLongDoubleHuman, LD_ZERO, parseLongDouble } from '../src/util/long-double.js';
import { RespClient, type RespValue, reachable } from './helpers/resp-client.js';

const REDIS_PORT = 6379;
const DB = '8';
const KEY = 'ldt:k';
const HASH = 'ldt:h';
const RUNS = Number(process.env.BUNDER_LD_RUNS ?? 600);

const NOT_FLOAT = 'ERR value is not a valid float';
const NAN = 'ERR increment would produce NaN or Infinity';

/** What INCRBYFLOAT replies for a key holding `value` (undefined: missing) incremented by each of `incrs`. */
function incr(value: string | undefined, ...incrs: string[]): string {
  let cur = value === undefined ? LD_ZERO : parseLongDouble(value);
  let text = '';
  for (const s of incrs) {
    if (cur === null) return NOT_FLOAT;
    const by = parseLongDouble(s);
    if (by === null) return NOT_FLOAT;
    const r = addLongDouble(cur, by);
    if (r === null || r.inf) return NAN;
    text = formatLongDoubleHuman(r);
    cur = parseLongDouble(text);
  }
  return text;
}

t.test('sums match Redis long double arithmetic and %.17Lf formatting', async (t) => {
  t.equal(incr('3.251', '2'), '5.251');
  t.equal(incr('0.1', '0.2'), '0.3');
  t.equal(incr('10.5', '0.1'), '10.6');
  t.equal(incr('1.1', '2.2'), '3.3');
  t.equal(incr(undefined, '0.1', '0.1', '0.1'), '0.3');
  t.equal(incr('1e-10', '1e10'), '10000000000', '1e-10 is below half an ulp of 1e10');
  t.equal(incr('5.0e3', '0'), '5000');
  t.equal(incr('10', '5'), '15');
  t.equal(incr('9007199254740993', '0'), '9007199254740993', 'integers beyond 2^53 stay exact');
  t.equal(incr('18446744073709551617', '0'), '18446744073709551616', '65 bits round to 64');
  t.equal(incr('123456789012345678901234567890', '0'), '123456789012345678899921813504');
  t.equal(
    incr('1e300', '1'),
    '1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144',
    'exact binary value, all digits',
  );
  t.equal(incr('-1e300', '0').length, 302);
  t.equal(
    incr('1e4932', '0').slice(0, 40),
    '1000000000000000000006018949387963891323',
    'near the top of the range',
  );
  t.equal(incr('1.18973149535723176502e+4932', '0').length, 4933, 'largest long double');
  t.equal(incr('1.18973149535723176509e+4932', '0'), NOT_FLOAT, 'above the largest long double');
  t.equal(incr('1e4932', '1e4932'), NAN, 'overflowing sum');
  t.equal(incr('1e4932', '-1e4932'), '0');
  t.equal(incr('1e400', '0').slice(0, 30), '100000000000000000002818806839');
});

t.test('small magnitudes and negative zero', async (t) => {
  t.equal(incr('0.000003814697265625', '0'), '0.00000381469726562', '2^-18: ties round to even');
  t.equal(incr('1e-17', '0'), '0.00000000000000001');
  t.equal(incr('5e-18', '0'), '0');
  t.equal(incr('1.5e-17', '0'), '0.00000000000000002');
  t.equal(incr('-5e-18', '0'), '0', 'rounds to -0.000…, printed as 0');
  t.equal(incr('-1e-30', '0'), '0', '"-0" prints as "0"');
  t.equal(incr('-0', '-0'), '0');
  t.equal(incr('-0.0', '0'), '0');
  t.equal(incr('0.1', '-0.1'), '0');
  t.equal(incr('1', '-1'), '0');
  t.equal(incr('0e99999999999', '0'), '0');
  t.equal(incr('1e-4940', '0'), '0', 'subnormal, accepted');
  t.equal(incr('-3.4e-4950', '0'), '0', 'smallest subnormal, negative');
  t.equal(incr('1e-5000', '0'), NOT_FLOAT, 'underflow to zero is refused');
  t.equal(incr('0x1p-16445', '0'), '0');
  t.equal(incr('0x1p-16446', '0'), NOT_FLOAT, 'half the smallest subnormal rounds to zero');
  t.equal(incr('0x1.8p-16446', '0'), '0');
});

t.test('the syntax strtold accepts through string2ld', async (t) => {
  t.equal(incr('1e5000', '0'), NOT_FLOAT, 'overflow is refused');
  t.equal(incr(' 1', '0'), NOT_FLOAT, 'leading space');
  t.equal(incr('1 ', '0'), NOT_FLOAT, 'trailing space');
  t.equal(incr('1\x002', '0'), NOT_FLOAT, 'embedded NUL');
  t.equal(incr('', '0'), NOT_FLOAT);
  for (const bad of ['.', '1e', '1e+', '0x', '0x1p', 'nan', 'NaN', '1_0', 'infinit', '+-1', 'abc', '0x.p1']) {
    t.equal(incr(bad, '0'), NOT_FLOAT, JSON.stringify(bad));
  }
  t.equal(incr('1.', '0'), '1');
  t.equal(incr('.5', '0'), '0.5');
  t.equal(incr('+.5e1', '0'), '5');
  t.equal(incr('00012', '0'), '12');
  t.equal(incr('0x1p3', '0'), '8');
  t.equal(incr('0X1.8P1', '0'), '3');
  t.equal(incr('0x10', '0'), '16');
  t.equal(incr('0x1e3', '0'), '483', "'e' is a hex digit");
  t.equal(incr('0x.8', '0'), '0.5');
  t.equal(incr('0x1.p1', '0'), '2');
  for (const inf of ['inf', '-Infinity', 'INF', 'infinity', '+inf']) t.equal(incr(inf, '0'), NAN, inf);
  t.equal(incr('0', 'inf'), NAN);
  t.equal(incr(`1.${'0'.repeat(5117)}`, '0'), '1', '5119 characters are parsed');
  t.equal(incr(`1.${'0'.repeat(5118)}`, '0'), NOT_FLOAT, '5120 characters are too long');
  t.equal(incr(`0.${'0'.repeat(5116)}1`, '0'), NOT_FLOAT, '1e-5117 underflows');
});

t.test('ordinary values are fast', async (t) => {
  const start = process.hrtime.bigint();
  const n = 20000;
  for (let i = 0; i < n; i++) incr('3.251', '2');
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  t.ok(us < 20, `${us.toFixed(2)} µs per parse + add + format + reparse`);
});

t.test('HINCRBYFLOAT errors through the server', async (t) => {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const c = await RespClient.connect(port);
  t.teardown(async () => {
    c.close();
    await kv.close();
  });
  t.same(await c.call('HINCRBYFLOAT', 'h', 'f', 'inf'), { t: 'error', v: 'ERR value is NaN or Infinity' });
  t.same(await c.call('EXISTS', 'h'), { t: 'int', v: 0 });
  t.same(await c.call('HSET', 'h', 'f', '3.251'), { t: 'int', v: 1 });
  t.same(await c.call('HINCRBYFLOAT', 'h', 'f', '2'), { t: 'bulk', v: '5.251' });
  t.same(await c.call('HSET', 'h', 'g', '1e4932'), { t: 'int', v: 1 });
  t.same(await c.call('HINCRBYFLOAT', 'h', 'g', '1e4932'), { t: 'error', v: NAN });
  t.same(await c.call('HSET', 'h', 'g', 'x'), { t: 'int', v: 0 });
  t.same(await c.call('HINCRBYFLOAT', 'h', 'g', '1'), { t: 'error', v: 'ERR hash value is not a float' });
  t.same(await c.call('SET', 's', '3.251'), { t: 'simple', v: 'OK' });
  t.same(await c.call('INCRBYFLOAT', 's', '2'), { t: 'bulk', v: '5.251' });
});

// ---- differential property against the real Redis ----

const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const hexDigits = (max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength: max });

/** Decimal text: optional sign, integer and fraction digits (few or many), optional exponent of some range. */
const decimal = fc
  .tuple(
    fc.constantFrom('', '', '', '-', '+'),
    fc.oneof({ weight: 4, arbitrary: digits(0, 4) }, { weight: 1, arbitrary: digits(5, 40) }),
    fc.constantFrom('.', '.', ''),
    fc.oneof({ weight: 4, arbitrary: digits(0, 6) }, { weight: 1, arbitrary: digits(7, 60) }),
    fc.oneof(
      { weight: 5, arbitrary: fc.constant('') },
      { weight: 2, arbitrary: fc.integer({ min: -25, max: 25 }) },
      { weight: 1, arbitrary: fc.integer({ min: -400, max: 400 }) },
      { weight: 1, arbitrary: fc.integer({ min: -4970, max: 4940 }) },
    ),
    fc.constantFrom('e', 'E', 'e+'),
  )
  .map(([sign, int, dot, frac, exp, e]) => {
    const body = dot ? `${int}.${frac}` : int + frac;
    if (exp === '') return sign + body;
    const ex = e === 'e+' && exp >= 0 ? `e+${exp}` : `${e === 'e+' ? 'e' : e}${exp}`;
    return sign + body + ex;
  });

/** The forms JS prints doubles in. */
const fromDouble = fc
  .tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 20 }), fc.nat(3))
  .map(([d, p, how]) => {
    if (how === 0) return String(d);
    if (how === 1) return d.toExponential(p);
    if (how === 2 && Math.abs(d) < 1e21) return d.toFixed(p);
    return d.toPrecision(p + 1);
  });

const hexFloat = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.constantFrom('0x', '0X'),
    hexDigits(6),
    fc.constantFrom('.', ''),
    hexDigits(18),
    fc.oneof(
      fc.constant(''),
      fc.integer({ min: -16500, max: 16400 }).map((p) => `p${p}`),
    ),
  )
  .map(([s, x, a, dot, b, p]) => `${s}${x}${a}${dot}${b}${p}`);

const oddities = fc.constantFrom(
  '',
  ' 1',
  '1 ',
  'abc',
  'nan',
  'inf',
  '-inf',
  'Infinity',
  '.',
  '1e',
  '0x',
  '3.251',
  '0.1',
  '0.2',
  '-0',
  '1e4932',
  '-1e4932',
  '1e-4950',
  '0x1p-16446',
  '9223372036854775807',
  '-9223372036854775808',
  '18446744073709551616',
);

const value = fc.oneof(
  { weight: 6, arbitrary: decimal },
  { weight: 3, arbitrary: fromDouble },
  { weight: 1, arbitrary: hexFloat },
  { weight: 1, arbitrary: oddities },
);

function encode(cmds: string[][]): Buffer {
  return Buffer.concat(cmds.map((c) => RespClient.encode(c)));
}

const redisUp = await reachable(REDIS_PORT);
const skip = redisUp
  ? false
  : `no Redis on 127.0.0.1:${REDIS_PORT}; the differential long double test needs the reference server`;

t.test('INCRBYFLOAT and HINCRBYFLOAT replies equal Redis for random decimal strings', { skip }, async (t) => {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const redis = await RespClient.connect(REDIS_PORT);
  const bunder = await RespClient.connect(port);
  t.teardown(async () => {
    await redis.call('DEL', KEY, HASH);
    redis.close();
    bunder.close();
    await kv.close();
  });
  await redis.call('SELECT', DB);
  await bunder.call('SELECT', DB);
  let compared = 0;
  let sums = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.option(value, { nil: undefined }),
      fc.array(value, { minLength: 1, maxLength: 5 }),
      async (start, incrs) => {
        const cmds: string[][] = [['DEL', KEY, HASH]];
        if (start !== undefined) cmds.push(['SET', KEY, start], ['HSET', HASH, 'f', start]);
        for (const by of incrs) cmds.push(['INCRBYFLOAT', KEY, by]);
        for (const by of incrs) cmds.push(['HINCRBYFLOAT', HASH, 'f', by]);
        cmds.push(['GET', KEY], ['HGET', HASH, 'f']);
        const bytes = encode(cmds);
        const [a, b] = await Promise.all([
          redis.sendRaw(bytes, cmds.length),
          bunder.sendRaw(bytes, cmds.length),
        ]);
        for (let i = 0; i < cmds.length; i++) {
          const ra: RespValue = a[i]!;
          const rb: RespValue = b[i]!;
          if (JSON.stringify(ra) !== JSON.stringify(rb)) {
            throw new Error(
              `${JSON.stringify(cmds[i])}: Redis ${JSON.stringify(ra).slice(0, 300)} bunder ${JSON.stringify(rb).slice(0, 300)}`,
            );
          }
        }
        compared += cmds.length;
        sums += a.filter((r, i) => r.t === 'bulk' && cmds[i]![0]!.endsWith('FLOAT')).length;
      },
    ),
    { numRuns: RUNS, seed: process.env.BUNDER_LD_SEED ? Number(process.env.BUNDER_LD_SEED) : undefined },
  );
  t.pass(`${RUNS} cases, ${compared} replies identical (${sums} successful increments)`);
});
