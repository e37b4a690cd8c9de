import { NotLeaderError } from '@bunbase/raft';
import { BundocError } from '../storage/errors.js';

/** Writes and linearizable reads go to the leader; `leaderId` (0: none known) is where to retry. */
export { NotLeaderError };

/** A replicated entry or snapshot that does not decode or fails its checksum; nothing was applied from it. */
export class CorruptReplicationDataError extends BundocError {
  constructor(what: string) {
    super('CORRUPT_REPLICATION_DATA', what);
  }
}

/**
 * This member's local store failed (a disk error) while applying a committed entry: the member stopped,
 * because going on would make its copy diverge. Reopen it; it resumes from what its store reflects.
 * `fatal: true` is what tells the raft group it is a local failure, not the entry's result.
 */
export class ReplicaFailedError extends BundocError {
  readonly fatal = true;
  constructor(cause: unknown) {
    super(
      'REPLICA_FAILED',
      `replica stopped: its local store failed while applying a committed entry (${String((cause as Error)?.message ?? cause)})`,
      { cause },
    );
  }
}
