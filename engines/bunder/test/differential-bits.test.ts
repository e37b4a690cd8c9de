/**
 * Differential test of the bitmap commands against the real Redis on 127.0.0.1:6379 (database 13):
 * seeded random SETBIT GETBIT BITCOUNT BITPOS (BYTE and BIT ranges, negative indexes) BITOP and
 * BITFIELD/BITFIELD_RO (signed and unsigned widths up to 64, `#` offsets, WRAP/SAT/FAIL overflow), mixed
 * with plain string writes so that bitmaps start from existing strings, integers and empty values.
 */
import t from 'tap';
import { type Rand, redisSkip, runDifferential } from './helpers/diff-kit.js';

const SEQUENCES = Number(process.env.BUNDER_DIFF_SEQUENCES ?? 25);
const STEPS = Number(process.env.BUNDER_DIFF_STEPS ?? 400);

const KEYS = ['bt:a', 'bt:b', 'bt:c', 'bt:list'];

function key(r: Rand): string {
  return r.chance(0.04) ? 'bt:list' : r.pick(KEYS.slice(0, 3));
}

function index(r: Rand): string {
  return String(r.pick([0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 31, 63, 100, -1, -2, -3, -8, -9, -100]));
}

function offset(r: Rand): string {
  return r.pick([String(r.int(0, 80)), String(r.int(0, 300)), '-1', 'x', '4294967296', '#3', '#0']);
}

function fieldType(r: Rand): string {
  return r.pick(['u1', 'u4', 'u8', 'u16', 'u63', 'i1', 'i5', 'i8', 'i16', 'i32', 'i64', 'u64', 'x8', 'U8']);
}

function fieldValue(r: Rand): string {
  return r.pick([
    '0',
    '1',
    '-1',
    '7',
    '100',
    '255',
    '256',
    '-128',
    '-129',
    '32767',
    '9223372036854775807',
    '-9223372036854775808',
    'z',
  ]);
}

function next(r: Rand): string[] {
  const k = key(r);
  switch (r.int(0, 13)) {
    case 0:
    case 1:
      return [
        'SETBIT',
        k,
        r.chance(0.9) ? String(r.int(0, 120)) : offset(r),
        r.pick(['0', '1', '1', '2', 'x']),
      ];
    case 2:
      return ['GETBIT', k, r.chance(0.9) ? String(r.int(0, 130)) : offset(r)];
    case 3:
      return [
        'BITCOUNT',
        k,
        ...r.pick([
          [],
          [index(r), index(r)],
          [index(r), index(r), r.pick(['BIT', 'BYTE', 'bit', 'WORD'])],
          [index(r)],
        ]),
      ];
    case 4:
    case 5:
      return [
        'BITPOS',
        k,
        r.pick(['0', '1', '1', '2']),
        ...r.pick([[], [index(r)], [index(r), index(r)], [index(r), index(r), r.pick(['BIT', 'BYTE', 'x'])]]),
      ];
    case 6:
      return [
        'BITOP',
        r.pick(['AND', 'OR', 'XOR', 'NOT', 'and', 'NAND']),
        r.pick(KEYS),
        ...Array.from({ length: r.int(1, 3) }, () => key(r)),
      ];
    case 7:
    case 8: {
      const ops: string[] = [];
      for (let i = r.int(1, 4); i > 0; i--) {
        const kind = r.int(0, 4);
        if (kind === 0) ops.push('GET', fieldType(r), offset(r));
        else if (kind === 1) ops.push('SET', fieldType(r), offset(r), fieldValue(r));
        else if (kind === 2) ops.push('INCRBY', fieldType(r), offset(r), fieldValue(r));
        else if (kind === 3) ops.push('OVERFLOW', r.pick(['WRAP', 'SAT', 'FAIL', 'wrap', 'BAD']));
        else ops.push(r.pick(['GET', 'SET', 'FOO']));
      }
      return ['BITFIELD', k, ...ops];
    }
    case 9:
      return [
        'BITFIELD_RO',
        k,
        ...r.pick([
          ['GET', fieldType(r), offset(r)],
          ['GET', 'u8', '0', 'GET', 'i16', '#1'],
          ['SET', 'u8', '0', '1'],
          [],
        ]),
      ];
    case 10:
      return ['SET', k, r.pick(['', 'a', 'foobar', '12345', '\xff\xf0\x00', 'x'.repeat(40)])];
    case 11:
      return r.pick([
        ['GET', k],
        ['STRLEN', k],
        ['APPEND', k, '\x01'],
        ['SETRANGE', k, String(r.int(0, 20)), '\xaa'],
      ]);
    case 12:
      return r.pick([
        ['RPUSH', 'bt:list', 'x'],
        ['DEL', k],
        ['EXISTS', k],
      ]);
    default:
      return [
        'BITFIELD',
        k,
        'INCRBY',
        r.pick(['u2', 'i3', 'u8', 'i8']),
        String(r.int(0, 30)),
        r.pick(['1', '-1', '3', '200']),
      ];
  }
}

const skip = await redisSkip();

t.test('random bitmap command sequences get identical replies from bunder and Redis', { skip }, async (t) => {
  await runDifferential(t, { db: '13', sequences: SEQUENCES, steps: STEPS, makeState: () => null, next });
});
