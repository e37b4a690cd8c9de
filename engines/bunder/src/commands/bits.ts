/**
 * Bitmap commands over string values, as Redis 7.0's bitops.c: SETBIT GETBIT BITCOUNT BITPOS (BYTE|BIT
 * ranges) BITOP and BITFIELD/BITFIELD_RO with signed/unsigned fields, `#` offsets and the three overflow
 * policies. Bits are numbered from the most significant bit of the first byte. Reads work on the stored
 * latin1 string or MutableString directly (no copy); writes go through a MutableString.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { MutableString } from '../keyspace.js';
import { E, ErrorReply, err, type Reply } from '../reply.js';
import { parseI64, parseI64Big } from '../util/numbers.js';
import { mutable } from './strings.js';
import { type Def, defineAll } from './table.js';
import { eq } from './util.js';

/** Read access to a string value's bytes without copying it. */
interface Bytes {
  readonly length: number;
  at(i: number): number;
}

function bytesOf(v: string | MutableString): Bytes {
  if (typeof v === 'string') return { length: v.length, at: (i) => v.charCodeAt(i) };
  const buf = v.buf;
  return { length: v.len, at: (i) => buf[i]! };
}

/** The key's string bytes; undefined when missing, WRONGTYPE for other types. */
function readString(c: Client, key: string): Bytes | undefined | ErrorReply {
  const v = c.db.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'string' || v instanceof MutableString) return bytesOf(v);
  return E.WRONGTYPE;
}

function maxBulk(e: Engine): number {
  return e.config.int('proto-max-bulk-len') || 512 * 1024 * 1024;
}

/** getBitOffsetFromArgument: a bit offset, or `#n` (times the field width) where allowed. */
function bitOffset(arg: string, e: Engine, hashBits = 0): number | ErrorReply {
  const useHash = hashBits > 0 && arg[0] === '#';
  const n = parseI64(useHash ? arg.slice(1) : arg);
  if (n === null) return E.BIT_OFFSET;
  const off = useHash ? n * hashBits : n;
  if (off < 0 || Math.floor(off / 8) >= maxBulk(e)) return E.BIT_OFFSET;
  return off;
}

/** lookupStringForBitCommand: the key's string, created or zero-padded to hold bit `maxBit`. */
function writableString(
  c: Client,
  key: string,
  maxBit: number,
): { m: MutableString; grew: boolean } | ErrorReply {
  const bytes = Math.floor(maxBit / 8) + 1;
  const m = mutable(c, key);
  if (m instanceof ErrorReply) return m;
  if (!m) {
    const fresh = new MutableString('', bytes);
    fresh.grow(bytes);
    c.db.set(key, fresh);
    return { m: fresh, grew: true };
  }
  const before = m.len;
  m.grow(bytes);
  return { m, grew: m.len !== before };
}

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

// --- BITFIELD ----------------------------------------------------------------------------------------

type Overflow = 'wrap' | 'sat' | 'fail';

interface FieldOp {
  op: 'get' | 'set' | 'incrby';
  signed: boolean;
  bits: number;
  offset: number;
  value: bigint;
  overflow: Overflow;
}

const BAD_TYPE = err(
  'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.',
);

function fieldType(arg: string): { signed: boolean; bits: number } | ErrorReply {
  const signed = arg[0] === 'i';
  if (!signed && arg[0] !== 'u') return BAD_TYPE;
  const n = parseI64(arg.slice(1));
  if (n === null || n < 1 || (signed && n > 64) || (!signed && n > 63)) return BAD_TYPE;
  return { signed, bits: n };
}

/** Reads an unsigned field of `bits` bits at bit `offset` (bits past the end read as zero). */
function getField(at: (i: number) => number, len: number, offset: number, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i++) {
    const o = offset + i;
    const byte = o >> 3;
    const b = byte < len ? (at(byte) >> (7 - (o & 7))) & 1 : 0;
    v = (v << 1n) | BigInt(b);
  }
  return v;
}

function setField(buf: Buffer, offset: number, bits: number, value: bigint): void {
  for (let i = 0; i < bits; i++) {
    const o = offset + i;
    const bit = Number((value >> BigInt(bits - 1 - i)) & 1n);
    const byte = o >> 3;
    const shift = 7 - (o & 7);
    buf[byte] = (buf[byte]! & ~(1 << shift)) | (bit << shift);
  }
}

const U64 = (x: bigint) => BigInt.asUintN(64, x);
const I64 = (x: bigint) => BigInt.asIntN(64, x);

/** checkUnsignedBitfieldOverflow with C's 64-bit arithmetic. Returns [overflowed, limit]. */
function unsignedOverflow(value: bigint, incr: bigint, bits: number, ow: Overflow): [boolean, bigint] {
  const max = (1n << BigInt(bits)) - 1n;
  const maxincr = I64(max - value);
  const minincr = I64(-value);
  const wrap = (): [boolean, bigint] => [true, U64(value + incr) & max];
  if (value > max || (incr > 0n && incr > maxincr)) return ow === 'wrap' ? wrap() : [true, max];
  if (incr < 0n && incr < minincr) return ow === 'wrap' ? wrap() : [true, 0n];
  return [false, 0n];
}

