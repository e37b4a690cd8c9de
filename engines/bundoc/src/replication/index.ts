export { CONFLICT_HORIZON } from './conflicts.js';
export { CorruptReplicationDataError, NotLeaderError, ReplicaFailedError } from './errors.js';
export {
  type ReplicatedStatus,
  ReplicatedStorage,
  type ReplicatedStorageOptions,
} from './replicated-storage.js';
export { type Proposer, ReplicatedTransaction } from './replicated-transaction.js';
export { RESERVED_PREFIX } from './reserved.js';
export { StoreStateMachine } from './state-machine.js';
export { MAX_WRITE_SET_BYTES, MAX_WRITES } from './write-set.js';
