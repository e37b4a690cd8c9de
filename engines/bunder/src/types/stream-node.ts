/**
 * The storage of a stream's entries: nodes that mirror Redis's listpacks — same node-size rule (exact
 * listpack byte counts), tombstones kept in place — packed into typed arrays and one byte arena per node.
 */
import type { StreamID } from './stream-id.js';

/** An entry as read: materialized on demand from its node's packed storage. */
export interface StreamEntry {
  readonly id: StreamID;
  /** field, value, field, value, … */
  readonly fields: readonly string[];
}

/** Strings stored as latin1 bytes in one growable buffer: one allocation per node, not one per value. */
class StringArena {
  private data = Buffer.allocUnsafeSlow(256);
  private ends = new Int32Array(16);
  private used = 0;
  count = 0;

  push(s: string): void {
    if (this.count === this.ends.length) {
      const ends = new Int32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    const need = this.used + s.length;
    if (need > this.data.length) this.resize(Math.max(need, this.data.length * 2));
    this.data.write(s, this.used, 'latin1');
    this.used = need;
    this.ends[this.count++] = need;
  }

  get(i: number): string {
    return this.data.toString('latin1', i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
  }

  /** Drops spare capacity. */
  shrink(): void {
    if (this.data.length > this.used) this.resize(this.used);
    if (this.ends.length > this.count) this.ends = this.ends.slice(0, Math.max(1, this.count));
  }

  clone(): StringArena {
    const a = new StringArena();
    a.data = Buffer.allocUnsafeSlow(Math.max(1, this.used));
    this.data.copy(a.data, 0, 0, this.used);
    a.ends = this.ends.slice();
    a.used = this.used;
    a.count = this.count;
    return a;
  }

  private resize(size: number): void {
    const data = Buffer.allocUnsafeSlow(Math.max(1, size));
    this.data.copy(data, 0, 0, this.used);
    this.data = data;
  }
}

const DELETED = 1;
const SAMEFIELDS = 2;

/**
 * One listpack's worth of entries, stored packed: IDs in a BigUint64Array, flags in a Uint8Array, values
 * (and field names when they differ from the node's master fields) in one flat array. No object per
 * entry; an entry object is only built when read. Keeps the exact listpack size for the node-size rule.
 */
export class StreamNode {
  private ids = new BigUint64Array(16);
  private flags = new Uint8Array(8);
  /** starts[i]..starts[i+1] are entry i's strings in `items`. */
  private starts = new Int32Array(9);
  private items = new StringArena();
  /** Entries stored, tombstones included. */
  count = 0;
  live = 0;
  deleted = 0;
  bytes: number;

  constructor(
    readonly master: StreamID,
    readonly masterFields: readonly string[],
  ) {
    // header + end byte, then count, deleted, field count, fields, terminator.
    this.bytes = 7 + lpIntSize(1) + lpIntSize(0) + lpIntSize(masterFields.length) + lpIntSize(0);
    for (const f of masterFields) this.bytes += lpStringSize(f);
  }

  setCounts(live: number, deleted: number): void {
    this.bytes += lpIntSize(live) - lpIntSize(this.live) + lpIntSize(deleted) - lpIntSize(this.deleted);
    this.live = live;
    this.deleted = deleted;
  }

  push(id: StreamID, fields: readonly string[], same: boolean, deleted = false): void {
    const i = this.count;
    if (i === this.flags.length) this.grow(i * 2);
    this.ids[2 * i] = id.ms;
    this.ids[2 * i + 1] = id.seq;
    this.flags[i] = (same ? SAMEFIELDS : 0) | (deleted ? DELETED : 0);
    if (same) for (let k = 1; k < fields.length; k += 2) this.items.push(fields[k]!);
    else for (const f of fields) this.items.push(f);
    this.starts[i + 1] = this.items.count;
    this.count = i + 1;
  }

  /** Drops spare capacity once the node is closed to appends (as Redis shrinks a full listpack). */
  shrink(): void {
    if (this.flags.length > this.count) this.grow(Math.max(1, this.count));
    this.items.shrink();
  }

  private grow(capacity: number): void {
    const ids = new BigUint64Array(capacity * 2);
    ids.set(this.ids.subarray(0, capacity * 2));
    const flags = new Uint8Array(capacity);
    flags.set(this.flags.subarray(0, capacity));
    const starts = new Int32Array(capacity + 1);
    starts.set(this.starts.subarray(0, capacity + 1));
    this.ids = ids;
    this.flags = flags;
    this.starts = starts;
  }

  idAt(i: number): StreamID {
    return { ms: this.ids[2 * i]!, seq: this.ids[2 * i + 1]! };
  }

  /** Compares entry i's ID with `id` without building an ID object. */
  cmpAt(i: number, id: StreamID): number {
    const ms = this.ids[2 * i]!;
    if (ms !== id.ms) return ms < id.ms ? -1 : 1;
    const seq = this.ids[2 * i + 1]!;
    return seq === id.seq ? 0 : seq < id.seq ? -1 : 1;
  }

  isDeleted(i: number): boolean {
    return (this.flags[i]! & DELETED) !== 0;
  }

  markDeleted(i: number): void {
    this.flags[i]! |= DELETED;
  }

  entryAt(i: number): StreamEntry {
    const start = this.starts[i]!;
    const end = this.starts[i + 1]!;
    let fields: string[];
    if (this.flags[i]! & SAMEFIELDS) {
      const mf = this.masterFields;
      fields = new Array(mf.length * 2);
      for (let k = 0; k < mf.length; k++) {
        fields[2 * k] = mf[k]!;
        fields[2 * k + 1] = this.items.get(start + k);
      }
    } else {
      fields = new Array(end - start);
      for (let k = start; k < end; k++) fields[k - start] = this.items.get(k);
    }
    return { id: this.idAt(i), fields };
  }

  get lastId(): StreamID {
    return this.idAt(this.count - 1);
  }

  clone(): StreamNode {
    const n = new StreamNode(this.master, this.masterFields);
    for (let i = 0; i < this.count; i++) {
      const e = this.entryAt(i);
      n.push(e.id, e.fields, (this.flags[i]! & SAMEFIELDS) !== 0, this.isDeleted(i));
    }
    n.live = this.live;
    n.deleted = this.deleted;
    n.bytes = this.bytes;
    return n;
  }
}

/** Listpack encoded size of an integer element (encoding + 1 backlen byte). */
export function lpIntSize(v: number | bigint): number {
  const n = typeof v === 'bigint' ? v : BigInt(v);
  if (n >= 0n && n <= 127n) return 2;
  if (n >= -4096n && n <= 4095n) return 3;
  if (n >= -32768n && n <= 32767n) return 4;
  if (n >= -8388608n && n <= 8388607n) return 5;
  if (n >= -2147483648n && n <= 2147483647n) return 6;
  return 10;
}

const LP_INT = /^-?[1-9][0-9]{0,19}$/;

/** Listpack encoded size of a string element (listpacks store integer-looking strings as integers). */
export function lpStringSize(s: string): number {
  const n = s.length;
  if (n > 0 && n <= 20 && (s === '0' || LP_INT.test(s))) {
    const v = BigInt(s);
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return lpIntSize(v);
  }
  const enc = (n < 64 ? 1 : n < 4096 ? 2 : 5) + n;
  return enc + (enc < 128 ? 1 : enc < 16384 ? 2 : enc < 2097152 ? 3 : enc < 268435456 ? 4 : 5);
}
