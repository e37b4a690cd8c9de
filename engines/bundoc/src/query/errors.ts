import { BundocError } from '../storage/errors.js';

/** A filter is malformed: unknown operator, wrong operand type, bad regex. Nothing was read. */
export class InvalidFilterError extends BundocError {
  constructor(message: string) {
    super('INVALID_FILTER', message);
  }
}

/** An update document is malformed or conflicts with itself; it was rejected whole, nothing was written. */
export class InvalidUpdateError extends BundocError {
  constructor(message: string) {
    super('INVALID_UPDATE', message);
  }
}

/**
 * A valid update cannot be applied to a particular document (e.g. $inc on a string, a path through a
 * scalar, changing _id). The document is left unchanged.
 */
export class UpdateConflictError extends BundocError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('UPDATE_NOT_APPLICABLE', `cannot update "${path}": ${message}`);
    this.path = path;
  }
}

/** A projection is malformed (mixes inclusion and exclusion, colliding paths, unsupported operators). */
export class InvalidProjectionError extends BundocError {
  constructor(message: string) {
    super('INVALID_PROJECTION', message);
  }
}

/** A sort specification is malformed. */
export class InvalidSortError extends BundocError {
  constructor(message: string) {
    super('INVALID_SORT', message);
  }
}
