import type { Message, NodeId } from './types.js';

/** What a transport reports to its host (a RaftGroup). */
export interface TransportHandler {
  /** Messages that arrived from peers, addressed to this node. */
  onMessages(messages: Message[]): void;
  /** Messages to `to` were dropped because the peer cannot be reached now. */
  onUnreachable(to: NodeId): void;
  /** A snapshot message to `to` was handed to the network (ok) or dropped. */
  onSnapshotStatus(to: NodeId, ok: boolean): void;
}

/**
 * Moves Raft messages between members. Delivery is best effort: Raft tolerates loss, duplication and
 * reordering, so a transport drops rather than blocks when a peer is down or slow.
 */
export interface Transport {
  start(handler: TransportHandler): Promise<void>;
  /** Queues messages; they leave in batches, one per peer per turn of the event loop. */
  send(messages: readonly Message[]): void;
  close(): Promise<void>;
}
