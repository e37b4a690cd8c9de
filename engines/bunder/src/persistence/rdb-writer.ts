/**
 * RDB writer producing files Redis 7.0 loads (RDB version 10), choosing the encodings Redis 7.0 itself
 * writes: listpack for small hashes and sorted sets, quicklist 2 for lists, intset for small all-integer
 * sets, plain encodings above Redis's default thresholds, stream listpacks v2, LZF for long strings.
 */

import { writeFileAtomically } from './atomic-file.js';
import { ByteSink } from './byte-sink.js';
import { Crc64 } from './crc64.js';
import { RdbError } from './errors.js';
import { canonicalInt64 } from './int-string.js';
import { asIntsetMembers, encodeIntset } from './intset.js';
import { encodeListpack, type ListpackItem, listpackEntrySize } from './listpack.js';
import { lzfCompress } from './lzf.js';
import type { StoredEntry, StoredValue, StreamGroup, StreamId, StreamValue } from './model.js';
import {
  ENC_INT8,
  ENC_INT16,
  ENC_INT32,
  ENC_LZF,
  formatRedisDouble,
  LIMITS,
  OP,
  QUICKLIST_NODE_PACKED,
  QUICKLIST_NODE_PLAIN,
  RDB_MAGIC,
  RDB_VERSION_WRITTEN,
  STREAM_ITEM_SAMEFIELDS,
  TYPE,
} from './rdb-format.js';

export interface RdbWriteOptions {
  /** LZF-compress strings longer than 20 bytes when it saves space (Redis's rdbcompression, default on). */
  readonly compress?: boolean;
  /** Extra AUX fields; redis-ver, redis-bits, ctime, used-mem and aof-base are written unless overridden. */
  readonly aux?: Readonly<Record<string, string | Buffer>>;
}

const U64_MAX = 2n ** 64n - 1n;
/** Redis stores list elements of 1 GiB or more in a node of their own, unpacked. */
const PLAIN_NODE_THRESHOLD = 1 << 30;

/**
 * Encodes entries into a sink, keeping the running CRC-64. Feed it with header(), entry()…, footer();
 * take() the encoded bytes whenever convenient (the CRC covers everything, taken or not).
 */
export class RdbEncoder {
  private readonly sink = new ByteSink();
  private readonly crc = new Crc64();
  private readonly compress: boolean;
  private currentDb = -1;
  keys = 0;

  constructor(options: RdbWriteOptions = {}) {
    this.compress = options.compress ?? true;
  }

  header(options: RdbWriteOptions = {}): void {
    this.sink.bytes(Buffer.from(`${RDB_MAGIC}${String(RDB_VERSION_WRITTEN).padStart(4, '0')}`, 'latin1'));
    const aux: Record<string, string | Buffer> = {
      'redis-ver': '7.0.0',
      'redis-bits': '64',
      ctime: String(Math.floor(Date.now() / 1000)),
      'used-mem': '0',
      'aof-base': '0',
      ...options.aux,
    };
    for (const [k, v] of Object.entries(aux)) {
      this.sink.u8(OP.AUX);
      this.string(Buffer.from(k, 'latin1'));
      this.string(typeof v === 'string' ? Buffer.from(v) : v);
    }
  }

  entry(e: StoredEntry): void {
    if (!isPersistable(e.value)) return; // Redis never has empty collections; it would skip them on load
    if (e.db !== this.currentDb) {
      if (!Number.isInteger(e.db) || e.db < 0)
        throw new RdbError('RDB_INVALID_VALUE', `invalid database ${e.db}`);
      this.sink.u8(OP.SELECTDB);
      this.length(e.db);
      this.currentDb = e.db;
    }
    if (e.expireAtMs !== null) {
      this.sink.u8(OP.EXPIRETIME_MS);
      this.sink.i64le(BigInt(Math.trunc(e.expireAtMs)));
    }
    this.sink.u8(valueType(e.value));
    this.string(e.key);
    this.value(e.value);
    this.keys++;
  }

  footer(): void {
    this.sink.u8(OP.EOF);
    // Taking the chunks folds them into the CRC, which must cover everything up to and including EOF.
    this.finished = this.take();
    this.sink.bytes(this.crc.digestBytes());
  }

  /** Chunks already folded into the CRC but not yet handed out (only after footer()). */
  private finished: Buffer[] = [];

  /** Bytes encoded so far and not yet taken. */
  get buffered(): number {
    return this.sink.length;
  }

