import { randomFillSync } from 'node:crypto';
import { encodeKey } from '../keys/encode.js';
import { InvalidDocumentError } from './errors.js';

/** A primary key: the caller's string or finite number, or a generated string. */
export type DocId = string | number;

/** Leaves room in a 2 KiB storage key for index components in front of the _id. */
export const MAX_ID_KEY_BYTES = 512;

/**
 * Throws InvalidDocumentError unless `id` can be a primary key; returns it (-0 as 0, which is the same
 * key). `path` names the value in the error.
 */
export function checkId(id: unknown, path = '_id'): DocId {
  if (typeof id === 'string') {
    // Encoded keys take at most 3 bytes per UTF-16 unit plus 3; only long strings need measuring.
    if (id.length * 3 + 3 > MAX_ID_KEY_BYTES && encodeKey(id).length > MAX_ID_KEY_BYTES) {
      throw new InvalidDocumentError(path, `_id is longer than ${MAX_ID_KEY_BYTES} encoded bytes`);
    }
    return id;
  }
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) throw new InvalidDocumentError(path, `_id must be a finite number, not ${id}`);
    return id === 0 ? 0 : id;
  }
  throw new InvalidDocumentError(path, `_id must be a string or a number, not ${describe(id)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a Date';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** The primary key bytes of a document: the order-preserving key encoding of its _id. */
export function idKey(id: DocId): Uint8Array {
  return encodeKey(id);
}

// Generated ids: 24 lowercase hex digits, 12 of milliseconds since the epoch then 12 of a 48-bit
// sequence that starts at a fresh random value below 2^47 in every new millisecond and counts up within
// it. Ids of one process are strictly increasing (a clock step back keeps counting in the last
// millisecond); ids of different processes collide only if they pick overlapping 48-bit runs in the
// same millisecond. (The temporary scheme used a 16-bit process tag plus a counter: processes sharing
// a tag, likely among a few hundred, could collide whenever their counters crossed.)
const MAX_SEQUENCE = 2 ** 48 - 1;
const pool = new Uint8Array(6 * 512);
let poolAt = pool.length;
let lastMs = -1;
let sequence = 0;

function randomStart(): number {
  if (poolAt + 6 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const p = pool;
  const i = poolAt;
  poolAt += 6;
  const hi = ((p[i]! & 0x7f) << 16) | (p[i + 1]! << 8) | p[i + 2]!;
  const lo = (p[i + 3]! << 16) | (p[i + 4]! << 8) | p[i + 5]!;
  return hi * 2 ** 24 + lo;
}

/** A new sortable, unique id (see above). */
export function generateId(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = randomStart();
  } else if (++sequence > MAX_SEQUENCE) {
    lastMs++; // 2^47 ids in one millisecond: borrow the next one to stay ordered
    sequence = randomStart();
  }
  return lastMs.toString(16).padStart(12, '0') + sequence.toString(16).padStart(12, '0');
}
