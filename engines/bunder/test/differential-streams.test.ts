/**
 * Differential test of the stream commands against the real Redis on 127.0.0.1:6379 (database 12):
 * seeded random sequences of XADD (explicit, partial `<ms>-*` and invalid IDs; MAXLEN/MINID, exact and
 * `~`, LIMIT, NOMKSTREAM), XRANGE/XREVRANGE (exclusive bounds, COUNT), XREAD, XDEL, XTRIM, XSETID,
 * consumer groups (XGROUP, XREADGROUP with `>` and history, NOACK, XACK, XPENDING, XCLAIM, XAUTOCLAIM)
 * and XINFO, with replies compared exactly.
 *
 * IDs are always explicit or `<ms>-*`: a bare `*` takes the server clock, which differs between the two
 * servers. Fields that are wall-clock times (idle times, delivery and seen times) are zeroed before the
 * comparison; everything else — including lag, entries-read and the radix tree counts — must match.
 * Node boundaries matter (approximate trimming removes whole nodes only), so long values are mixed in
 * to cross the 4096-byte node limit as well as the 100-entry one.
 */
import t from 'tap';
import { type Rand, redisSkip, runDifferential } from './helpers/diff-kit.js';
import type { RespValue } from './helpers/resp-client.js';

const SEQUENCES = Number(process.env.BUNDER_DIFF_SEQUENCES ?? 25);
const STEPS = Number(process.env.BUNDER_DIFF_STEPS ?? 400);

interface State {
  /** Milliseconds part for the next generated IDs: grows so that most XADDs succeed. */
  clock: number;
  /** Most XADDs of a sequence go to this key, so that it grows past the 100-entry node limit. */
  hot: string;
}

const KEYS = ['xs:a', 'xs:b', 'xs:c'];
const GROUPS = ['g1', 'g2', 'nogroup'];
const CONSUMERS = ['alice', 'bob', 'carol'];

function key(r: Rand): string {
  return r.chance(0.03) ? 'xs:str' : r.pick(KEYS);
}

function value(r: Rand): string {
  return r.pick([
    '1',
    '42',
    '-7',
    'v',
    'hello world',
    '',
    '3.14',
    'x'.repeat(300),
    'y'.repeat(900),
    'bin\x00\xff',
  ]);
}