  take(): Buffer[] {
    const chunks = this.sink.take();
    for (const chunk of chunks) this.crc.update(chunk);
    if (this.finished.length === 0) return chunks;
    const all = [...this.finished, ...chunks];
    this.finished = [];
    return all;
  }

  /** The type byte and the value: the body of a DUMP payload. */
  typedValue(value: StoredValue): void {
    this.sink.u8(valueType(value));
    this.value(value);
  }

  // --- primitives --------------------------------------------------------------------------------

  length(n: number | bigint): void {
    const v = typeof n === 'bigint' ? n : BigInt(n);
    if (v < 64n) this.sink.u8(Number(v));
    else if (v < 16384n) {
      this.sink.u8(0x40 | Number(v >> 8n));
      this.sink.u8(Number(v & 0xffn));
    } else if (v <= 0xffffffffn) {
      this.sink.u8(0x80);
      this.sink.u32be(Number(v));
    } else {
      this.sink.u8(0x81);
      this.sink.u64be(v);
    }
  }

  /** Redis's rdbSaveRawString: small integers as integers, long strings LZF-compressed when it pays. */
  string(s: Uint8Array): void {
    const n = s.length;
    if (n <= 11 && n > 0) {
      const v = canonicalInt64(s);
      if (v !== null && v >= -2147483648n && v <= 2147483647n) {
        const x = Number(v);
        if (x >= -128 && x <= 127) {
          this.sink.u8(0xc0 | ENC_INT8);
          this.sink.u8(x & 0xff);
        } else if (x >= -32768 && x <= 32767) {
          this.sink.u8(0xc0 | ENC_INT16);
          this.sink.u16le(x & 0xffff);
        } else {
          this.sink.u8(0xc0 | ENC_INT32);
          this.sink.u32le(x >>> 0);
        }
        return;
      }
    }
    if (this.compress && n > 20) {
      const packed = lzfCompress(s, n - 4);
      if (packed) {
        this.sink.u8(0xc0 | ENC_LZF);
        this.length(packed.length);
        this.length(n);
        this.sink.bytes(packed);
        return;
      }
    }
    this.length(n);
    this.sink.bytes(s);
  }

  // --- values --------------------------------------------------------------------------------------

  value(v: StoredValue): void {
    switch (v.type) {
      case 'string':
        this.string(v.value);
        return;
      case 'list':
        this.quicklist(v.value);
        return;
      case 'set': {
        const ints = setUsesIntset(v.value);
        if (ints) {
          this.string(encodeIntset(ints));
        } else {
          this.length(v.value.length);
          for (const m of v.value) this.string(m);
        }
        return;
      }
      case 'zset': {
        if (zsetUsesListpack(v.value)) {
          const sorted = [...v.value].sort((a, b) => a[1] - b[1] || Buffer.compare(a[0], b[0]));
          const items: ListpackItem[] = [];
          for (const [member, score] of sorted) items.push(member, scoreItem(score));
          this.string(encodeListpack(items));
        } else {
          this.length(v.value.length);
          for (const [member, score] of v.value) {
            this.string(member);
            this.sink.doubleLe(score);
          }
        }
        return;
      }
      case 'hash': {
        if (hashUsesListpack(v.value)) {
          const items: ListpackItem[] = [];
          for (const [f, val] of v.value) items.push(f, val);
          this.string(encodeListpack(items));
        } else {
          this.length(v.value.length);
          for (const [f, val] of v.value) {
            this.string(f);
            this.string(val);
          }
        }
        return;
      }
      case 'stream':
        this.stream(v.value);
        return;
    }
  }

  private quicklist(items: readonly Buffer[]): void {
    const nodes: Array<Buffer[] | Buffer> = [];
    let node: Buffer[] = [];
    let size = 7;
    for (const item of items) {
      if (item.length >= PLAIN_NODE_THRESHOLD) {
        if (node.length) nodes.push(node);
        nodes.push(item);
        node = [];
        size = 7;
        continue;
      }
      const s = listpackEntrySize(item);
      if (node.length > 0 && (size + s > LIMITS.listMaxListpackSizeBytes || node.length >= 0xffff)) {
        nodes.push(node);
        node = [];
        size = 7;
      }
      node.push(item);
      size += s;
    }
    if (node.length) nodes.push(node);
    this.length(nodes.length);
    for (const n of nodes) {
      if (Array.isArray(n)) {
        this.length(QUICKLIST_NODE_PACKED);
        this.string(encodeListpack(n));
      } else {
        this.length(QUICKLIST_NODE_PLAIN);
        this.string(n);
      }
    }
  }

