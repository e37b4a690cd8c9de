import { BundocError } from '../storage/errors.js';

/** A value cannot become an index key (unsupported type, too deep, or bytes that are not a key). */
export class KeyEncodingError extends BundocError {
  constructor(message: string) {
    super('KEY_ENCODING', message);
  }
}