function fields(r: Rand): string[] {
  const layout = r.pick([['temp'], ['temp', 'hum'], ['a'], ['1', '2'], ['temp', 'x', 'y']]);
  const n = r.chance(0.8) ? layout.length : r.int(1, 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(layout[i] ?? `f${i}`, value(r));
  return out;
}

/** An ID near the generator clock: mostly fresh, sometimes old or malformed. */
function id(r: Rand, s: State): string {
  const ms = Math.max(0, s.clock - r.int(0, 6));
  return r.pick([
    `${ms}-${r.int(0, 3)}`,
    `${ms}`,
    `${ms}-*`,
    `${ms}-${r.int(0, 3)}`,
    '0-0',
    '-',
    '+',
    'abc',
    '18446744073709551615-18446744073709551615',
  ]);
}

function rangeBound(r: Rand, s: State, low: boolean): string {
  const ms = r.int(0, s.clock + 2);
  return r.pick([
    low ? '-' : '+',
    `${ms}`,
    `${ms}-${r.int(0, 3)}`,
    `(${ms}-${r.int(0, 2)}`,
    `(${ms}`,
    'x',
    '(0-0',
  ]);
}

function trimArgs(r: Rand, s: State): string[] {
  const approx = r.pick([[], ['~'], ['='], ['~']]);
  const strategy = r.chance(0.6)
    ? ['MAXLEN', ...approx, String(r.pick([0, 1, 2, 5, 10, 50, 120, -1]))]
    : ['MINID', ...approx, `${Math.max(0, s.clock - r.int(0, 40))}-${r.int(0, 2)}`];
  const limit = r.chance(0.25) ? ['LIMIT', String(r.pick([0, 1, 5, 100, -1]))] : [];
  return [...strategy, ...limit];
}

function next(r: Rand, s: State): string[] {
  if (r.chance(0.3)) s.clock += r.int(0, 3);
  const k = key(r);
  const g = r.pick(GROUPS);
  const c = r.pick(CONSUMERS);
  const n = r.int(0, 12);
  if (n <= 4) {
    // XADD dominates so that streams grow past node boundaries.
    const k = r.chance(0.7) ? s.hot : key(r);
    const opts = [...(r.chance(0.05) ? ['NOMKSTREAM'] : []), ...(r.chance(0.2) ? trimArgs(r, s) : [])];
    const f = r.chance(0.02) ? ['lonely'] : fields(r);
    const burst = r.chance(0.3) ? r.int(2, 30) : 1;
    if (burst > 1) {
      s.clock += burst;
      return ['XADD', k, ...opts, `${s.clock}-*`, ...f];
    }
    return ['XADD', k, ...opts, r.chance(0.8) ? `${++s.clock}-${r.int(0, 2)}` : id(r, s), ...f];
  }
  switch (r.int(0, 24)) {
    case 0:
      return ['XLEN', k];
    case 1:
    case 2: {
      const count = r.chance(0.4) ? ['COUNT', String(r.pick([0, 1, 3, -1, 10]))] : [];
      return ['XRANGE', k, rangeBound(r, s, true), rangeBound(r, s, false), ...count];
    }
    case 3: {
      const count = r.chance(0.4) ? ['COUNT', String(r.pick([0, 1, 3]))] : [];
      return ['XREVRANGE', k, rangeBound(r, s, false), rangeBound(r, s, true), ...count];
    }
    case 4: {
      const keys = r.chance(0.7) ? [k] : [k, r.pick(KEYS)];
      const ids = keys.map(() => r.pick(['0', '$', id(r, s), `${Math.max(0, s.clock - 10)}`]));
      const count = r.chance(0.5) ? ['COUNT', String(r.pick([0, 1, 2, 5]))] : [];
      // A short BLOCK either is served at once or times out with a null array on both servers.
      const block = r.chance(0.1) ? ['BLOCK', '5'] : [];
      return ['XREAD', ...count, ...block, 'STREAMS', ...keys, ...ids];
    }
    case 5:
      return ['XDEL', k, ...Array.from({ length: r.int(1, 3) }, () => id(r, s))];
    case 6:
      return ['XTRIM', k, ...trimArgs(r, s)];
    case 7:
      return [
        'XGROUP',
        'CREATE',
        k,
        g,
        r.pick(['0', '$', id(r, s)]),
        ...r.pick([[], ['MKSTREAM'], ['ENTRIESREAD', String(r.int(-1, 5))]]),
      ];
    case 8:
      return ['XGROUP', 'SETID', k, g, r.pick(['0', '$', id(r, s)]), ...r.pick([[], ['ENTRIESREAD', '3']])];
    case 9:
      return r.chance(0.3) ? ['XGROUP', 'DESTROY', k, g] : ['XGROUP', 'CREATECONSUMER', k, g, c];
    case 10:
      return ['XGROUP', 'DELCONSUMER', k, g, c];
    case 11:
    case 12:
    case 13: {
      const count = r.chance(0.6) ? ['COUNT', String(r.pick([1, 2, 5, 0]))] : [];
      const noack = r.chance(0.15) ? ['NOACK'] : [];
      if (r.chance(0.08)) noack.push('BLOCK', '5');
      const ids = r.chance(0.75) ? '>' : r.pick(['0', id(r, s)]);
      return ['XREADGROUP', 'GROUP', g, c, ...count, ...noack, 'STREAMS', k, ids];
    }
    case 14:
      return ['XACK', k, g, ...Array.from({ length: r.int(1, 3) }, () => id(r, s))];
    case 15:
      return ['XPENDING', k, g];
    case 16: {
      const idle = r.chance(0.3) ? ['IDLE', r.pick(['0', '3600000'])] : [];
      const who = r.chance(0.3) ? [c] : [];
      return [
        'XPENDING',
        k,
        g,
        ...idle,
        rangeBound(r, s, true),
        rangeBound(r, s, false),
        r.pick(['10', '1', '0', '-1']),
        ...who,
      ];
    }
    case 17:
    case 18: {
      const ids = Array.from({ length: r.int(1, 3) }, () => id(r, s));
      const opts = r.pick([
        [],
        ['JUSTID'],
        ['FORCE'],
        ['RETRYCOUNT', '7'],
        ['FORCE', 'JUSTID'],
        ['LASTID', id(r, s)],
        ['IDLE', '5000'],
        ['BOGUS'],
      ]);
      return ['XCLAIM', k, g, c, r.pick(['0', '3600000', '-5', 'x']), ...ids, ...opts];
    }
    case 19:
      return [
        'XAUTOCLAIM',
        k,
        g,
        c,
        r.pick(['0', '3600000']),
        r.pick(['0', '-', id(r, s)]),
        ...r.pick([[], ['COUNT', '2'], ['JUSTID'], ['COUNT', '1', 'JUSTID'], ['COUNT', '0']]),
      ];
    case 20:
      return ['XINFO', 'STREAM', k, ...r.pick([[], ['FULL'], ['FULL', 'COUNT', '3']])];
    case 21:
      return ['XINFO', r.pick(['GROUPS', 'CONSUMERS']), k, ...(r.chance(0.5) ? [g] : [])];
    case 22:
      return [
        'XSETID',
        k,
        r.pick([id(r, s), `${s.clock + 5}-0`]),
        ...r.pick([[], ['ENTRIESADDED', String(r.int(0, 300))], ['MAXDELETEDID', id(r, s)]]),
      ];
    case 23:
      return r.pick([
        ['SET', 'xs:str', 'x'],
        ['DEL', k],
        ['TYPE', k],
        ['OBJECT', 'ENCODING', k],
        ['EXISTS', k],
      ]);
    default:
      return ['XADD', k, `${++s.clock}-0`, ...fields(r)];
  }
}

/** Zeroes wall-clock fields: idle times, delivery times and seen times. */
function canon(cmd: string[], v: RespValue): unknown {
  const name = `${cmd[0]!.toUpperCase()} ${(cmd[1] ?? '').toUpperCase()}`;
  if (name.startsWith('XPENDING') && cmd.length > 3 && v.t === 'array' && v.v) {
    return v.v.map((x) =>
      x.t === 'array' && x.v?.length === 4 ? { ...x, v: [x.v[0], x.v[1], 'T', x.v[3]] } : x,
    );
  }
  if (name.startsWith('XINFO')) return zeroTimes(v);
  return v;
}

function zeroTimes(v: RespValue): RespValue {
  if (v.t !== 'array' || !v.v) return v;
  const items = v.v.map(zeroTimes);
  for (let i = 0; i + 1 < items.length; i++) {
    const k = items[i]!;
    if (k.t !== 'bulk') continue;
    if (k.v === 'idle' || k.v === 'seen-time') items[i + 1] = { t: 'int', v: 'T' };
    if (k.v === 'pending') {
      const p = items[i + 1]!;
      if (p.t === 'array' && p.v) {
        items[i + 1] = {
          t: 'array',
          v: p.v.map((e) => {
            if (e.t !== 'array' || !e.v) return e;
            const w = [...e.v];
            w[w.length - 2] = { t: 'int', v: 'T' };
            return { t: 'array', v: w };
          }),
        };
      }
    }
  }
  return { t: 'array', v: items };
}

const skip = await redisSkip();

t.test('random stream command sequences get identical replies from bunder and Redis', { skip }, async (t) => {
  await runDifferential(t, {
    db: '12',
    sequences: SEQUENCES,
    steps: STEPS,
    makeState: (r) => ({ clock: 1, hot: r.pick(KEYS) }),
    next,
    canon,
  });
});