  private stream(s: StreamValue): void {
    for (let i = 1; i < s.entries.length; i++) {
      if (compareIds(s.entries[i - 1]!.id, s.entries[i]!.id) >= 0) {
        throw new RdbError('RDB_INVALID_VALUE', 'stream entry IDs must be strictly ascending');
      }
    }
    const nodes = streamNodes(s);
    this.length(nodes.length);
    for (const { master, listpack } of nodes) {
      const key = Buffer.allocUnsafe(16);
      key.writeBigUInt64BE(master.ms, 0);
      key.writeBigUInt64BE(master.seq, 8);
      this.string(key);
      this.string(listpack);
    }
    this.length(s.entries.length);
    this.id(s.lastId);
    this.id(s.firstId);
    this.id(s.maxDeletedId);
    this.length(BigInt(s.entriesAdded));
    this.length(s.groups.length);
    for (const g of s.groups) this.streamGroup(g);
  }

  private id(id: StreamId): void {
    this.length(id.ms);
    this.length(id.seq);
  }

  private rawId(id: StreamId): void {
    this.sink.u64be(id.ms);
    this.sink.u64be(id.seq);
  }

  private streamGroup(g: StreamGroup): void {
    this.string(g.name);
    this.id(g.lastId);
    this.length(g.entriesRead === null ? U64_MAX : BigInt(g.entriesRead));
    const pending = [...g.pending].sort((a, b) => compareIds(a.id, b.id));
    this.length(pending.length);
    for (const p of pending) {
      this.rawId(p.id);
      this.sink.i64le(BigInt(Math.trunc(p.deliveryTimeMs)));
      this.length(p.deliveryCount);
    }
    // Every pending entry must belong to a listed consumer or Redis rejects the file; a consumer known
    // only from the PEL is written with its last delivery as its seen time.
    const consumers = new Map<string, { name: Buffer; seenTimeMs: number; owned: StreamId[] }>();
    for (const c of g.consumers) consumers.set(c.name.toString('latin1'), { ...c, owned: [] });
    for (const p of pending) {
      const k = p.consumer.toString('latin1');
      let c = consumers.get(k);
      if (!c) {
        c = { name: p.consumer, seenTimeMs: p.deliveryTimeMs, owned: [] };
        consumers.set(k, c);
      }
      c.owned.push(p.id);
    }
    this.length(consumers.size);
    for (const c of consumers.values()) {
      this.string(c.name);
      this.sink.i64le(BigInt(Math.trunc(c.seenTimeMs)));
      this.length(c.owned.length);
      for (const id of c.owned) this.rawId(id);
    }
  }
}

function isPersistable(v: StoredValue): boolean {
  return v.type === 'string' || v.type === 'stream' || v.value.length > 0;
}

function setUsesIntset(members: readonly Buffer[]): bigint[] | null {
  return members.length <= LIMITS.setMaxIntsetEntries ? asIntsetMembers(members) : null;
}

function zsetUsesListpack(pairs: ReadonlyArray<readonly [Buffer, number]>): boolean {
  if (pairs.length > LIMITS.zsetMaxListpackEntries) return false;
  for (const [m, score] of pairs) {
    if (m.length > LIMITS.zsetMaxListpackValue) return false;
    if (Number.isNaN(score)) throw new RdbError('RDB_INVALID_VALUE', 'sorted set score is NaN');
  }
  return true;
}

function hashUsesListpack(pairs: ReadonlyArray<readonly [Buffer, Buffer]>): boolean {
  if (pairs.length > LIMITS.hashMaxListpackEntries) return false;
  for (const [f, v] of pairs) {
    if (f.length > LIMITS.hashMaxListpackValue || v.length > LIMITS.hashMaxListpackValue) return false;
  }
  return true;
}

/** Redis writes scores in listpacks as text (integers as integers) via d2string. */
function scoreItem(score: number): ListpackItem {
  if (Number.isInteger(score) && Math.abs(score) < 2 ** 53 && !Object.is(score, -0)) return BigInt(score);
  return Buffer.from(formatRedisDouble(score), 'latin1');
}

function valueType(v: StoredValue): number {
  switch (v.type) {
    case 'string':
      return TYPE.STRING;
    case 'list':
      return TYPE.LIST_QUICKLIST_2;
    case 'set':
      return setUsesIntset(v.value) ? TYPE.SET_INTSET : TYPE.SET;
    case 'zset':
      return zsetUsesListpack(v.value) ? TYPE.ZSET_LISTPACK : TYPE.ZSET_2;
    case 'hash':
      return hashUsesListpack(v.value) ? TYPE.HASH_LISTPACK : TYPE.HASH;
    case 'stream':
      return TYPE.STREAM_LISTPACKS_2;
  }
}