/** checkSignedBitfieldOverflow with C's 64-bit arithmetic. */
function signedOverflow(value: bigint, incr: bigint, bits: number, ow: Overflow): [boolean, bigint] {
  const max = bits === 64 ? 2n ** 63n - 1n : (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  const maxincr = I64(U64(max) - U64(value));
  const minincr = I64(min - value);
  const wrap = (): [boolean, bigint] => {
    let c = U64(U64(value) + U64(incr));
    if (bits < 64) {
      const mask = U64(-1n << BigInt(bits));
      if (c & (1n << BigInt(bits - 1))) c |= mask;
      else c &= ~mask & (2n ** 64n - 1n);
    }
    return [true, I64(c)];
  };
  if (value > max || (bits !== 64 && incr > maxincr) || (value >= 0n && incr > 0n && incr > maxincr)) {
    return ow === 'wrap' ? wrap() : [true, max];
  }
  if (value < min || (bits !== 64 && incr < minincr) || (value < 0n && incr < 0n && incr < minincr)) {
    return ow === 'wrap' ? wrap() : [true, min];
  }
  return [false, 0n];
}

function toReply(v: bigint): number | bigint {
  return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
}

function bitfield(readonlyCommand: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply => {
    const key = argv[1]!;
    const ops: FieldOp[] = [];
    let overflow: Overflow = 'wrap';
    let readonly = true;
    let highest = 0;
    for (let j = 2; j < argv.length; j++) {
      const rem = argv.length - j - 1;
      const sub = argv[j]!;
      let op: FieldOp['op'];
      if (eq(sub, 'get') && rem >= 2) op = 'get';
      else if (eq(sub, 'set') && rem >= 3) op = 'set';
      else if (eq(sub, 'incrby') && rem >= 3) op = 'incrby';
      else if (eq(sub, 'overflow') && rem >= 1) {
        const t = argv[++j]!.toLowerCase();
        if (t !== 'wrap' && t !== 'sat' && t !== 'fail') return err('ERR Invalid OVERFLOW type specified');
        overflow = t;
        continue;
      } else return E.SYNTAX;
      const type = fieldType(argv[j + 1]!);
      if (type instanceof ErrorReply) return type;
      const offset = bitOffset(argv[j + 2]!, e, type.bits);
      if (offset instanceof ErrorReply) return offset;
      let value = 0n;
      if (op !== 'get') {
        readonly = false;
        highest = Math.max(highest, offset + type.bits - 1);
        const v = parseI64Big(argv[j + 3]!);
        if (v === null) return E.NOT_INT;
        value = v;
      }
      ops.push({ op, signed: type.signed, bits: type.bits, offset, value, overflow });
      j += op === 'get' ? 2 : 3;
    }
    let target: MutableString | null = null;
    let src: Bytes | undefined;
    if (readonly) {
      const s = readString(c, key);
      if (s instanceof ErrorReply) return s;
      src = s;
    } else {
      if (readonlyCommand) return err('ERR BITFIELD_RO only supports the GET subcommand');
      const w = writableString(c, key, highest);
      if (w instanceof ErrorReply) return w;
      target = w.m;
    }
    const out: Reply[] = [];
    let changes = 0;
    for (const o of ops) {
      const bytes = target ? bytesOf(target) : src;
      const at = bytes ? (i: number) => bytes.at(i) : () => 0;
      const len = bytes?.length ?? 0;
      const raw = getField(at, len, o.offset, o.bits);
      if (o.op === 'get') {
        out.push(toReply(o.signed ? BigInt.asIntN(o.bits, raw) : raw));
        continue;
      }
      let newval: bigint;
      let retval: bigint;
      let overflowed: boolean;
      if (o.signed) {
        const old = BigInt.asIntN(o.bits, raw);
        if (o.op === 'incrby') {
          const [ov, lim] = signedOverflow(old, o.value, o.bits, o.overflow);
          overflowed = ov;
          newval = ov ? lim : old + o.value;
          retval = newval;
        } else {
          const [ov, lim] = signedOverflow(o.value, 0n, o.bits, o.overflow);
          overflowed = ov;
          newval = ov ? lim : o.value;
          retval = old;
        }
      } else {
        const old = raw;
        if (o.op === 'incrby') {
          const [ov, lim] = unsignedOverflow(old, o.value, o.bits, o.overflow);
          overflowed = ov;
          newval = ov ? lim : U64(old + o.value);
          retval = newval;
        } else {
          const v = U64(o.value);
          const [ov, lim] = unsignedOverflow(v, 0n, o.bits, o.overflow);
          overflowed = ov;
          newval = ov ? lim : v;
          retval = old;
        }
        retval = I64(retval);
      }
      if (overflowed && o.overflow === 'fail') out.push(null);
      else {
        out.push(toReply(retval));
        setField(target!.buf, o.offset, o.bits, BigInt.asUintN(o.bits, newval));
      }
      changes++;
    }
    if (changes) e.changed(c, key, 'setbit', '$', changes);
    return out;
  };
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
