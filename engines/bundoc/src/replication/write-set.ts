import CRC32 from 'crc-32';
import { InvalidArgumentError } from '../storage/errors.js';
import { CorruptReplicationDataError } from './errors.js';

/** One buffered write: a put, or a delete when `value` is undefined. */
export interface WriteOp {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/**
 * What one replicated transaction proposes: its writes per tree, the raft index its snapshot reflected
 * (`readIndex`), and how far back the proposer allows that snapshot to be (`window`, in entries).
 */
export interface WriteSet {
  readonly readIndex: number;
  readonly window: number;
  readonly trees: ReadonlyArray<{ readonly tree: string; readonly ops: readonly WriteOp[] }>;
}

/** Limits of one transaction: it travels as one raft entry, so it must fit one transport frame. */
export const MAX_WRITE_SET_BYTES = 32 * 1024 * 1024;
export const MAX_WRITES = 100_000;

const MAGIC = 0x4257; // "BW"
const VERSION = 1;
const HEADER = 2 + 1 + 1 + 8 + 4 + 4;

function opCount(ws: WriteSet): number {
  let n = 0;
  for (const t of ws.trees) n += t.ops.length;
  return n;
}

/**
 * Layout (big-endian): magic u16 "BW", version u8, flags u8 (0), readIndex u64, window u32, tree count
 * u32; per tree: name length u16, name (UTF-8), op count u32; per op: kind u8 (0 delete, 1 put), key
 * length u16, key, and for a put value length u32 and value; then crc-32 of everything before, u32.
 */
export function encodeWriteSet(ws: WriteSet): Uint8Array {
  const writes = opCount(ws);
  if (writes > MAX_WRITES)
    throw new InvalidArgumentError(
      `a replicated transaction writes at most ${MAX_WRITES} keys (this one ${writes})`,
    );
  let size = HEADER + 4;
  const names = ws.trees.map((t) => Buffer.from(t.tree, 'utf8'));
  ws.trees.forEach((t, i) => {
    size += 2 + names[i].length + 4;
    for (const op of t.ops) size += 1 + 2 + op.key.length + (op.value ? 4 + op.value.length : 0);
  });
  if (size > MAX_WRITE_SET_BYTES)
    throw new InvalidArgumentError(
      `a replicated transaction is at most ${MAX_WRITE_SET_BYTES} bytes encoded (this one ${size})`,
    );
  const b = Buffer.alloc(size);
  let o = b.writeUInt16BE(MAGIC, 0);
  o = b.writeUInt8(VERSION, o);
  o = b.writeUInt8(0, o);
  o = b.writeBigUInt64BE(BigInt(ws.readIndex), o);
  o = b.writeUInt32BE(ws.window, o);
  o = b.writeUInt32BE(ws.trees.length, o);
  ws.trees.forEach((t, i) => {
    o = b.writeUInt16BE(names[i].length, o);
    o += names[i].copy(b, o);
    o = b.writeUInt32BE(t.ops.length, o);
    for (const op of t.ops) {
      o = b.writeUInt8(op.value ? 1 : 0, o);
      o = b.writeUInt16BE(op.key.length, o);
      b.set(op.key, o);
      o += op.key.length;
      if (op.value) {
        o = b.writeUInt32BE(op.value.length, o);
        b.set(op.value, o);
        o += op.value.length;
      }
    }
  });
  b.writeInt32BE(CRC32.buf(b.subarray(0, o)), o);
  return b;
}

/** Decodes an entry; anything malformed is a CorruptReplicationDataError (the same on every member). */
export function decodeWriteSet(data: Uint8Array): WriteSet {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bad = (why: string) => new CorruptReplicationDataError(`replicated write set: ${why}`);
  if (b.length < HEADER + 4) throw bad('too short');
  const end = b.length - 4;
  if (b.readInt32BE(end) !== CRC32.buf(b.subarray(0, end))) throw bad('checksum mismatch');
  if (b.readUInt16BE(0) !== MAGIC) throw bad('bad magic');
  if (b[2] !== VERSION) throw bad(`unknown version ${b[2]}`);
  const readIndex = Number(b.readBigUInt64BE(4));
  const window = b.readUInt32BE(12);
  const treeCount = b.readUInt32BE(16);
  let o = HEADER;
  const need = (n: number) => {
    if (o + n > end) throw bad('truncated');
  };
  const trees: { tree: string; ops: WriteOp[] }[] = [];
  for (let i = 0; i < treeCount; i++) {
    need(2);
    const nameLen = b.readUInt16BE(o);
    o += 2;
    need(nameLen + 4);
    const tree = b.toString('utf8', o, o + nameLen);
    o += nameLen;
    const count = b.readUInt32BE(o);
    o += 4;
    const ops: WriteOp[] = [];
    for (let j = 0; j < count; j++) {
      need(3);
      const kind = b[o];
      const keyLen = b.readUInt16BE(o + 1);
      o += 3;
      if (kind > 1) throw bad(`unknown op kind ${kind}`);
      need(keyLen);
      const key = Uint8Array.prototype.slice.call(b, o, o + keyLen);
      o += keyLen;
      let value: Uint8Array | undefined;
      if (kind === 1) {
        need(4);
        const len = b.readUInt32BE(o);
        o += 4;
        need(len);
        value = Uint8Array.prototype.slice.call(b, o, o + len);
        o += len;
      }
      ops.push({ key, value });
    }
    trees.push({ tree, ops });
  }
  if (o !== end) throw bad('trailing bytes');
  return { readIndex, window, trees };
}
