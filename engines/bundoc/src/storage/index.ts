export { ValueRange } from './btree.js';
export { MAX_VALUE_BYTES, maxKeyBytes, PAGE_SIZES, type PageSize } from './constants.js';
export {
  BundocError,
  ClosedError,
  ConflictError,
  CorruptionError,
  EncryptionKeyError,
  FormatError,
  HistoryUnavailableError,
  InvalidArgumentError,
  LockedError,
  StoreFailedError,
} from './errors.js';
export type { Op, PutNote } from './ops.js';
export { MIN_STORE_PAGES, SharedCache, type SharedCacheStats } from './shared-cache.js';
export {
  type Commit,
  Storage,
  type StorageOptions,
  type StorageStats,
  type VerifyReport,
} from './storage.js';
export { Transaction } from './transaction.js';
export type { RangeOptions } from './validate.js';
export type { Durability } from './wal.js';
