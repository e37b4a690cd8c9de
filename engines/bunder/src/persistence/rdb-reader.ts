/**
 * Streaming RDB reader: versions 1–11 (Redis up to 7.2), every encoding Redis writes or used to write.
 * It yields one StoredEntry per key, so a large snapshot never becomes one giant array, and returns a
 * summary (version, AUX fields, functions) when done. Every problem is an RdbError naming the offset.
 */

import { ByteInput, TruncatedInput } from './byte-input.js';
import { CompactFormatError } from './compact-error.js';
import { crc64 } from './crc64.js';
import { LzfError, RdbError } from './errors.js';
import { intToBuffer } from './int-string.js';
import { decodeIntset } from './intset.js';
import { decodeListpack, type ListpackItem } from './listpack.js';
import { lzfDecompress } from './lzf.js';
import type { StoredEntry, StoredValue, StreamEntry, StreamGroup, StreamId, StreamValue } from './model.js';
import {
  ENC_INT8,
  ENC_INT16,
  ENC_INT32,
  ENC_LZF,
  OP,
  parseRedisDouble,
  QUICKLIST_NODE_PACKED,
  QUICKLIST_NODE_PLAIN,
  RDB_MAGIC,
  RDB_VERSION_MAX_READ,
  STREAM_ITEM_DELETED,
  STREAM_ITEM_SAMEFIELDS,
  TYPE,
} from './rdb-format.js';
import { decodeZiplist } from './ziplist.js';
import { decodeZipmap } from './zipmap.js';

export interface RdbReadOptions {
  /** File name for error messages when reading a Buffer. */
  readonly file?: string;
  /** Verify the CRC-64 footer (default true). A stored checksum of 0 means "disabled" and is accepted. */
  readonly verifyChecksum?: boolean;
  /**
   * Plain strings (keys, values, elements) as views into the file's read chunks instead of copies — for a
   * consumer that converts each entry before asking for the next (a view pins its 1 MiB chunk). Files only.
   */
  readonly views?: boolean;
}

export interface RdbSummary {
  readonly version: number;
  /** AUX fields (redis-ver, ctime, used-mem, aof-base, …) in file order. */
  readonly aux: ReadonlyArray<readonly [key: string, value: Buffer]>;
  /** Function library source code (FUNCTION LOAD payloads) stored in the snapshot. */
  readonly functions: readonly Buffer[];
  readonly keys: number;
  /** Collections that were empty, which Redis also skips on load. */
  readonly emptyKeysSkipped: number;
  readonly checksum: 'verified' | 'disabled' | 'absent' | 'unchecked';
  /** Offset just past the RDB (where an AOF tail begins after an RDB preamble). */
  readonly endOffset: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = 2n ** 64n - 1n;
const MODULE_CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Reads an RDB file from disk in chunks. */
export function readRdbFile(path: string, options: RdbReadOptions = {}): Generator<StoredEntry, RdbSummary> {
  return readRdbInput(ByteInput.fromFile(path), { ...options, file: options.file ?? path }, true);
}

/** Options for readRdb (a Buffer): views are for files only. */
type BufferReadOptions = Omit<RdbReadOptions, 'views'>;

/** Reads an RDB held in memory, starting at `start` (an AOF's RDB preamble starts at 0). */
export function readRdb(
  buf: Buffer,
  options: BufferReadOptions = {},
  start = 0,
): Generator<StoredEntry, RdbSummary> {
  return readRdbInput(ByteInput.fromBuffer(buf, start), options, false);
}

function* readRdbInput(
  input: ByteInput,
  options: RdbReadOptions,
  ownsInput: boolean,
): Generator<StoredEntry, RdbSummary> {
  try {
    return yield* new RdbParser(input, options).entries();
  } finally {
    if (ownsInput) input.close();
  }
}

/** Decodes a DUMP / RESTORE payload: type byte, value, RDB version (u16le), CRC-64 (u64le). */
export function decodeDumpPayload(payload: Buffer): StoredValue {
  if (payload.length < 11) throw new RdbError('RDB_TRUNCATED', 'DUMP payload is too short', payload.length);
  const footer = payload.length - 10;
  const version = payload.readUInt16LE(footer);
  if (version > RDB_VERSION_MAX_READ) {
    throw new RdbError('RDB_UNSUPPORTED_VERSION', `DUMP payload has RDB version ${version}`, footer);
  }
  const stored = payload.readBigUInt64LE(footer + 2);
  if (stored !== 0n && stored !== crc64(payload, 0, footer + 2)) {
    throw new RdbError('RDB_CHECKSUM', 'DUMP payload checksum mismatch', footer + 2);
  }
  return new RdbParser(ByteInput.fromBuffer(payload.subarray(0, footer)), {}).dumpBody(version);
}

class RdbParser {
  private readonly input: ByteInput;
  private readonly file: string | undefined;
  private readonly verifyChecksum: boolean;
  private readonly views: boolean;
  private version = 0;
  /** Start of the value being decoded, for errors inside compact blobs. */
  private valueStart = 0;

