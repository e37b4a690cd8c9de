import { isPlainObject } from '../keys/types.js';
import { type Document, decodeDocument, encodeValidated } from './codec.js';
import { InvalidDocumentError } from './errors.js';
import { checkId, type DocId } from './id.js';
import { describeValue, type ValidationInfo, validateDocument } from './validate.js';

/**
 * A document ready to be written: validated, _id filled in and checked, encoded. `doc` is what index
 * maintenance reads. It is the caller's object only during the synchronous turn that prepared it (the
 * write runs in that turn unless it waits for a lock or retries); afterwards it is decoded from `bytes`,
 * so a caller mutating the object after insertOne() returned cannot make index keys disagree with the
 * stored document.
 */
export class PreparedDocument {
  readonly id: DocId;
  readonly bytes: Uint8Array;
  #doc: Document | undefined;

  constructor(id: DocId, bytes: Uint8Array, doc: Document) {
    this.id = id;
    this.bytes = bytes;
    this.#doc = doc;
    if (live.length === 0) queueMicrotask(expireLive);
    live.push(this);
  }

  get doc(): Document {
    this.#doc ??= decodeDocument(this.bytes);
    return this.#doc;
  }

  /** @internal */
  expire(): void {
    this.#doc = undefined;
  }
}

const live: PreparedDocument[] = [];
function expireLive(): void {
  for (const p of live) p.expire();
  live.length = 0;
}

/**
 * Validates and encodes a document for insertion; a missing (or undefined) _id is filled by `makeId`
 * and placed first. Throws InvalidDocumentError or DocumentTooLargeError; the input is not modified.
 */
export function prepareDocument(input: unknown, makeId: () => DocId): PreparedDocument {
  if (!isPlainObject(input)) {
    throw new InvalidDocumentError('', `a document must be a plain object, not ${describeValue(input)}`);
  }
  let doc = input as Document;
  let info: ValidationInfo;
  if (!Object.hasOwn(doc, '_id') || doc._id === undefined) {
    // Validate what the caller passed, so error paths match their object; a generated _id is valid.
    const { _id: _drop, ...rest } = doc;
    info = validateDocument(Object.hasOwn(doc, '_id') ? rest : doc);
    doc = { _id: makeId(), ...rest };
  } else info = validateDocument(doc);
  const id = checkId(doc._id);
  return new PreparedDocument(id, encodeValidated(doc, info.hasDates), doc);
}
