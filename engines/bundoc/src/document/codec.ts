import { isPlainObject } from '../keys/types.js';
import { MAX_VALUE_BYTES } from '../storage/constants.js';
import { ownedText } from '../storage/copy-out.js';
import { DocumentDecodeError, DocumentTooLargeError } from './errors.js';
import { type DecodeShapes, decodeJson } from './json-decode.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import { MAX_DEPTH, validateDocument } from './validate.js';

/**
 * The stored form of a document (FORMAT-DOCUMENTS.md): one header byte, then UTF-8 JSON, optionally as
 * an LZ4 block. Header: high nibble = format version (1), bit 0 = LZ4, bit 1 = typed values present
 * (Dates as `{"$date": <ms>}`, unambiguous because stored field names never start with "$"), bits 2-3
 * reserved (0). Every header is below 0x80, so it is a single UTF-8 byte of the encoded string.
 */
export type Document = Record<string, unknown>;

const VERSION = 0x10;
const FLAG_LZ4 = 0x01;
const FLAG_TYPED = 0x02;

/** Limit on a document's uncompressed encoding (header + JSON), so it always fits a storage value. */
export const MAX_DOCUMENT_BYTES = MAX_VALUE_BYTES;
/** Encodings at least this long are tried with LZ4 (smaller ones rarely shrink enough to pay off). */
export const COMPRESS_MIN_BYTES = 1024;
/** Compression is kept only if it saves at least 1/COMPRESS_MIN_SAVING of the bytes. */
const COMPRESS_MIN_SAVING = 8;
/** Compressed layout: header, u32 little-endian uncompressed JSON length, LZ4 block. */
const LZ4_PREFIX = 5;

const HEADER_CHAR = [String.fromCharCode(VERSION), String.fromCharCode(VERSION | FLAG_TYPED)] as const;

/** Validates a document (see validate.ts) and encodes it. */
export function encodeDocument(doc: unknown): Uint8Array {
  const info = validateDocument(doc);
  return encodeValidated(doc as Document, info.hasDates);
}

/**
 * The value with every Date replaced by its `{ $date: ms }` wrapper, copying only the objects and arrays
 * on the way to a Date (the rest is shared). Native JSON.stringify of the result is several times faster
 * than a replacer function, which also pays for Date.prototype.toJSON on every Date.
 */
function liftDates(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = liftDates(x);
      if (y !== x) {
        out ??= v.slice();
        out[i] = y;
      }
    }
    return out ?? v;
  }
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(o)) {
    const x = o[k];
    const y = liftDates(x);
    if (y !== x) {
      out ??= copyObject(o);
      out[k] = y; // an own data property after the copy, even for "__proto__"
    }
  }
  return out ?? o;
}

function copyObject(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (k === '__proto__') {
      Object.defineProperty(out, k, { value: o[k], enumerable: true, writable: true, configurable: true });
    } else out[k] = o[k];
  }
  return out;
}

/**
 * Encodes a document that validateDocument accepted; `hasDates` is what it reported. Documents without
 * Dates take the fast path: one JSON.stringify and one UTF-8 encode. Throws DocumentTooLargeError.
 */
export function encodeValidated(doc: Document, hasDates: boolean): Uint8Array {
  let json: string;
  try {
    json = JSON.stringify(hasDates ? liftDates(doc) : doc);
  } catch (e) {
    // Only a string beyond V8's maximum length fails here: validation ruled out everything else.
    if (e instanceof RangeError) throw new DocumentTooLargeError(undefined, MAX_DOCUMENT_BYTES);
    throw e;
  }
  // A quick bound first: UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (json.length >= MAX_DOCUMENT_BYTES / 3) {
    const n = 1 + Buffer.byteLength(json, 'utf8');
    if (n > MAX_DOCUMENT_BYTES) throw new DocumentTooLargeError(n, MAX_DOCUMENT_BYTES);
  }
  const header = hasDates ? VERSION | FLAG_TYPED : VERSION;
  // Short documents are encoded straight into the store's write arenas (no "header + json" string, no
  // buffer of their own, and the transaction keeps them without a copy).
  if (json.length < COMPRESS_MIN_BYTES) {
    const owned = ownedText(header, json);
    if (owned !== undefined && owned.length < COMPRESS_MIN_BYTES) return owned;
  }
  const bytes: Uint8Array = Buffer.from(HEADER_CHAR[hasDates ? 1 : 0] + json, 'utf8');
  if (bytes.length < COMPRESS_MIN_BYTES) return bytes;
  const body = bytes.subarray(1);
  const packed = lz4Compress(body, LZ4_PREFIX, bytes.length - Math.ceil(bytes.length / COMPRESS_MIN_SAVING));
  if (!packed) return bytes;
  packed[0] = bytes[0]! | FLAG_LZ4;
  new DataView(packed.buffer, packed.byteOffset, LZ4_PREFIX).setUint32(1, body.length, true);
  return packed;
}

