import { BundocError } from '../storage/errors.js';

function where(batchIndex: number | undefined): string {
  return batchIndex === undefined ? 'document' : `document [${batchIndex}]`;
}

/**
 * A document (or a value headed into one) is not storable; `path` names the offending value in dot
 * notation ('' for the document itself), `batchIndex` the document's position in an insertMany batch.
 */
export class InvalidDocumentError extends BundocError {
  readonly path: string;
  readonly problem: string;
  readonly batchIndex: number | undefined;
  constructor(path: string, problem: string, batchIndex?: number) {
    super(
      'INVALID_DOCUMENT',
      `invalid ${where(batchIndex)} at ${path === '' ? 'the root' : `"${path}"`}: ${problem}`,
    );
    this.path = path;
    this.problem = problem;
    this.batchIndex = batchIndex;
  }

  /** The same error, attributed to the document at `batchIndex` of a batch. */
  atIndex(batchIndex: number): InvalidDocumentError {
    return new InvalidDocumentError(this.path, this.problem, batchIndex);
  }
}

/** The encoded document exceeds the size limit; nothing was written. */
export class DocumentTooLargeError extends BundocError {
  /** The encoded size, undefined when the document was too large to even encode. */
  readonly bytes: number | undefined;
  readonly limit: number;
  readonly batchIndex: number | undefined;
  constructor(bytes: number | undefined, limit: number, batchIndex?: number) {
    super(
      'DOCUMENT_TOO_LARGE',
      `${where(batchIndex)} is ${bytes === undefined ? 'too large to encode' : `${bytes} bytes encoded`}, over the limit of ${limit} bytes`,
    );
    this.bytes = bytes;
    this.limit = limit;
    this.batchIndex = batchIndex;
  }

  atIndex(batchIndex: number): DocumentTooLargeError {
    return new DocumentTooLargeError(this.bytes, this.limit, batchIndex);
  }
}

/** Stored bytes are not a document this codec wrote (unknown header, bad compression or JSON). */
export class DocumentDecodeError extends BundocError {
  constructor(message: string) {
    super('DOCUMENT_DECODE', `cannot decode stored document: ${message}`);
  }
}
