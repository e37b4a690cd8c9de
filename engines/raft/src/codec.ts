import { ByteReader, ByteWriter } from './bytes.js';
import { validNodeId } from './conf-change.js';
import { CorruptDataError } from './errors.js';
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from './types.js';
import { LOCAL_MESSAGES } from './types.js';

// Binary encodings shared by the TCP transport (messages) and the durable log (entries, hard state,
// snapshots). Integers are big-endian; indexes and terms are u64 limited to 2^53 - 1.

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'conf'];

/** Wire codes of the message types; the order is part of the wire format: append only. */
const MESSAGE_TYPES: readonly MessageType[] = [
  'hup',
  'beat',
  'checkQuorum',
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'snapStatus',
  'unreachable',
  'heartbeat',
  'heartbeatResp',
  'transferLeader',
  'timeoutNow',
];
const MESSAGE_CODE = new Map(MESSAGE_TYPES.map((t, i) => [t, i]));

export interface CodecLimits {
  /** Largest entry payload or snapshot accepted when decoding. */
  readonly maxFieldBytes: number;
}

const NO_LIMIT: CodecLimits = { maxFieldBytes: Number.POSITIVE_INFINITY };

export function writeEntry(w: ByteWriter, e: Entry): void {
  w.u64(e.term).u64(e.index).u8(ENTRY_TYPES.indexOf(e.type)).bytes(e.data);
}

export function readEntry(r: ByteReader, limits: CodecLimits = NO_LIMIT): Entry {
  const term = r.u64();
  const index = r.u64();
  const code = r.u8();
  const type = ENTRY_TYPES[code];
  if (type === undefined) throw new CorruptDataError(`unknown entry type ${code}`);
  return { term, index, type, data: r.bytes(limits.maxFieldBytes) };
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  w.u64(hs.term).u32(hs.vote).u64(hs.commit);
}

export function readHardState(r: ByteReader): HardState {
  return { term: r.u64(), vote: r.u32(), commit: r.u64() };
}

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u32(id);
}

function readIds(r: ByteReader): NodeId[] {
  const n = r.u32();
  if (n * 4 > r.remaining) throw new CorruptDataError(`id list of ${n} does not fit`);
  const out: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.u32();
    if (!validNodeId(id)) throw new CorruptDataError(`invalid node id ${id} in a configuration`);
    out.push(id);
  }
  return out;
}

export function writeSnapshotMetadata(w: ByteWriter, m: SnapshotMetadata): void {
  w.u64(m.index).u64(m.term);
  writeIds(w, m.confState.voters);
  writeIds(w, m.confState.learners);
}

export function readSnapshotMetadata(r: ByteReader): SnapshotMetadata {
  const index = r.u64();
  const term = r.u64();
  const confState: ConfState = { voters: readIds(r), learners: readIds(r) };
  return { index, term, confState };
}

export function writeSnapshot(w: ByteWriter, s: Snapshot): void {
  writeSnapshotMetadata(w, s.metadata);
  w.bytes(s.data);
}

export function readSnapshot(r: ByteReader, limits: CodecLimits = NO_LIMIT): Snapshot {
  const metadata = readSnapshotMetadata(r);
  return { metadata, data: r.bytes(limits.maxFieldBytes) };
}

/** Appends one message; local messages never travel and are refused. */
export function writeMessage(w: ByteWriter, m: Message): void {
  const code = MESSAGE_CODE.get(m.type);
  if (code === undefined || LOCAL_MESSAGES.has(m.type)) {
    throw new RangeError(`message type ${m.type} cannot be sent over the wire`);
  }
  w.u8(code).u32(m.from).u32(m.to).u64(m.term).u64(m.logTerm).u64(m.index).u64(m.commit);
  w.u8(m.reject ? 1 : 0)
    .u64(m.rejectHint)
    .bytes(m.context);
  w.u32(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.snapshot) {
    w.u8(1);
    writeSnapshot(w, m.snapshot);
  } else {
    w.u8(0);
  }
}

export function readMessage(r: ByteReader, limits: CodecLimits = NO_LIMIT): Message {
  const code = r.u8();
  const type = MESSAGE_TYPES[code];
  if (type === undefined || LOCAL_MESSAGES.has(type)) throw new CorruptDataError(`bad message type ${code}`);
  const from = r.u32();
  const to = r.u32();
  if (!validNodeId(from) || !validNodeId(to)) throw new CorruptDataError(`bad node ids ${from} -> ${to}`);
  const term = r.u64();
  const logTerm = r.u64();
  const index = r.u64();
  const commit = r.u64();
  const rejectByte = r.u8();
  if (rejectByte > 1) throw new CorruptDataError(`bad reject flag ${rejectByte}`);
  const rejectHint = r.u64();
  const context = r.bytes(limits.maxFieldBytes);
  const n = r.u32();
  // every entry takes at least 21 bytes: a count beyond that is garbage, not a reason to allocate
  if (n * 21 > r.remaining) throw new CorruptDataError(`${n} entries do not fit in the frame`);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r, limits));
  const hasSnap = r.u8();
  if (hasSnap > 1) throw new CorruptDataError(`bad snapshot flag ${hasSnap}`);
  const snapshot = hasSnap === 1 ? readSnapshot(r, limits) : undefined;
  checkShape(type, index, entries, snapshot !== undefined);
  return {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: rejectByte === 1,
    rejectHint,
    context,
    ...(snapshot ? { snapshot } : {}),
  };
}

/**
 * Structure the core relies on (it would otherwise trip an invariant): entries only on appends, numbered
 * on from the message index; a snapshot exactly on snapshot messages.
 */
function checkShape(type: MessageType, index: number, entries: readonly Entry[], hasSnapshot: boolean): void {
  if (type !== 'app' && entries.length > 0) throw new CorruptDataError(`${type} message with entries`);
  entries.forEach((e, i) => {
    if (e.index !== index + 1 + i)
      throw new CorruptDataError(`append entry ${e.index} out of sequence after ${index}`);
  });
  if ((type === 'snap') !== hasSnapshot)
    throw new CorruptDataError(`${type} message ${hasSnapshot ? 'with' : 'without'} a snapshot`);
}

/** A batch of messages as one frame payload: u32 count, then the messages. */
export function encodeMessages(msgs: readonly Message[]): Buffer {
  const w = new ByteWriter(64 + msgs.length * 64);
  w.u32(msgs.length);
  for (const m of msgs) writeMessage(w, m);
  return Buffer.from(w.view());
}

export function decodeMessages(payload: Buffer, limits: CodecLimits = NO_LIMIT): Message[] {
  const r = new ByteReader(payload, 'message batch');
  const n = r.u32();
  if (n * 59 > r.remaining) throw new CorruptDataError(`${n} messages do not fit in the frame`);
  const out: Message[] = [];
  for (let i = 0; i < n; i++) out.push(readMessage(r, limits));
  r.end();
  return out;
}
