import { BundocError } from '../storage/errors.js';

function where(index: number | undefined): string {
  return index === undefined ? 'document' : `document [${index}]`;
}

/**
 * A document (or a value headed into one) is not storable; `path` names the offending value in dot
 * notation ('' for the document itself), `index` the document's position in an insertMany batch.
 */
export class InvalidDocumentError extends BundocError {
  readonly path: string;
  readonly problem: string;
  readonly index: number | undefined;
  constructor(path: string, problem: string, index?: number) {
    super(
      'INVALID_DOCUMENT',
      `invalid ${where(index)} at ${path === '' ? 'the root' : `"${path}"`}: ${problem}`,
    );
    this.path = path;
    this.problem = problem;
    this.index = index;
  }

  /** The same error, attributed to the document at `index` of a batch. */
  atIndex(index: number): InvalidDocumentError {
    return new InvalidDocumentError(this.path, this.problem, index);
  }
}

/** The encoded document exceeds the size limit; nothing was written. */
export class DocumentTooLargeError extends BundocError {
  /** The encoded size, undefined when the document was too large to even encode. */
  readonly bytes: number | undefined;
  readonly limit: number;
  readonly index: number | undefined;
  constructor(bytes: number | undefined, limit: number, index?: number) {
    super(
      'DOCUMENT_TOO_LARGE',
      `${where(index)} is ${bytes === undefined ? 'too large to encode' : `${bytes} bytes encoded`}, over the limit of ${limit} bytes`,
    );
    this.bytes = bytes;
    this.limit = limit;
    this.index = index;
  }

  atIndex(index: number): DocumentTooLargeError {
    return new DocumentTooLargeError(this.bytes, this.limit, index);
  }
}

/** Stored bytes are not a document this codec wrote (unknown header, bad compression or JSON). */
export class DocumentDecodeError extends BundocError {
  constructor(message: string) {
    super('DOCUMENT_DECODE', `cannot decode stored document: ${message}`);
  }
}