/** Decodes stored bytes; anything this codec did not write raises DocumentDecodeError. */
export function decodeDocument(bytes: Uint8Array): Document {
  return parseDocumentJson(documentJson(bytes));
}

/**
 * The stored bytes as the header byte followed by the UTF-8 JSON: `bytes` itself, or for a compressed
 * document its inflated form (the header is checked, and copied in front). The JSON is exactly what
 * JSON.stringify produced at write time, so a string value v of the document appears in it as the
 * UTF-8 of JSON.stringify(v): scans look for that before parsing (see query/needles.ts). The header
 * byte is a control character, which never occurs in JSON text: searching the whole array is safe.
 */
export function documentJson(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new DocumentDecodeError('empty value');
  const header = bytes[0]!;
  if ((header & ~(FLAG_LZ4 | FLAG_TYPED)) !== VERSION) {
    throw new DocumentDecodeError(`unknown header byte 0x${header.toString(16).padStart(2, '0')}`);
  }
  return header & FLAG_LZ4 ? inflate(bytes) : bytes;
}

/**
 * Whether bytes[at] heads a stored document whose JSON follows it as is (not compressed): a scan can then
 * search the JSON where it lies, up to the end of the value.
 */
export function isPlainDocumentAt(bytes: Uint8Array, at: number): boolean {
  return (bytes[at]! & ~FLAG_TYPED) === VERSION;
}

/** The document of what documentJson returned; `shapes`: its collection's (see DecodeShapes). */
export function parseDocumentJson(json: Uint8Array, shapes?: DecodeShapes): Document {
  return parsePlainDocumentAt(json, 0, json.length, shapes);
}

/**
 * The document stored as bytes[start..end) when it is plain (isPlainDocumentAt: its JSON follows the
 * header byte as is), decoded where it lies.
 */
export function parsePlainDocumentAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  shapes?: DecodeShapes,
): Document {
  let doc: unknown;
  try {
    doc = decodeJson(bytes, start + 1, end, shapes); // after the header byte
  } catch (e) {
    const what = e instanceof TypeError ? 'invalid UTF-8' : 'invalid JSON';
    throw new DocumentDecodeError(`${what} (${(e as Error).message})`);
  }
  if (!isPlainObject(doc)) throw new DocumentDecodeError('the JSON is not an object');
  if (bytes[start]! & FLAG_TYPED) reviveTyped(doc, 0);
  return doc;
}

/** Header (without the LZ4 flag) and inflated JSON. */
function inflate(bytes: Uint8Array): Uint8Array {
  if (bytes.length < LZ4_PREFIX) throw new DocumentDecodeError('truncated compressed document');
  const size = new DataView(bytes.buffer, bytes.byteOffset, LZ4_PREFIX).getUint32(1, true);
  if (size >= MAX_DOCUMENT_BYTES) {
    throw new DocumentDecodeError(`uncompressed size ${size} is over the document limit`);
  }
  const out = new Uint8Array(1 + size);
  out[0] = bytes[0]! & ~FLAG_LZ4;
  const problem = lz4Decompress(bytes, LZ4_PREFIX, bytes.length, out.subarray(1));
  if (problem !== undefined) throw new DocumentDecodeError(`corrupt LZ4 block: ${problem}`);
  return out;
}

/** JSON text of any value with Dates as `{"$date": ms}` (the codec's JSON layer, e.g. for cursor tokens). */
export function stringifyTyped(v: unknown): string {
  return JSON.stringify(liftDates(v));
}

/** Inverse of stringifyTyped; SyntaxError or DocumentDecodeError on text it did not write. */
export function parseTyped(text: string): unknown {
  const v: unknown = JSON.parse(text);
  if (v === null || typeof v !== 'object') return v;
  return revive(v as Record<string, unknown>, 0);
}

/** ±8.64e15 ms is the range of a JavaScript Date. */
const MAX_DATE_MS = 8.64e15;

/** Replaces `{"$date": ms}` wrappers by Dates, in place. */
function reviveTyped(v: Record<string, unknown> | unknown[], depth: number): void {
  // The wrapper adds one level to the validated depth.
  if (depth > MAX_DEPTH + 1) throw new DocumentDecodeError(`nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = revive(x as Record<string, unknown>, depth);
    }
    return;
  }
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === null || typeof x !== 'object') continue;
    const r = revive(x as Record<string, unknown>, depth);
    // JSON.parse made every field an own data property, so this assigns even a field named "__proto__".
    if (r !== x) v[k] = r;
  }
}

function revive(x: Record<string, unknown> | unknown[], depth: number): unknown {
  if (!Array.isArray(x) && Object.hasOwn(x, '$date')) {
    const ms = x.$date;
    if (
      Object.keys(x).length !== 1 ||
      typeof ms !== 'number' ||
      !Number.isInteger(ms) ||
      Math.abs(ms) > MAX_DATE_MS
    ) {
      throw new DocumentDecodeError(`malformed typed value ${JSON.stringify(x).slice(0, 100)}`);
    }
    return new Date(ms);
  }
  reviveTyped(x, depth + 1);
  return x;
}
