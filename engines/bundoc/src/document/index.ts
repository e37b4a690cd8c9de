export {
  COMPRESS_MIN_BYTES,
  type Document,
  decodeDocument,
  encodeDocument,
  encodeValidated,
  MAX_DOCUMENT_BYTES,
  parseTyped,
  stringifyTyped,
} from './codec.js';
export { DocumentDecodeError, DocumentTooLargeError, InvalidDocumentError } from './errors.js';
export { checkId, type DocId, generateId, idKey, MAX_ID_KEY_BYTES } from './id.js';
export { PreparedDocument, prepareDocument } from './prepare.js';
export { cloneValue, MAX_DEPTH, validateDocument, validateValue } from './validate.js';
