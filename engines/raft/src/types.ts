/** Node ids are positive integers below 2^32 (they travel as u32 on the wire). 0 means "none". */
export type NodeId = number;

export type EntryType = 'normal' | 'conf';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The persistent state every node must fsync before answering a vote or an append. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export type ConfChangeType = 'addNode' | 'addLearner' | 'removeNode';

/** One-at-a-time membership change; `addNode` on an existing learner promotes it. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export type MessageType =
  | 'hup'
  | 'beat'
  | 'checkQuorum'
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'snapStatus'
  | 'unreachable'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'transferLeader'
  | 'timeoutNow';

/** Local messages never leave a node; they drive the state machine through `step`. */
export const LOCAL_MESSAGES: ReadonlySet<MessageType> = new Set([
  'hup',
  'beat',
  'checkQuorum',
  'snapStatus',
  'unreachable',
  'transferLeader',
]);

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** Term of the entry at `index` (append: the previous entry; vote: the candidate's last entry). */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** On a rejected append: the follower's guess of where the logs may match. */
  readonly rejectHint: number;
  readonly snapshot?: Snapshot;
  /** ReadIndex request context on heartbeats; a non-empty context on votes marks a leader transfer. */
  readonly context: Uint8Array;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: Role;
}

/** A linearizable read is safe once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * What the host must do, in this order: persist `snapshot`, `entries` and `hardState` (fsync when
 * `mustSync`), then send `messages`, then apply `committedEntries`, then call `advance`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  data: EMPTY_BYTES,
};

/** A message with every optional field at its neutral value; callers override what matters. */
export function message(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: 0,
    to: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    ...fields,
  };
}

/** Approximate wire size of an entry, used for flow control and size limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}