  constructor(input: ByteInput, options: RdbReadOptions) {
    this.input = input;
    this.file = options.file;
    this.verifyChecksum = options.verifyChecksum ?? true;
    this.views = options.views === true;
  }

  private error(code: ConstructorParameters<typeof RdbError>[0], message: string, offset?: number): RdbError {
    return new RdbError(code, message, offset ?? this.input.offset, this.file);
  }

  *entries(): Generator<StoredEntry, RdbSummary> {
    try {
      return yield* this.parse();
    } catch (err) {
      if (err instanceof TruncatedInput)
        throw this.error('RDB_TRUNCATED', 'RDB file is truncated', err.offset);
      if (err instanceof LzfError || err instanceof CompactFormatError) {
        throw this.error('RDB_CORRUPT', `corrupt value: ${err.message}`, this.valueStart);
      }
      if (err instanceof RdbError) throw err;
      // Anything else (a Buffer read out of range inside a blob, …) still means the file is corrupt.
      throw this.error('RDB_CORRUPT', `corrupt value: ${(err as Error).message}`, this.valueStart);
    }
  }

  private *parse(): Generator<StoredEntry, RdbSummary> {
    const input = this.input;
    const start = input.offset;
    const magic = input.view(9).toString('latin1');
    if (!magic.startsWith(RDB_MAGIC) || !/^\d{4}$/.test(magic.slice(5))) {
      throw this.error('RDB_BAD_MAGIC', 'not an RDB file (missing REDIS0xxx header)', start);
    }
    this.version = Number(magic.slice(5));
    if (this.version < 1 || this.version > RDB_VERSION_MAX_READ) {
      throw this.error('RDB_UNSUPPORTED_VERSION', `unsupported RDB version ${this.version}`, start + 5);
    }
    const aux: Array<[string, Buffer]> = [];
    const functions: Buffer[] = [];
    let db = 0;
    let expireAtMs: number | null = null;
    let keys = 0;
    let emptyKeysSkipped = 0;
    for (;;) {
      const opAt = input.offset;
      const op = input.u8();
      switch (op) {
        case OP.EXPIRETIME:
          expireAtMs = input.u32le() * 1000;
          continue;
        case OP.EXPIRETIME_MS:
          expireAtMs = Number(input.i64le());
          continue;
        case OP.FREQ:
          input.u8();
          continue;
        case OP.IDLE:
          this.length();
          continue;
        case OP.SELECTDB:
          db = this.length();
          continue;
        case OP.RESIZEDB:
          this.length();
          this.length();
          continue;
        case OP.AUX: {
          const key = this.string().toString('latin1');
          aux.push([key, this.string()]);
          continue;
        }
        case OP.FUNCTION2:
          functions.push(this.string());
          continue;
        case OP.FUNCTION_PRE_GA:
          throw this.error('RDB_UNKNOWN_OPCODE', 'pre-release function format is not supported', opAt);
        case OP.MODULE_AUX:
          throw this.error(
            'RDB_MODULE_TYPE',
            'RDB contains module auxiliary data; modules are not supported',
            opAt,
          );
        case OP.EOF:
          return {
            version: this.version,
            aux,
            functions,
            keys,
            emptyKeysSkipped,
            checksum: this.footer(),
            endOffset: input.offset,
          };
        default: {
          const key = this.string();
          this.valueStart = input.offset;
          const value = this.value(op, opAt);
          const expiry = expireAtMs;
          expireAtMs = null;
          if (value === null) {
            emptyKeysSkipped++;
            continue;
          }
          keys++;
          yield { db, key, value, expireAtMs: expiry };
        }
      }
    }
  }

