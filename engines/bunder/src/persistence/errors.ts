/**
 * Typed errors for the persistence codecs. Every format error names the byte offset where the input
 * stopped making sense (and the file, when reading from one) so an operator can inspect or cut it there.
 */

export type PersistenceErrorCode =
  | 'LZF_CORRUPT'
  | 'LZF_OUTPUT_TOO_SMALL'
  | 'RDB_BAD_MAGIC'
  | 'RDB_UNSUPPORTED_VERSION'
  | 'RDB_TRUNCATED'
  | 'RDB_CHECKSUM'
  | 'RDB_UNKNOWN_OPCODE'
  | 'RDB_MODULE_TYPE'
  | 'RDB_CORRUPT'
  | 'RDB_INVALID_VALUE'
  | 'AOF_CORRUPT'
  | 'AOF_TRUNCATED'
  | 'AOF_MANIFEST'
  | 'AOF_CLOSED';

export class PersistenceError extends Error {
  readonly code: PersistenceErrorCode;
  /** Byte offset in the input where the problem was detected, when there is one. */
  readonly offset: number | undefined;
  /** File being read or written, when there is one. */
  readonly file: string | undefined;

  constructor(code: PersistenceErrorCode, message: string, offset?: number, file?: string) {
    const where = [file, offset === undefined ? undefined : `offset ${offset}`].filter(Boolean).join(' at ');
    super(where ? `${message} (${where})` : message);
    this.name = 'PersistenceError';
    this.code = code;
    this.offset = offset;
    this.file = file;
  }
}

export class LzfError extends PersistenceError {
  constructor(code: 'LZF_CORRUPT' | 'LZF_OUTPUT_TOO_SMALL', message: string, offset?: number) {
    super(code, message, offset);
    this.name = 'LzfError';
  }
}

export class RdbError extends PersistenceError {
  constructor(code: PersistenceErrorCode, message: string, offset?: number, file?: string) {
    super(code, message, offset, file);
    this.name = 'RdbError';
  }
}

export class AofError extends PersistenceError {
  constructor(code: PersistenceErrorCode, message: string, offset?: number, file?: string) {
    super(code, message, offset, file);
    this.name = 'AofError';
  }
}
