/**
 * Bitmap commands over string values, as Redis 7.0's bitops.c: SETBIT GETBIT BITCOUNT BITPOS (BYTE|BIT
 * ranges) and BITOP, plus the command table entries of BITFIELD/BITFIELD_RO (bitfield.ts). Bits are
 * numbered from the most significant bit of the first byte.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { E, ErrorReply, err, type Reply } from '../reply.js';
import { parseI64 } from '../util/numbers.js';
import { type Bytes, bitOffset, readString, writableString } from './bit-access.js';
import { bitfield } from './bitfield.js';
import { type Def, defineAll } from './table.js';
import { eq } from './util.js';

function setbit(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const off = bitOffset(argv[2]!, e);
  if (off instanceof ErrorReply) return off;
  const on = parseI64(argv[3]!);
  if (on === null || (on !== 0 && on !== 1)) return E.BIT_VALUE;
  const w = writableString(c, key, off);
  if (w instanceof ErrorReply) return w;
  const byte = off >> 3;
  const bit = 7 - (off & 7);
  const old = (w.m.buf[byte]! >> bit) & 1;
  if (w.grew || old !== on) {
    w.m.buf[byte] = (w.m.buf[byte]! & ~(1 << bit)) | (on << bit);
    e.changed(c, key, 'setbit', '$');
  }
  return old;
}

function getbit(c: Client, argv: string[], e: Engine): Reply {
  const off = bitOffset(argv[2]!, e);
  if (off instanceof ErrorReply) return off;
  const s = readString(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  if (!s) return 0;
  const byte = Math.floor(off / 8);
  if (byte >= s.length) return 0;
  return (s.at(byte) >> (7 - (off & 7))) & 1;
}

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

/** Start/end of BITCOUNT/BITPOS in bytes or bits, normalised as Redis does. */
interface Range {
  start: number;
  end: number;
  /** Bits of the first/last byte outside a BIT range. */
  firstMask: number;
  lastMask: number;
}

function normaliseRange(start: number, end: number, len: number, isBit: boolean): Range {
  const total = isBit ? len * 8 : len;
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  let firstMask = 0;
  let lastMask = 0;
  if (isBit && start <= end) {
    firstMask = ~((1 << (8 - (start & 7))) - 1) & 0xff;
    lastMask = (1 << (7 - (end & 7))) - 1;
    start >>= 3;
    end >>= 3;
  }
  return { start, end, firstMask, lastMask };
}

function parseUnit(arg: string): boolean | null {
  if (eq(arg, 'bit')) return true;
  if (eq(arg, 'byte')) return false;
  return null;
}

