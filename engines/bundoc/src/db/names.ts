import { InvalidCollectionNameError, InvalidIndexError } from './errors.js';

/** Collection names are stored in the catalog and shown to users; bytes, not characters, are limited. */
export const MAX_COLLECTION_NAME_BYTES = 200;
export const MAX_INDEX_NAME_BYTES = 128;

/**
 * Accepts names like `users` or `users/u1/posts`: segments separated by single slashes, none empty,
 * none `.` or `..`, no control characters, nothing starting with `$` or the reserved `system.`/`__` prefixes.
 */
export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidCollectionNameError(name, 'must be a string');
  if (name.length === 0) throw new InvalidCollectionNameError(name, 'must not be empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_COLLECTION_NAME_BYTES) {
    throw new InvalidCollectionNameError(name, `longer than ${MAX_COLLECTION_NAME_BYTES} UTF-8 bytes`);
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new InvalidCollectionNameError(name, 'contains a control character');
  }
  if (name.startsWith('$') || name.startsWith('system.') || name.startsWith('__')) {
    throw new InvalidCollectionNameError(name, 'uses a reserved prefix ($, system., __)');
  }
  if (/[\uD800-\uDFFF]/.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) {
    throw new InvalidCollectionNameError(name, 'contains a lone surrogate');
  }
  for (const seg of name.split('/')) {
    if (seg === '') throw new InvalidCollectionNameError(name, 'has an empty path segment');
    if (seg === '.' || seg === '..') throw new InvalidCollectionNameError(name, `has a "${seg}" segment`);
    if (seg.trim() !== seg) {
      throw new InvalidCollectionNameError(name, 'a segment starts or ends with whitespace');
    }
  }
  return name;
}

export function checkIndexName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidIndexError('index name must be a non-empty string');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_INDEX_NAME_BYTES) {
    throw new InvalidIndexError(`index name longer than ${MAX_INDEX_NAME_BYTES} UTF-8 bytes`);
  }
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw new InvalidIndexError('index name contains a control character');
  return name;
}
