export { DocumentCache, type DocumentCacheStats } from '../document/decoded-cache.js';
export {
  COMPRESS_MIN_BYTES,
  type DocId,
  type Document,
  DocumentDecodeError,
  DocumentTooLargeError,
  decodeDocument,
  encodeDocument,
  generateId,
  InvalidDocumentError,
  MAX_DOCUMENT_BYTES,
  MAX_ID_KEY_BYTES,
} from '../document/index.js';
export {
  InvalidFilterError,
  InvalidProjectionError,
  InvalidSortError,
  InvalidUpdateError,
  UpdateConflictError,
} from '../query/errors.js';
export {
  type AdminOp,
  type AuditEvent,
  type AuditHook,
  type AuthContext,
  type AuthInfo,
  DanglingReferenceError,
  DeletePlanTooLargeError,
  InvalidAuthContextError,
  InvalidRuleError,
  InvalidSchemaError,
  InvalidSecuritySpecError,
  type OnDelete,
  PermissionDenied,
  ReferenceRestrictedError,
  type RuleName,
  type RuleOp,
  type RulesSpec,
  type SchemaIssue,
  SchemaValidationError,
  type SecuritySpec,
  type ValidationLevel,
  validateSecuritySpec,
} from '../security/index.js';
export type { CallOptions } from './access.js';
export {
  Bundoc,
  type BundocOptions,
  type CollectionOptions,
  DbTransaction,
  type TransactionOptions,
} from './bundoc.js';
export {
  type ChangeEvent,
  type ChangeOp,
  ChangeStream,
  ChangeStreamOverflowError,
  type WatchOptions,
} from './change-stream.js';
export {
  Collection,
  type DeleteResult,
  type IndexInfo,
  type InsertManyOptions,
  type InsertManyResult,
  type InsertOneResult,
  type UpdateOptions,
  type UpdateResult,
} from './collection.js';
export { Cursor } from './cursor.js';
export {
  BulkWriteError,
  CollectionExistsError,
  CollectionNotFoundError,
  CollectionReferencedError,
  DuplicateKeyError,
  IndexBuildAbortedError,
  IndexNotFoundError,
  InvalidCollectionNameError,
  InvalidIndexError,
  InvalidOptionError,
} from './errors.js';
export type { Explain, FindOptions } from './exec.js';
export type { IndexOptions } from './index-spec.js';
export { MAX_COLLECTION_NAME_BYTES, MAX_INDEX_NAME_BYTES } from './names.js';
