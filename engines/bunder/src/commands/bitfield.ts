/**
 * BITFIELD and BITFIELD_RO as Redis 7.0's bitfieldGeneric: GET/SET/INCRBY on signed (up to 64 bits)
 * and unsigned (up to 63 bits) fields at bit offsets or `#n` field indexes, with OVERFLOW WRAP/SAT/FAIL
 * computed in C's 64-bit arithmetic.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import type { MutableString } from '../keyspace.js';
import { E, ErrorReply, err, type Reply } from '../reply.js';
import { parseI64, parseI64Big } from '../util/numbers.js';
import { type Bytes, bitOffset, bytesOf, readString, writableString } from './bit-access.js';
import { eq } from './util.js';

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

export function bitfield(readonlyCommand: boolean) {
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