export function compareIds(a: StreamId, b: StreamId): number {
  return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

/** Packs stream entries into listpack nodes the way XADD fills them (node size and count limits). */
function streamNodes(s: StreamValue): Array<{ master: StreamId; listpack: Buffer }> {
  const nodes: Array<{ master: StreamId; listpack: Buffer }> = [];
  let i = 0;
  while (i < s.entries.length) {
    const master = s.entries[i]!.id;
    const masterFields = fieldNames(s.entries[i]!.fields);
    const body: ListpackItem[] = [];
    let bytes = 7;
    let count = 0;
    while (i < s.entries.length && count < LIMITS.streamNodeMaxEntries) {
      const e = s.entries[i]!;
      if (e.fields.length % 2 !== 0)
        throw new RdbError('RDB_INVALID_VALUE', 'stream entry has an odd field list');
      const names = fieldNames(e.fields);
      const same = names.length === masterFields.length && names.every((n, k) => n.equals(masterFields[k]!));
      const items: ListpackItem[] = [
        BigInt(same ? STREAM_ITEM_SAMEFIELDS : 0),
        BigInt.asIntN(64, e.id.ms - master.ms),
        BigInt.asIntN(64, e.id.seq - master.seq),
      ];
      if (same) {
        for (let f = 1; f < e.fields.length; f += 2) items.push(e.fields[f]!);
      } else {
        items.push(BigInt(names.length));
        for (const f of e.fields) items.push(f);
      }
      items.push(BigInt(same ? names.length + 3 : names.length * 2 + 4));
      const size = items.reduce<number>((n, it) => n + listpackEntrySize(it), 0);
      if (count > 0 && bytes + size > LIMITS.streamNodeMaxBytes) break;
      body.push(...items);
      bytes += size;
      count++;
      i++;
    }
    const header: ListpackItem[] = [BigInt(count), 0n, BigInt(masterFields.length), ...masterFields, 0n];
    nodes.push({ master, listpack: encodeListpack([...header, ...body]) });
  }
  return nodes;
}

function fieldNames(fields: readonly Buffer[]): Buffer[] {
  const names: Buffer[] = [];
  for (let f = 0; f < fields.length; f += 2) names.push(fields[f]!);
  return names;
}

/** Encodes a whole snapshot in memory (tests, small datasets; use writeRdbFile for big ones). */
export function encodeRdb(entries: Iterable<StoredEntry>, options: RdbWriteOptions = {}): Buffer {
  const enc = new RdbEncoder(options);
  enc.header(options);
  const chunks: Buffer[] = [];
  for (const e of entries) {
    enc.entry(e);
    if (enc.buffered > 1 << 20) chunks.push(...enc.take());
  }
  enc.footer();
  chunks.push(...enc.take());
  return Buffer.concat(chunks);
}

/**
 * The payload of DUMP / RESTORE: type byte, value, RDB version (u16le), CRC-64 of all that (u64le).
 */
export function encodeDumpPayload(value: StoredValue, options: RdbWriteOptions = {}): Buffer {
  const enc = new RdbEncoder(options);
  enc.typedValue(value);
  const body = Buffer.concat(enc.take());
  const out = Buffer.allocUnsafe(body.length + 10);
  body.copy(out, 0);
  out.writeUInt16LE(RDB_VERSION_WRITTEN, body.length);
  out.set(new Crc64().update(out, 0, body.length + 2).digestBytes(), body.length + 2);
  return out;
}

/** How many encoded bytes to accumulate before handing them to the file (and yielding the event loop). */
const WRITE_SLICE = 1 << 20;

/**
 * Writes a snapshot durably (temp file + fsync + rename + directory fsync). Encoding proceeds in
 * slices between awaited writes, so a server can keep serving while a large snapshot is written from
 * an iterator over its keyspace.
 */
export async function writeRdbFile(
  path: string,
  entries: Iterable<StoredEntry> | AsyncIterable<StoredEntry>,
  options: RdbWriteOptions = {},
): Promise<{ bytes: number; keys: number }> {
  const enc = new RdbEncoder(options);
  const bytes = await writeFileAtomically(path, async (write) => {
    const flush = async () => {
      for (const chunk of enc.take()) await write(chunk);
    };
    enc.header(options);
    for await (const e of entries) {
      enc.entry(e);
      if (enc.buffered >= WRITE_SLICE) await flush();
    }
    enc.footer();
    await flush();
  });
  return { bytes, keys: enc.keys };
}