  /** A lone type byte + value that must span the whole input (DUMP payload body). */
  dumpBody(version: number): StoredValue {
    this.version = version;
    let value: StoredValue | null;
    try {
      const type = this.input.u8();
      this.valueStart = this.input.offset;
      value = this.value(type, 0);
    } catch (err) {
      if (err instanceof TruncatedInput)
        throw this.error('RDB_TRUNCATED', 'DUMP payload is truncated', err.offset);
      if (err instanceof LzfError || err instanceof CompactFormatError) {
        throw this.error('RDB_CORRUPT', `corrupt value: ${err.message}`, this.valueStart);
      }
      if (err instanceof RdbError) throw err;
      throw this.error('RDB_CORRUPT', `corrupt value: ${(err as Error).message}`, this.valueStart);
    }
    if (value === null) throw this.error('RDB_INVALID_VALUE', 'DUMP payload holds an empty collection', 0);
    try {
      this.input.ensure(1);
    } catch {
      return value;
    }
    throw this.error('RDB_CORRUPT', 'trailing bytes after the DUMP value');
  }

  private footer(): RdbSummary['checksum'] {
    if (this.version < 5) return 'absent';
    const computed = this.input.checksumSoFar();
    const at = this.input.offset;
    const stored = this.input.u64le();
    if (stored === 0n) return 'disabled';
    if (!this.verifyChecksum) return 'unchecked';
    if (stored !== computed) {
      throw this.error(
        'RDB_CHECKSUM',
        `checksum mismatch: file says ${stored.toString(16)}, content is ${computed.toString(16)}`,
        at,
      );
    }
    return 'verified';
  }

  // --- primitives --------------------------------------------------------------------------------

  /** A length that must fit a JS number. */
  private length(): number {
    const at = this.input.offset;
    const b = this.input.u8();
    switch (b >> 6) {
      case 0:
        return b & 0x3f;
      case 1:
        return ((b & 0x3f) << 8) | this.input.u8();
      case 2:
        if (b === 0x80) return this.input.u32be();
        if (b === 0x81) {
          const v = this.input.u64be();
          if (v > MAX_SAFE) throw this.error('RDB_CORRUPT', `length ${v} is too large`, at);
          return Number(v);
        }
        throw this.error('RDB_CORRUPT', `invalid length prefix 0x${b.toString(16)}`, at);
      default:
        throw this.error('RDB_CORRUPT', 'encoded string where a length was expected', at);
    }
  }

  /** A full 64-bit unsigned length (stream IDs and counters). */
  private length64(): bigint {
    const at = this.input.offset;
    const b = this.input.u8();
    switch (b >> 6) {
      case 0:
        return BigInt(b & 0x3f);
      case 1:
        return BigInt(((b & 0x3f) << 8) | this.input.u8());
      case 2:
        if (b === 0x80) return BigInt(this.input.u32be());
        if (b === 0x81) return this.input.u64be();
        throw this.error('RDB_CORRUPT', `invalid length prefix 0x${b.toString(16)}`, at);
      default:
        throw this.error('RDB_CORRUPT', 'encoded string where a length was expected', at);
    }
  }

  private string(): Buffer {
    const input = this.input;
    const at = input.offset;
    const b = input.u8();
    const kind = b >> 6;
    if (kind === 0) return this.views ? input.view(b & 0x3f) : input.bytes(b & 0x3f);
    if (kind === 1) {
      const n = ((b & 0x3f) << 8) | input.u8();
      return this.views ? input.view(n) : input.bytes(n);
    }
    if (kind === 2) {
      if (b === 0x80) return input.bytes(input.u32be());
      if (b === 0x81) {
        const n = input.u64be();
        if (n > 2n ** 32n) throw this.error('RDB_CORRUPT', `string length ${n} exceeds the limit`, at);
        return input.bytes(Number(n));
      }
      throw this.error('RDB_CORRUPT', `invalid length prefix 0x${b.toString(16)}`, at);
    }
    switch (b & 0x3f) {
      case ENC_INT8:
        return intToBuffer((input.u8() << 24) >> 24);
      case ENC_INT16: {
        const v = input.view(2).readInt16LE(0);
        return intToBuffer(v);
      }
      case ENC_INT32: {
        const v = input.view(4).readInt32LE(0);
        return intToBuffer(v);
      }
      case ENC_LZF: {
        const clen = this.length();
        const len = this.length();
        // liblzf expands at most ~88× (3-byte references of 264 bytes); more is a corrupt header.
        if (len > clen * 90 + 64 || len > 2 ** 32) {
          throw this.error('RDB_CORRUPT', `LZF length ${len} is impossible for ${clen} compressed bytes`, at);
        }
        const packed = input.view(clen);
        try {
          return lzfDecompress(packed, len);
        } catch (err) {
          if (err instanceof LzfError)
            throw this.error('RDB_CORRUPT', `corrupt LZF string: ${err.message}`, at);
          throw err;
        }
      }
      default:
        throw this.error('RDB_CORRUPT', `unknown string encoding ${b & 0x3f}`, at);
    }
  }

