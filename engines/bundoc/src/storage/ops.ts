import { CorruptionError } from './errors.js';

/** One change inside a commit record. `value` undefined means delete. */
export type Op =
  | { kind: 'put'; tree: string; key: Uint8Array; value: Uint8Array }
  | { kind: 'delete'; tree: string; key: Uint8Array }
  | { kind: 'drop'; tree: string };

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DROP = 3;

/** Commit record body: u32 op count, then per op: u8 kind, u16 name length, name (UTF-8), key, value. */
export function encodeOps(ops: Op[]): Buffer {
  const names = ops.map((o) => Buffer.from(o.tree, 'utf8'));
  let size = 4;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    size += 3 + names[i].length;
    if (o.kind !== 'drop') size += 2 + o.key.length;
    if (o.kind === 'put') size += 4 + o.value.length;
  }
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(ops.length, 0);
  let off = 4;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    b[off] = o.kind === 'put' ? OP_PUT : o.kind === 'delete' ? OP_DELETE : OP_DROP;
    b.writeUInt16LE(names[i].length, off + 1);
    b.set(names[i], off + 3);
    off += 3 + names[i].length;
    if (o.kind !== 'drop') {
      b.writeUInt16LE(o.key.length, off);
      b.set(o.key, off + 2);
      off += 2 + o.key.length;
    }
    if (o.kind === 'put') {
      b.writeUInt32LE(o.value.length, off);
      b.set(o.value, off + 4);
      off += 4 + o.value.length;
    }
  }
  return b;
}

export function decodeOps(b: Buffer, lsn: number): Op[] {
  const bad = (why: string) => new CorruptionError('wal', undefined, `record lsn ${lsn}: ${why}`);
  if (b.length < 4) throw bad('short body');
  const n = b.readUInt32LE(0);
  const ops: Op[] = [];
  let off = 4;
  const need = (k: number) => {
    if (off + k > b.length) throw bad('op runs past the end of the record');
  };
  for (let i = 0; i < n; i++) {
    need(3);
    const kind = b[off];
    const nameLen = b.readUInt16LE(off + 1);
    need(3 + nameLen);
    const tree = b.toString('utf8', off + 3, off + 3 + nameLen);
    off += 3 + nameLen;
    if (kind === OP_DROP) {
      ops.push({ kind: 'drop', tree });
      continue;
    }
    if (kind !== OP_PUT && kind !== OP_DELETE) throw bad(`unknown op ${kind}`);
    need(2);
    const keyLen = b.readUInt16LE(off);
    need(2 + keyLen);
    const key = Uint8Array.prototype.slice.call(b, off + 2, off + 2 + keyLen);
    off += 2 + keyLen;
    if (kind === OP_DELETE) {
      ops.push({ kind: 'delete', tree, key });
      continue;
    }
    need(4);
    const vlen = b.readUInt32LE(off);
    need(4 + vlen);
    const value = Uint8Array.prototype.slice.call(b, off + 4, off + 4 + vlen);
    off += 4 + vlen;
    ops.push({ kind: 'put', tree, key, value });
  }
  if (off !== b.length) throw bad('trailing bytes');
  return ops;
}
