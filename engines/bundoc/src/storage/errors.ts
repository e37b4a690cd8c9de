/** Base of every error bundoc throws on purpose; `code` is stable and safe to match on. */
export class BundocError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A checksum or structural check failed: the bytes on disk are not what bundoc wrote. */
export class CorruptionError extends BundocError {
  readonly file: string;
  readonly page: number | undefined;
  constructor(file: string, page: number | undefined, detail: string) {
    super('CORRUPTION', `corruption in ${file}${page === undefined ? '' : ` page ${page}`}: ${detail}`);
    this.file = file;
    this.page = page;
  }
}

/** Another transaction committed a write to a key this transaction also wrote (first committer wins). */
export class ConflictError extends BundocError {
  readonly tree: string;
  constructor(tree: string, detail = 'a concurrent transaction committed a write to the same key') {
    super('CONFLICT', `write conflict in tree "${tree}": ${detail}`);
    this.tree = tree;
  }
}

/** An argument has the wrong type, size or value; nothing was changed. */
export class InvalidArgumentError extends BundocError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** The store or transaction was already closed, committed or aborted. */
export class ClosedError extends BundocError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** Another process holds the store's lock file. */
export class LockedError extends BundocError {
  readonly dir: string;
  constructor(dir: string, holder: string) {
    super('LOCKED', `${dir} is already open in another process (${holder})`);
    this.dir = dir;
  }
}

/** The directory holds something bundoc cannot open: not a store, or a newer format version. */
export class FormatError extends BundocError {
  constructor(message: string) {
    super('FORMAT', message);
  }
}

/** The encryption key is missing, malformed or not the one the store was created with. */
export class EncryptionKeyError extends BundocError {
  constructor(message: string) {
    super('BAD_KEY', message);
  }
}

/** A write to disk failed; the store refuses further work so nothing unacknowledged is ever exposed. */
export class StoreFailedError extends BundocError {
  constructor(cause: unknown) {
    super('FAILED', `store failed and must be reopened: ${String((cause as Error)?.message ?? cause)}`, {
      cause,
    });
  }
}

/** The log no longer holds the commits asked for (checkpoints dropped them; see `walRetentionBytes`). */
export class HistoryUnavailableError extends BundocError {
  readonly afterLsn: number;
  readonly firstAvailableLsn: number;
  constructor(afterLsn: number, firstAvailableLsn: number) {
    super(
      'HISTORY_UNAVAILABLE',
      `commits after lsn ${afterLsn} are no longer in the log (it starts at lsn ${firstAvailableLsn}); ` +
        'a larger walRetentionBytes keeps more history',
    );
    this.afterLsn = afterLsn;
    this.firstAvailableLsn = firstAvailableLsn;
  }
}