  /** Old-style ASCII double (RDB_TYPE_ZSET): length byte, 253 NaN, 254 +inf, 255 -inf. */
  private asciiDouble(): number {
    const len = this.input.u8();
    if (len === 253) return Number.NaN;
    if (len === 254) return Infinity;
    if (len === 255) return -Infinity;
    return parseRedisDouble(this.input.view(len).toString('latin1'));
  }

  /** An element count: each element takes at least `minBytes`, so a count beyond the input is corruption. */
  private count(minBytes = 1): number {
    const at = this.input.offset;
    const n = this.length();
    if (n * minBytes > this.input.remaining) {
      // Indistinguishable from a cut file, and the most likely cause.
      throw this.error(
        'RDB_TRUNCATED',
        `count ${n} needs more than the remaining ${this.input.remaining} bytes (file truncated or corrupt)`,
        at,
      );
    }
    return n;
  }

  private streamId(): StreamId {
    return { ms: this.length64(), seq: this.length64() };
  }

  // --- values --------------------------------------------------------------------------------------

  /** Decodes a value of the given type; null for an empty collection (skipped, as Redis does). */
  private value(type: number, typeAt: number): StoredValue | null {
    switch (type) {
      case TYPE.STRING:
        return { type: 'string', value: this.string() };
      case TYPE.LIST:
        return nonEmpty('list', this.strings(this.count()));
      case TYPE.SET:
        return nonEmpty('set', this.strings(this.count()));
      case TYPE.ZSET:
      case TYPE.ZSET_2: {
        const n = this.count(2);
        const out: Array<[Buffer, number]> = new Array(n);
        for (let i = 0; i < n; i++) {
          const member = this.string();
          const score = type === TYPE.ZSET_2 ? this.input.doubleLe() : this.asciiDouble();
          if (Number.isNaN(score)) throw this.error('RDB_INVALID_VALUE', 'sorted set score is NaN');
          out[i] = [member, score];
        }
        return nonEmpty('zset', out);
      }
      case TYPE.HASH: {
        const n = this.count(2);
        const out: Array<[Buffer, Buffer]> = new Array(n);
        for (let i = 0; i < n; i++) out[i] = [this.string(), this.string()];
        return nonEmpty('hash', out);
      }
      case TYPE.HASH_ZIPMAP:
        return nonEmpty('hash', decodeZipmap(this.string()));
      case TYPE.LIST_ZIPLIST:
        return nonEmpty('list', decodeZiplist(this.string()));
      case TYPE.SET_INTSET:
        return nonEmpty('set', decodeIntset(this.string()));
      case TYPE.SET_LISTPACK:
        return nonEmpty('set', decodeListpack(this.string()).map(itemToBuffer));
      case TYPE.ZSET_ZIPLIST:
        return nonEmpty('zset', this.zsetPairs(decodeZiplist(this.string())));
      case TYPE.ZSET_LISTPACK:
        return nonEmpty('zset', this.zsetPairs(decodeListpack(this.string())));
      case TYPE.HASH_ZIPLIST:
        return nonEmpty('hash', this.hashPairs(decodeZiplist(this.string())));
      case TYPE.HASH_LISTPACK:
        return nonEmpty('hash', this.hashPairs(decodeListpack(this.string())));
      case TYPE.LIST_QUICKLIST: {
        const nodes = this.count();
        const out: Buffer[] = [];
        for (let i = 0; i < nodes; i++) for (const item of decodeZiplist(this.string())) out.push(item);
        return nonEmpty('list', out);
      }
      case TYPE.LIST_QUICKLIST_2:
        return nonEmpty('list', this.quicklist2());
      case TYPE.STREAM_LISTPACKS:
      case TYPE.STREAM_LISTPACKS_2:
      case TYPE.STREAM_LISTPACKS_3:
        return { type: 'stream', value: this.stream(type) };
      case TYPE.MODULE_PRE_GA:
      case TYPE.MODULE_2: {
        const id = this.length64();
        throw this.error(
          'RDB_MODULE_TYPE',
          `key of module type "${moduleName(id)}" cannot be loaded`,
          typeAt,
        );
      }
      default:
        throw this.error('RDB_UNKNOWN_OPCODE', `unknown RDB value type or opcode ${type}`, typeAt);
    }
  }

