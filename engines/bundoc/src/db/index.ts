export { Bundoc, type BundocOptions, DbTransaction } from './bundoc.js';
export {
  BulkWriteError,
  Collection,
  type DeleteResult,
  type IndexInfo,
  type InsertManyResult,
  type InsertOneResult,
  type UpdateResult,
} from './collection.js';
export { Cursor } from './cursor.js';
export {
  DuplicateKeyError,
  IndexNotFoundError,
  InvalidCollectionNameError,
  InvalidDocumentError,
  InvalidIndexError,
  InvalidOptionError,
} from './errors.js';
export type { Explain, FindOptions } from './exec.js';
export type { IndexOptions } from './index-spec.js';
export { MAX_COLLECTION_NAME_BYTES, MAX_INDEX_NAME_BYTES } from './names.js';
export { type DocId, type Document, MAX_DOCUMENT_BYTES } from './private-document.js';
