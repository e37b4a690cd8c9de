export {
  ChunkReassembler,
  chunkFrames,
  encodeChunkFrame,
  FRAME_BATCH,
  FRAME_CHUNK,
  MessageTooLargeError,
} from './chunking.js';
export { decodeMessages, encodeMessages } from './codec.js';
export { decodeConfChange, encodeConfChange } from './conf-change.js';
export type { DurableStorageOptions, RecoveryReport } from './durable-storage.js';
export { DurableStorage } from './durable-storage.js';
export * from './errors.js';
export { encodeFrame, FrameDecoder, FrameTooLargeError } from './framing.js';
export type { GroupStatus, RaftGroupOptions, StateMachine } from './group.js';
export { LeadershipLostError, RaftGroup } from './group.js';
export type { HostStorage, StorageUpdate } from './host-storage.js';
export { MemoryHostStorage } from './host-storage.js';
export type { KvNode, KvNodeConfig } from './kv/kv-node.js';
export { startKvNode } from './kv/kv-node.js';
export type { KvRequest, KvResponse } from './kv/kv-protocol.js';
export { KvClient, KvRequestError } from './kv/kv-protocol.js';
export type { KvCommand } from './kv/kv-state-machine.js';
export { decodeKvCommand, encodeKvCommand, KvStateMachine } from './kv/kv-state-machine.js';
export type { MemberStatus, ProcessClusterOptions } from './kv/process-cluster.js';
export { isRetryable, ProcessCluster } from './kv/process-cluster.js';
export type { CheckResult, KvInput, KvOutput, Model, Operation } from './linearizability.js';
export { checkOperations, kvModel } from './linearizability.js';
export { RaftLog } from './log.js';
export { Inflights, Progress, ProgressTracker } from './progress.js';
export { isMajority, majorityIndex } from './quorum.js';
export type { RaftConfig } from './raft.js';
export { RaftNode } from './raft.js';
export type { Storage } from './storage.js';
export { limitSize, MemoryStorage } from './storage.js';
export type { Transport, TransportHandler } from './transport.js';
export { LocalNetwork } from './transport-local.js';
export type { PeerAddress, TcpTransportOptions, TcpTransportStats } from './transport-tcp.js';
export { TcpTransport } from './transport-tcp.js';
export * from './types.js';
