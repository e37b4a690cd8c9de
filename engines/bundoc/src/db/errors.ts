import type { DocId } from '../document/id.js';
import { BundocError } from '../storage/errors.js';

/** An insert or update would create a second document with the same _id or the same unique index key. */
export class DuplicateKeyError extends BundocError {
  readonly collection: string;
  /** `_id` for the primary key, otherwise the unique index's name. */
  readonly index: string;
  readonly key: unknown;
  /** The position of the offending document in an insertMany batch. */
  readonly batchIndex: number | undefined;
  constructor(collection: string, index: string, key: unknown, batchIndex?: number) {
    super(
      'DUPLICATE_KEY',
      `duplicate key${batchIndex === undefined ? '' : ` (document [${batchIndex}])`} in collection "${collection}" index "${index}": ${safeJson(key)} already exists`,
    );
    this.collection = collection;
    this.index = index;
    this.key = key;
    this.batchIndex = batchIndex;
  }

  atIndex(batchIndex: number): DuplicateKeyError {
    return new DuplicateKeyError(this.collection, this.index, this.key, batchIndex);
  }
}

/** A collection name is empty, too long, reserved or contains forbidden characters. */
export class InvalidCollectionNameError extends BundocError {
  readonly collectionName: unknown;
  constructor(name: unknown, reason: string) {
    super('INVALID_COLLECTION_NAME', `invalid collection name ${safeJson(name)}: ${reason}`);
    this.collectionName = name;
  }
}

/**
 * insertMany({ ordered: false }) committed the valid documents; `writeErrors` are the others, each with
 * its position in the batch.
 */
export class BulkWriteError extends BundocError {
  readonly writeErrors: Array<{ index: number; error: Error }>;
  readonly insertedIds: DocId[];
  constructor(writeErrors: Array<{ index: number; error: Error }>, insertedIds: DocId[]) {
    super(
      'BULK_WRITE',
      `${writeErrors.length} of the documents were not inserted (first: ${writeErrors[0]!.error.message})`,
    );
    this.writeErrors = writeErrors;
    this.insertedIds = insertedIds;
  }
}

/** An index specification or option is malformed, or conflicts with an existing index. */
export class InvalidIndexError extends BundocError {
  constructor(message: string) {
    super('INVALID_INDEX', message);
  }
}

/** dropIndex named an index that does not exist. */
export class IndexNotFoundError extends BundocError {
  constructor(collection: string, name: string) {
    super('INDEX_NOT_FOUND', `collection "${collection}" has no index named "${name}"`);
  }
}

/**
 * An online index build stopped before the index was ready: the index or its collection was dropped
 * meanwhile. (A build the database's closing stops fails with ClosedError; the index is dropped when
 * the database opens again.)
 */
export class IndexBuildAbortedError extends BundocError {
  readonly collection: string;
  readonly index: string;
  constructor(collection: string, index: string, reason: string) {
    super(
      'INDEX_BUILD_ABORTED',
      `the build of index "${index}" of collection "${collection}" stopped: ${reason}`,
    );
    this.collection = collection;
    this.index = index;
  }
}

/** createCollection named an existing collection with a different schema, rules or validationLevel. */
export class CollectionExistsError extends BundocError {
  readonly collection: string;
  constructor(collection: string) {
    super(
      'COLLECTION_EXISTS',
      `collection "${collection}" already exists with a different schema, rules or validationLevel; change them with setCollectionSecurity`,
    );
    this.collection = collection;
  }
}

/** An operation that needs an existing collection (setCollectionSecurity) named one that does not exist. */
export class CollectionNotFoundError extends BundocError {
  readonly collection: string;
  constructor(collection: string) {
    super('COLLECTION_NOT_FOUND', `collection "${collection}" does not exist`);
    this.collection = collection;
  }
}

/** dropCollection of a collection other collections' schemas reference (x-bundoc-ref), without force. */
export class CollectionReferencedError extends BundocError {
  readonly collection: string;
  /** The collections whose schemas reference it. */
  readonly referencedBy: readonly string[];
  constructor(collection: string, referencedBy: readonly string[]) {
    super(
      'COLLECTION_REFERENCED',
      `collection "${collection}" is referenced by the schemas of ${referencedBy.map((c) => `"${c}"`).join(', ')}; ` +
        'change those schemas first, or drop it with { force: true }',
    );
    this.collection = collection;
    this.referencedBy = referencedBy;
  }
}

/** A find/update option (skip, limit, after, upsert…) has the wrong type or value. */
export class InvalidOptionError extends BundocError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
  }
}

function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(v);
  }
}
