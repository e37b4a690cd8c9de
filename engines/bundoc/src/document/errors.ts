import { BundocError } from '../storage/errors.js';

/** A document (or a value headed into one) is not storable; `path` names the offending value. */
export class InvalidDocumentError extends BundocError {
  readonly path: string;
  constructor(path: string, problem: string) {
    super('INVALID_DOCUMENT', `invalid document at ${path === '' ? 'the root' : `"${path}"`}: ${problem}`);
    this.path = path;
  }
}

/** The encoded document exceeds the size limit; nothing was written. */
export class DocumentTooLargeError extends BundocError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super('DOCUMENT_TOO_LARGE', `document is ${bytes} bytes encoded, over the limit of ${limit} bytes`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** Stored bytes are not a document this codec wrote (unknown header, bad compression or JSON). */
export class DocumentDecodeError extends BundocError {
  constructor(message: string) {
    super('DOCUMENT_DECODE', message);
  }
}
