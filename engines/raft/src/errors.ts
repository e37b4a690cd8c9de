import type { NodeId } from './types.js';

/** Base of every error this package throws on purpose; `code` is stable for programs to match on. */
export class RaftError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A write or read reached a node that is not the leader; `leaderId` is 0 when no leader is known. */
export class NotLeaderError extends RaftError {
  constructor(readonly leaderId: NodeId) {
    super(
      'NOT_LEADER',
      leaderId ? `not the leader; the leader is node ${leaderId}` : 'not the leader; no leader known',
    );
  }
}

/** The leader refused a proposal it could otherwise take (a leadership transfer is in progress). */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super('PROPOSAL_DROPPED', `proposal dropped: ${reason}`);
  }
}

/** A membership change that is invalid or must wait for the previous one to apply. */
export class ConfChangeError extends RaftError {
  constructor(reason: string) {
    super('CONF_CHANGE_REJECTED', `configuration change rejected: ${reason}`);
  }
}

/** The requested log index lies before the first index kept (it is covered by the snapshot). */
export class CompactedError extends RaftError {
  constructor(index: number) {
    super('LOG_COMPACTED', `log index ${index} was compacted`);
  }
}

/** The requested log index lies after the last stored entry. */
export class UnavailableError extends RaftError {
  constructor(index: number) {
    super('LOG_UNAVAILABLE', `log index ${index} is not available`);
  }
}

/** The snapshot is older than what storage already has. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(index: number, have: number) {
    super('SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} is older than the current snapshot at ${have}`);
  }
}

/** Bytes on disk or on the wire that do not decode; nothing is applied from them. */
export class CorruptDataError extends RaftError {
  constructor(what: string) {
    super('CORRUPT_DATA', what);
  }
}

/** The host stopped; pending proposals fail with this. */
export class StoppedError extends RaftError {
  constructor() {
    super('STOPPED', 'raft group stopped');
  }
}

/** A durable file failed its checksum or does not decode; `file` and `offset` say where. */
export class StorageCorruptionError extends CorruptDataError {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`${file} at offset ${offset}: ${reason}`);
  }
}

/** A previous write or fsync failed: the on-disk state is unknown, so the storage refuses further work. */
export class StorageFailedError extends RaftError {
  constructor(readonly causeError: unknown) {
    super(
      'STORAGE_FAILED',
      `storage failed earlier and must be reopened: ${causeError instanceof Error ? causeError.message : String(causeError)}`,
    );
  }
}

/**
 * Thrown by a state machine's apply (or restore) for a local failure that is not a property of the
 * entry — a disk error. The group stops instead of treating it as the entry's result: another member
 * applied the same entry fine, so going on would let this copy diverge. Any error with `fatal: true`
 * counts the same (so a library can keep its own error classes).
 */
export class FatalStateMachineError extends RaftError {
  readonly fatal = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('STATE_MACHINE_FAILED', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Whether a state machine threw a local failure (FatalStateMachineError, or `fatal: true`). */
export function isFatalStateMachineError(err: unknown): boolean {
  return (
    err instanceof FatalStateMachineError ||
    (typeof err === 'object' && err !== null && (err as { fatal?: unknown }).fatal === true)
  );
}
