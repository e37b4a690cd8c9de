/**
 * PRIVATE, TEMPORARY: document validation, _id generation and the JSON-bytes document codec used by the
 * collection layer until engines/bundoc/src/document lands; replace these imports then.
 */
import { randomBytes } from 'node:crypto';
import { encodeKey } from '../keys/encode.js';
import { isPlainObject } from '../keys/types.js';
import { MAX_VALUE_BYTES } from '../storage/constants.js';
import { InvalidDocumentError } from './errors.js';

export type Document = Record<string, unknown>;
export type DocId = string | number;

export const MAX_DOCUMENT_BYTES = MAX_VALUE_BYTES;
export const MAX_DOCUMENT_DEPTH = 100;
/** Leaves room in a 2 KiB storage key for index components in front of the _id. */
export const MAX_ID_KEY_BYTES = 512;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Throws InvalidDocumentError unless `id` can be a primary key. */
export function checkId(id: unknown, path = '_id'): DocId {
  if (typeof id === 'string') {
    if (encodeKey(id).length > MAX_ID_KEY_BYTES) {
      throw new InvalidDocumentError(path, `_id is longer than ${MAX_ID_KEY_BYTES} encoded bytes`);
    }
    return id;
  }
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) throw new InvalidDocumentError(path, '_id must be a finite number');
    return id;
  }
  throw new InvalidDocumentError(path, `_id must be a string or a number, not ${describe(id)}`);
}

/** The primary key bytes of a document: the order-preserving encoding of its _id (-0 folds to 0). */
export function idKey(id: DocId): Uint8Array {
  return encodeKey(id);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return v.constructor?.name ? `a ${v.constructor.name}` : 'an object';
  return `a ${typeof v}`;
}

/**
 * Validates a JSON document (plain objects, arrays, strings, finite numbers, booleans, null; Dates are
 * accepted and stored as ISO strings) and reports whether a Date was seen, so callers know the stored
 * form differs from the input.
 */
function validateValue(v: unknown, path: string, depth: number, ancestors: Set<object>): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return false;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidDocumentError(path, `${v} is not a JSON number`);
      return false;
    case 'object': {
      if (v === null) return false;
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw new InvalidDocumentError(path, 'invalid Date');
        return true;
      }
      if (depth >= MAX_DOCUMENT_DEPTH) {
        throw new InvalidDocumentError(path, `nested deeper than ${MAX_DOCUMENT_DEPTH} levels`);
      }
      if (ancestors.has(v)) throw new InvalidDocumentError(path, 'circular reference');
      ancestors.add(v);
      let sawDate = false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw new InvalidDocumentError(`${path}[${i}]`, 'sparse array hole (undefined)');
          if (validateValue(v[i], `${path}[${i}]`, depth + 1, ancestors)) sawDate = true;
        }
      } else if (isPlainObject(v)) {
        for (const k of Object.keys(v)) {
          const p = `${path}.${k}`;
          if (k.startsWith('$')) throw new InvalidDocumentError(p, 'field names must not start with "$"');
          if (k.includes('.')) throw new InvalidDocumentError(p, 'field names must not contain "."');
          if (validateValue(v[k], p, depth + 1, ancestors)) sawDate = true;
        }
      } else {
        throw new InvalidDocumentError(path, `${describe(v)} is not a JSON value`);
      }
      ancestors.delete(v);
      return sawDate;
    }
  }
  throw new InvalidDocumentError(path, `${describe(v)} is not a JSON value`);
}

export interface EncodedDocument {
  /** The document as stored and as queries see it (_id first when generated, Dates as ISO strings). */
  doc: Document;
  id: DocId;
  bytes: Uint8Array;
}

/** Validates and encodes a whole document; `id` fills a missing _id. */
export function encodeDocument(input: unknown, makeId: () => DocId): EncodedDocument {
  if (!isPlainObject(input))
    throw new InvalidDocumentError('(document)', 'a document must be a plain object');
  let doc = input as Document;
  if (!Object.hasOwn(doc, '_id') || doc._id === undefined) {
    const { _id: _drop, ...rest } = doc;
    doc = { _id: makeId(), ...rest };
  }
  const id = checkId(doc._id);
  const sawDate = validateValue(doc, '(document)', 0, new Set());
  const text = JSON.stringify(doc);
  const bytes = encoder.encode(text);
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new InvalidDocumentError(
      '(document)',
      `encoded size ${bytes.length} bytes exceeds the ${MAX_DOCUMENT_BYTES}-byte limit`,
    );
  }
  if (sawDate) doc = JSON.parse(text) as Document;
  return { doc, id, bytes };
}

export function decodeDocument(bytes: Uint8Array): Document {
  return JSON.parse(decoder.decode(bytes)) as Document;
}

const processTag = randomBytes(2).toString('hex');
let lastMs = 0;
let counter = randomBytes(3).readUIntBE(0, 3);

/**
 * A 24-hex-character id: 12 hex digits of milliseconds, 4 of a per-process tag, 8 of a counter that never
 * goes backwards within a process, so ids sort by creation time and are unique without coordination.
 */
export function generateId(): string {
  const now = Date.now();
  if (now > lastMs) lastMs = now;
  counter = (counter + 1) % 0x1_0000_0000;
  if (counter === 0) lastMs++; // wrapped within one millisecond: borrow the next one to stay ordered
  return lastMs.toString(16).padStart(12, '0') + processTag + counter.toString(16).padStart(8, '0');
}