function bitcount(c: Client, argv: string[]): Reply {
  const s = readString(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  if (!s) return 0;
  let r: Range;
  if (argv.length === 4 || argv.length === 5) {
    const start = parseI64(argv[2]!);
    if (start === null) return E.NOT_INT;
    const end = parseI64(argv[3]!);
    if (end === null) return E.NOT_INT;
    // Redis answers an inverted negative range before it looks at the unit.
    if (start < 0 && end < 0 && start > end) return 0;
    let isBit = false;
    if (argv.length === 5) {
      const u = parseUnit(argv[4]!);
      if (u === null) return E.SYNTAX;
      isBit = u;
    }
    r = normaliseRange(start, end, s.length, isBit);
  } else if (argv.length === 2) {
    r = { start: 0, end: s.length - 1, firstMask: 0, lastMask: 0 };
  } else return E.SYNTAX;
  if (r.start > r.end) return 0;
  let count = 0;
  for (let i = r.start; i <= r.end; i++) count += POPCOUNT[s.at(i)]!;
  if (r.firstMask) count -= POPCOUNT[s.at(r.start) & r.firstMask]!;
  if (r.lastMask) count -= POPCOUNT[s.at(r.end) & r.lastMask]!;
  return count;
}

/** First bit equal to `bit` in bytes [from, to], relative to `from`; for 0 and none found, the bit after. */
function bitScan(byteAt: (i: number) => number, from: number, to: number, bit: number): number {
  for (let i = from; i <= to; i++) {
    const b = byteAt(i);
    if ((bit === 1 && b !== 0) || (bit === 0 && b !== 0xff)) {
      for (let k = 7; k >= 0; k--) if (((b >> k) & 1) === bit) return (i - from) * 8 + (7 - k);
    }
  }
  return bit === 1 ? -1 : (to - from + 1) * 8;
}

function bitpos(c: Client, argv: string[]): Reply {
  const bit = parseI64(argv[2]!);
  if (bit === null) return E.NOT_INT;
  if (bit !== 0 && bit !== 1) return err('ERR The bit argument must be 1 or 0.');
  const s = readString(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  if (!s) return bit ? -1 : 0;
  let r: Range;
  let endGiven = false;
  if (argv.length >= 4 && argv.length <= 6) {
    const start = parseI64(argv[3]!);
    if (start === null) return E.NOT_INT;
    let isBit = false;
    if (argv.length === 6) {
      const u = parseUnit(argv[5]!);
      if (u === null) return E.SYNTAX;
      isBit = u;
    }
    let end: number;
    if (argv.length >= 5) {
      const n = parseI64(argv[4]!);
      if (n === null) return E.NOT_INT;
      end = n;
      endGiven = true;
    } else end = isBit ? s.length * 8 + 7 : s.length - 1;
    r = normaliseRange(start, end, s.length, isBit);
  } else if (argv.length === 3) {
    r = { start: 0, end: s.length - 1, firstMask: 0, lastMask: 0 };
  } else return E.SYNTAX;
  if (r.start > r.end) return -1;
  // Bits outside a BIT range are forced to the value not searched for, then the bytes are scanned.
  const at = (i: number): number => {
    let b = s.at(i);
    if (i === r.start && r.firstMask) b = bit ? b & ~r.firstMask : b | r.firstMask;
    if (i === r.end && r.lastMask) b = bit ? b & ~r.lastMask : b | r.lastMask;
    return b & 0xff;
  };
  const pos = bitScan(at, r.start, r.end, bit);
  const bytes = r.end - r.start + 1;
  if (endGiven && bit === 0 && pos === bytes * 8) return -1;
  if (pos === -1) return -1;
  if (r.lastMask && bit === 0 && pos === bytes * 8) return -1;
  return pos + r.start * 8;
}

function bitop(c: Client, argv: string[], e: Engine): Reply {
  const op = argv[1]!.toLowerCase();
  if (op !== 'and' && op !== 'or' && op !== 'xor' && op !== 'not') return E.SYNTAX;
  if (op === 'not' && argv.length !== 4) return err('ERR BITOP NOT must be called with a single source key.');
  const dest = argv[2]!;
  const srcs: Bytes[] = [];
  let maxlen = 0;
  for (let j = 3; j < argv.length; j++) {
    const s = readString(c, argv[j]!);
    if (s instanceof ErrorReply) return s;
    const b = s ?? { length: 0, at: () => 0 };
    srcs.push(b);
    if (b.length > maxlen) maxlen = b.length;
  }
  if (maxlen === 0) {
    if (c.db.delete(dest)) e.changed(c, dest, 'del', 'g');
    return 0;
  }
  const out = Buffer.alloc(maxlen);
  for (let i = 0; i < maxlen; i++) {
    const byte = (s: Bytes) => (i < s.length ? s.at(i) : 0);
    let v = byte(srcs[0]!);
    if (op === 'not') v = ~v & 0xff;
    for (let k = 1; k < srcs.length; k++) {
      const x = byte(srcs[k]!);
      if (op === 'and') v &= x;
      else if (op === 'or') v |= x;
      else v ^= x;
    }
    out[i] = v;
  }
  c.db.set(dest, out.toString('latin1'));
  e.changed(c, dest, 'set', '$');
  return maxlen;
}

const defs: Record<string, Def> = {
  setbit: {
    arity: 4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'bitmap',
    since: '2.2.0',
    handler: setbit,
  },
  getbit: {
    arity: 3,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'bitmap',
    since: '2.2.0',
    handler: getbit,
  },
  bitcount: {
    arity: -2,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'bitmap',
    since: '2.6.0',
    handler: bitcount,
  },
  bitpos: { arity: -3, flags: 'readonly', keys: [1, 1, 1], group: 'bitmap', since: '2.8.7', handler: bitpos },
  bitop: {
    arity: -4,
    flags: 'write denyoom',
    keys: [2, -1, 1],
    group: 'bitmap',
    since: '2.6.0',
    handler: bitop,
  },
  bitfield: {
    arity: -2,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'bitmap',
    since: '3.2.0',
    handler: bitfield(false),
  },
  bitfield_ro: {
    arity: -2,
    flags: 'readonly fast',
    keys: [1, 1, 1],
    group: 'bitmap',
    since: '6.0.0',
    handler: bitfield(true),
  },
};

export const bitCommands = defineAll(defs);
