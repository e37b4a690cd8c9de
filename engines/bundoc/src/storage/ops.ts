import { ownedCopy } from './copy-out.js';
import { CorruptionError } from './errors.js';

/**
 * What a writer knows about a put, carried in the log for change streams only (replay ignores it):
 * `insert` — the key did not exist before the transaction; `touch` — the value was rewritten unchanged
 * (to take part in conflict detection), not a change.
 */
export type PutNote = 'insert' | 'touch';

/**
 * One change inside a commit record. `before` (trees with pre-images only, see StorageOptions.preImages):
 * the value the put or delete replaced, when the key existed.
 */
export type Op =
  | { kind: 'put'; tree: string; key: Uint8Array; value: Uint8Array; note?: PutNote; before?: Uint8Array }
  /** `absent`: the key was absent before the transaction (the delete undoes its own insert, or nothing). */
  | { kind: 'delete'; tree: string; key: Uint8Array; absent?: true; before?: Uint8Array }
  | { kind: 'drop'; tree: string };

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DROP = 3;
const OP_PUT_INSERT = 4;
const OP_PUT_TOUCH = 5;
const OP_DELETE_ABSENT = 6;
const OP_PUT_BEFORE = 7;
const OP_DELETE_BEFORE = 8;
const TIME_BYTES = 8;

/** A decoded commit record: its ops and the commit time (ms since the epoch; 0 when not recorded). */
export interface CommitBody {
  ops: Op[];
  time: number;
}

function putCode(o: Op & { kind: 'put' }): number {
  if (o.note === 'insert') return OP_PUT_INSERT;
  if (o.note === 'touch') return OP_PUT_TOUCH;
  return o.before !== undefined ? OP_PUT_BEFORE : OP_PUT;
}

function opCode(o: Op): number {
  if (o.kind === 'put') return putCode(o);
  if (o.kind === 'drop') return OP_DROP;
  if (o.absent) return OP_DELETE_ABSENT;
  return o.before !== undefined ? OP_DELETE_BEFORE : OP_DELETE;
}

/** The pre-image an op carries in the log: only kinds 7 and 8 have one. */
function loggedBefore(o: Op, code: number): Uint8Array | undefined {
  return code === OP_PUT_BEFORE || code === OP_DELETE_BEFORE
    ? (o as { before: Uint8Array }).before
    : undefined;
}

/**
 * Commit record body: u32 op count, then per op: u8 kind, u16 name length, name (UTF-8), key, value,
 * pre-image (kinds 7 and 8); then the commit time as f64 ms since the epoch (absent in bodies written
 * before change streams).
 */
export function encodeOps(ops: Op[], time = Date.now()): Buffer {
  // Ops come grouped by tree: one encoded name per run, not one Buffer per op.
  const names: Buffer[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const tree = ops[i].tree;
    names[i] = i > 0 && ops[i - 1].tree === tree ? names[i - 1] : Buffer.from(tree, 'utf8');
  }
  const codes = ops.map(opCode);
  let size = 4 + TIME_BYTES;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    size += 3 + names[i].length;
    if (o.kind !== 'drop') size += 2 + o.key.length;
    if (o.kind === 'put') size += 4 + o.value.length;
    const before = loggedBefore(o, codes[i]);
    if (before) size += 4 + before.length;
  }
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(ops.length, 0);
  let off = 4;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    b[off] = codes[i];
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
    const before = loggedBefore(o, codes[i]);
    if (before) {
      b.writeUInt32LE(before.length, off);
      b.set(before, off + 4);
      off += 4 + before.length;
    }
  }
  b.writeDoubleLE(time, off);
  return b;
}

export function decodeOps(b: Buffer, lsn: number): Op[] {
  return decodeCommit(b, lsn).ops;
}

export function decodeCommit(b: Buffer, lsn: number): CommitBody {
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
    if (kind === undefined || kind < OP_PUT || kind > OP_DELETE_BEFORE) throw bad(`unknown op ${kind}`);
    need(2);
    const keyLen = b.readUInt16LE(off);
    need(2 + keyLen);
    // Copies from the store's arenas, as a commit's own keys and values are: they go into tree nodes,
    // and a Buffer slice apiece cost a Buffer construction and ~230 bytes of heap for a short one.
    const key = ownedCopy(b.subarray(off + 2, off + 2 + keyLen));
    off += 2 + keyLen;
    const bytes = (): Uint8Array => {
      need(4);
      const len = b.readUInt32LE(off);
      need(4 + len);
      const out = ownedCopy(b.subarray(off + 4, off + 4 + len));
      off += 4 + len;
      return out;
    };
    if (kind === OP_DELETE) ops.push({ kind: 'delete', tree, key });
    else if (kind === OP_DELETE_ABSENT) ops.push({ kind: 'delete', tree, key, absent: true });
    else if (kind === OP_DELETE_BEFORE) ops.push({ kind: 'delete', tree, key, before: bytes() });
    else {
      const value = bytes();
      if (kind === OP_PUT) ops.push({ kind: 'put', tree, key, value });
      else if (kind === OP_PUT_BEFORE) ops.push({ kind: 'put', tree, key, value, before: bytes() });
      else ops.push({ kind: 'put', tree, key, value, note: kind === OP_PUT_INSERT ? 'insert' : 'touch' });
    }
  }
  let time = 0;
  if (b.length - off === TIME_BYTES) {
    time = b.readDoubleLE(off);
    off += TIME_BYTES;
    if (!Number.isFinite(time) || time < 0) throw bad('bad commit time');
  }
  if (off !== b.length) throw bad('trailing bytes');
  return { ops, time };
}