  private strings(n: number): Buffer[] {
    const out: Buffer[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.string();
    return out;
  }

  private zsetPairs(items: readonly ListpackItem[]): Array<[Buffer, number]> {
    if (items.length % 2 !== 0)
      throw this.error('RDB_CORRUPT', 'sorted set blob has an odd number of items', this.valueStart);
    const out: Array<[Buffer, number]> = new Array(items.length / 2);
    for (let i = 0; i < items.length; i += 2) {
      const s = items[i + 1]!;
      const score = typeof s === 'bigint' ? Number(s) : parseRedisDouble(s.toString('latin1'));
      if (Number.isNaN(score))
        throw this.error('RDB_INVALID_VALUE', 'sorted set score is not a number', this.valueStart);
      out[i / 2] = [itemToBuffer(items[i]!), score];
    }
    return out;
  }

  private hashPairs(items: readonly ListpackItem[]): Array<[Buffer, Buffer]> {
    if (items.length % 2 !== 0)
      throw this.error('RDB_CORRUPT', 'hash blob has an odd number of items', this.valueStart);
    const out: Array<[Buffer, Buffer]> = new Array(items.length / 2);
    for (let i = 0; i < items.length; i += 2)
      out[i / 2] = [itemToBuffer(items[i]!), itemToBuffer(items[i + 1]!)];
    return out;
  }

  private quicklist2(): Buffer[] {
    const nodes = this.count(2);
    const out: Buffer[] = [];
    for (let i = 0; i < nodes; i++) {
      const at = this.input.offset;
      const container = this.length();
      if (container === QUICKLIST_NODE_PLAIN) {
        out.push(this.string());
      } else if (container === QUICKLIST_NODE_PACKED) {
        for (const item of decodeListpack(this.string())) out.push(itemToBuffer(item));
      } else {
        throw this.error('RDB_CORRUPT', `unknown quicklist container ${container}`, at);
      }
    }
    return out;
  }

  private stream(type: number): StreamValue {
    const nodeCount = this.count(2);
    const entries: StreamEntry[] = [];
    for (let n = 0; n < nodeCount; n++) {
      const keyAt = this.input.offset;
      const nodeKey = this.string();
      if (nodeKey.length !== 16) throw this.error('RDB_CORRUPT', 'stream node key is not 128 bits', keyAt);
      const master = { ms: nodeKey.readBigUInt64BE(0), seq: nodeKey.readBigUInt64BE(8) };
      const lpAt = this.input.offset;
      const items = decodeListpack(this.string());
      if (items.length === 0) throw this.error('RDB_CORRUPT', 'empty listpack inside stream', lpAt);
      this.streamNode(items, master, entries, lpAt);
    }
    const length = this.length();
    if (length !== entries.length) {
      throw this.error('RDB_CORRUPT', `stream says ${length} entries, listpacks hold ${entries.length}`);
    }
    const lastId = this.streamId();
    let firstId: StreamId;
    let maxDeletedId: StreamId;
    let entriesAdded: number;
    if (type >= TYPE.STREAM_LISTPACKS_2) {
      firstId = this.streamId();
      maxDeletedId = this.streamId();
      entriesAdded = Number(this.length64());
    } else {
      firstId = entries[0]?.id ?? { ms: 0n, seq: 0n };
      maxDeletedId = { ms: 0n, seq: 0n };
      entriesAdded = length;
    }
    const groupCount = this.count(4);
    const groups: StreamGroup[] = [];
    for (let g = 0; g < groupCount; g++) groups.push(this.streamGroup(type));
    return { entries, lastId, firstId, maxDeletedId, entriesAdded, groups };
  }

  private streamNode(items: readonly ListpackItem[], master: StreamId, out: StreamEntry[], at: number): void {
    let i = 0;
    const int = (): bigint => {
      const v = items[i++];
      if (typeof v !== 'bigint') throw this.error('RDB_CORRUPT', 'malformed stream listpack', at);
      return v;
    };
    const str = (): Buffer => {
      const v = items[i++];
      if (v === undefined) throw this.error('RDB_CORRUPT', 'stream listpack ends inside an entry', at);
      return itemToBuffer(v);
    };
    const valid = int();
    const deleted = int();
    const masterFieldCount = Number(int());
    const masterFields: Buffer[] = [];
    for (let f = 0; f < masterFieldCount; f++) masterFields.push(str());
    if (int() !== 0n) throw this.error('RDB_CORRUPT', 'stream master entry is not terminated', at);
    const total = valid + deleted;
    for (let e = 0n; e < total; e++) {
      const flags = Number(int());
      const ms = BigInt.asUintN(64, master.ms + int());
      const seq = BigInt.asUintN(64, master.seq + int());
      const fields: Buffer[] = [];
      if (flags & STREAM_ITEM_SAMEFIELDS) {
        for (let f = 0; f < masterFieldCount; f++) fields.push(masterFields[f]!, str());
      } else {
        const count = Number(int());
        for (let f = 0; f < count; f++) fields.push(str(), str());
      }
      int(); // lp-count, only used by Redis to walk backwards
      if (!(flags & STREAM_ITEM_DELETED)) out.push({ id: { ms, seq }, fields });
    }
    if (i !== items.length) throw this.error('RDB_CORRUPT', 'trailing data in stream listpack', at);
  }

  private streamGroup(type: number): StreamGroup {
    const name = this.string();
    const lastId = this.streamId();
    let entriesRead: number | null = null;
    if (type >= TYPE.STREAM_LISTPACKS_2) {
      const v = this.length64();
      entriesRead = v === U64_MAX ? null : Number(v);
    }
    const pelCount = this.count(25);
    const pel = new Map<
      string,
      { id: StreamId; deliveryTimeMs: number; deliveryCount: number; owner?: Buffer }
    >();
    const order: string[] = [];
    for (let p = 0; p < pelCount; p++) {
      const raw = this.input.view(16);
      const id = { ms: raw.readBigUInt64BE(0), seq: raw.readBigUInt64BE(8) };
      const deliveryTimeMs = Number(this.input.i64le());
      const deliveryCount = this.length();
      const k = `${id.ms}-${id.seq}`;
      pel.set(k, { id, deliveryTimeMs, deliveryCount });
      order.push(k);
    }
    const consumerCount = this.count(10);
    const consumers: Array<{ name: Buffer; seenTimeMs: number; activeTimeMs?: number }> = [];
    for (let c = 0; c < consumerCount; c++) {
      const cname = this.string();
      const seenTimeMs = Number(this.input.i64le());
      const activeTimeMs = type >= TYPE.STREAM_LISTPACKS_3 ? Number(this.input.i64le()) : undefined;
      consumers.push(
        activeTimeMs === undefined ? { name: cname, seenTimeMs } : { name: cname, seenTimeMs, activeTimeMs },
      );
      const owned = this.count(16);
      for (let p = 0; p < owned; p++) {
        const at = this.input.offset;
        const raw = this.input.view(16);
        const k = `${raw.readBigUInt64BE(0)}-${raw.readBigUInt64BE(8)}`;
        const nack = pel.get(k);
        if (!nack) throw this.error('RDB_CORRUPT', 'consumer owns an entry missing from the group PEL', at);
        if (nack.owner) throw this.error('RDB_CORRUPT', 'pending entry owned by two consumers', at);
        nack.owner = cname;
      }
    }
    const pending = order.map((k) => {
      const nack = pel.get(k)!;
      if (!nack.owner) throw this.error('RDB_CORRUPT', `pending entry ${k} has no consumer`);
      return {
        id: nack.id,
        consumer: nack.owner,
        deliveryTimeMs: nack.deliveryTimeMs,
        deliveryCount: nack.deliveryCount,
      };
    });
    return { name, lastId, entriesRead, pending, consumers };
  }
}

function itemToBuffer(item: ListpackItem): Buffer {
  return typeof item === 'bigint' ? intToBuffer(item) : item;
}

function nonEmpty<T extends 'list' | 'set' | 'zset' | 'hash'>(
  type: T,
  value: Extract<StoredValue, { type: T }>['value'],
): StoredValue | null {
  return value.length === 0 ? null : ({ type, value } as StoredValue);
}

/** Module type ids pack a 9-character name in their top 54 bits. */
function moduleName(id: bigint): string {
  let name = '';
  for (let i = 0; i < 9; i++) name += MODULE_CHARSET[Number((id >> BigInt(10 + (8 - i) * 6)) & 63n)];
  return name;
}
