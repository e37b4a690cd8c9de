import CRC32 from 'crc-32';
import { ByteReader, type ByteWriter } from '../bytes.js';
import { readEntry, readHardState, writeEntry, writeHardState } from '../codec.js';
import { StorageCorruptionError } from '../errors.js';
import type { Entry, HardState } from '../types.js';

/**
 * Records of the durable log. Layout: crc32 u32 (over the bytes after it) | payload length u32 | type u8 |
 * payload. A segment file is a sequence of records and nothing else.
 */
export type LogRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  /** The current snapshot is at (index, term); `reset` means the log was replaced by it (from a leader). */
  | { readonly kind: 'snapshot'; readonly index: number; readonly term: number; readonly reset: boolean }
  /** Entries up to `index` were compacted; `term` is the term of entry `index`. */
  | { readonly kind: 'compact'; readonly index: number; readonly term: number };

const TYPE_CODE = { entry: 1, hardState: 2, snapshot: 3, compact: 4 } as const;
export const RECORD_HEADER_BYTES = 9;

export function crc32(buf: Uint8Array, seed?: number): number {
  return CRC32.buf(buf, seed) >>> 0;
}

export function encodeRecord(w: ByteWriter, rec: LogRecord): void {
  const start = w.length;
  w.u32(0).u32(0).u8(TYPE_CODE[rec.kind]);
  const body = w.length;
  switch (rec.kind) {
    case 'entry':
      writeEntry(w, rec.entry);
      break;
    case 'hardState':
      writeHardState(w, rec.hardState);
      break;
    case 'snapshot':
      w.u64(rec.index)
        .u64(rec.term)
        .u8(rec.reset ? 1 : 0);
      break;
    case 'compact':
      w.u64(rec.index).u64(rec.term);
      break;
  }
  w.patchU32(start + 4, w.length - body);
  w.patchU32(start, crc32(w.view().subarray(start + 4)));
}

function decodePayload(type: number, payload: Buffer): LogRecord {
  const r = new ByteReader(payload, 'log record');
  let rec: LogRecord;
  switch (type) {
    case TYPE_CODE.entry:
      rec = { kind: 'entry', entry: readEntry(r) };
      break;
    case TYPE_CODE.hardState:
      rec = { kind: 'hardState', hardState: readHardState(r) };
      break;
    case TYPE_CODE.snapshot: {
      const index = r.u64();
      const term = r.u64();
      const reset = r.u8();
      if (reset > 1) throw new Error(`bad reset flag ${reset}`);
      rec = { kind: 'snapshot', index, term, reset: reset === 1 };
      break;
    }
    case TYPE_CODE.compact:
      rec = { kind: 'compact', index: r.u64(), term: r.u64() };
      break;
    default:
      throw new Error(`unknown record type ${type}`);
  }
  r.end();
  return rec;
}

export interface ScanResult {
  readonly records: { readonly record: LogRecord; readonly offset: number }[];
  /** Offset just after the last valid record: where the next append goes. */
  readonly validEnd: number;
  /** Set when the file ends in a partial or damaged record that nothing valid follows (a torn write). */
  readonly tornAt?: number;
}

/** The record at `pos` if it is complete and its checksum holds, else undefined. */
function tryRecordAt(
  buf: Buffer,
  pos: number,
  maxRecordBytes: number,
): { end: number; type: number } | undefined {
  if (buf.length - pos < RECORD_HEADER_BYTES) return undefined;
  const len = buf.readUInt32BE(pos + 4);
  const type = buf[pos + 8]!;
  if (len > maxRecordBytes || type < 1 || type > 4) return undefined;
  const end = pos + RECORD_HEADER_BYTES + len;
  if (end > buf.length) return undefined;
  if (crc32(buf.subarray(pos + 4, end)) !== buf.readUInt32BE(pos)) return undefined;
  return { end, type };
}

/** Whether any valid record starts after `pos`: then the damage at `pos` is corruption, not a torn tail. */
function validRecordAfter(buf: Buffer, pos: number, maxRecordBytes: number): boolean {
  for (let p = pos + 1; p + RECORD_HEADER_BYTES <= buf.length; p++) {
    if (tryRecordAt(buf, p, maxRecordBytes)) return true;
  }
  return false;
}

/**
 * Reads every record of a segment. A damaged record is a torn tail when `isLast` and no valid record
 * follows it; anywhere else it is corruption, reported with the file and offset.
 */
export function scanSegment(file: string, buf: Buffer, isLast: boolean, maxRecordBytes: number): ScanResult {
  const records: { record: LogRecord; offset: number }[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const found = tryRecordAt(buf, pos, maxRecordBytes);
    if (!found) {
      if (isLast && !validRecordAfter(buf, pos, maxRecordBytes))
        return { records, validEnd: pos, tornAt: pos };
      throw new StorageCorruptionError(file, pos, describeDamage(buf, pos, maxRecordBytes));
    }
    let record: LogRecord;
    try {
      record = decodePayload(found.type, buf.subarray(pos + RECORD_HEADER_BYTES, found.end));
    } catch (err) {
      // the checksum held, so this is not a torn write: a bug or a format mismatch
      throw new StorageCorruptionError(file, pos, `record does not decode: ${(err as Error).message}`);
    }
    records.push({ record, offset: pos });
    pos = found.end;
  }
  return { records, validEnd: pos };
}

function describeDamage(buf: Buffer, pos: number, maxRecordBytes: number): string {
  if (buf.length - pos < RECORD_HEADER_BYTES) return 'truncated record header';
  const len = buf.readUInt32BE(pos + 4);
  const type = buf[pos + 8]!;
  if (len > maxRecordBytes) return `record length ${len} exceeds the limit of ${maxRecordBytes}`;
  if (type < 1 || type > 4) return `unknown record type ${type}`;
  if (pos + RECORD_HEADER_BYTES + len > buf.length) return 'record runs past the end of the file';
  return 'checksum mismatch';
}
