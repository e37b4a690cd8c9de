import { CorruptDataError, RaftError } from './errors.js';
import { FRAME_HEADER_BYTES } from './framing.js';

// A message too large for one frame (in practice a snapshot) travels as a transfer: consecutive chunk
// frames, each `kind u8 = FRAME_CHUNK | id u32 | total u64 | offset u64 | data`, on the same
// connection, interleaved with ordinary batch frames (`kind u8 = FRAME_BATCH | batch`). A connection
// carries one transfer at a time and its chunks arrive in order; anything else is malformed.

/** Frame kinds after the hello. */
export const FRAME_BATCH = 0;
export const FRAME_CHUNK = 1;

/** kind + id + total + offset. */
export const CHUNK_HEADER_BYTES = 1 + 4 + 8 + 8;

/** A transfer larger than the receiver's (or sender's) `maxMessageBytes`. */
export class MessageTooLargeError extends RaftError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the limit of ${limit}`);
  }
}

function writeU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32BE(Math.floor(v / 2 ** 32), at);
  b.writeUInt32BE(v >>> 0, at + 4);
}

function readU64(b: Buffer, at: number): number {
  const hi = b.readUInt32BE(at);
  if (hi >= 2 ** 21) throw new CorruptDataError('chunk field beyond 2^53');
  return hi * 2 ** 32 + b.readUInt32BE(at + 4);
}

/** The frame length prefix and header of a chunk; its data follows (written separately, not copied). */
export function encodeChunkHeader(id: number, total: number, offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES);
  b.writeUInt32BE(CHUNK_HEADER_BYTES + length, 0);
  b[FRAME_HEADER_BYTES] = FRAME_CHUNK;
  b.writeUInt32BE(id >>> 0, FRAME_HEADER_BYTES + 1);
  writeU64(b, total, FRAME_HEADER_BYTES + 5);
  writeU64(b, offset, FRAME_HEADER_BYTES + 13);
  return b;
}

/** A whole chunk frame (header and data in one buffer): tests and fuzzing. */
export function encodeChunkFrame(id: number, total: number, offset: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeChunkHeader(id, total, offset, data.length), data]);
}

/** A message payload cut into chunk frames of at most `chunkBytes` of data each. */
export function* chunkFrames(id: number, payload: Buffer, chunkBytes: number): Generator<[Buffer, Buffer]> {
  for (let offset = 0; offset < payload.length; offset += chunkBytes) {
    const data = payload.subarray(offset, Math.min(payload.length, offset + chunkBytes));
    yield [encodeChunkHeader(id, payload.length, offset, data.length), data];
  }
}

/**
 * Rebuilds the transfers of one connection from its chunk frames. The buffer of a transfer is taken
 * when its first chunk announces the total (bounded by `maxMessageBytes`), filled in place, and handed
 * out when complete; a chunk out of order, of another transfer, or past the total is malformed.
 */
export class ChunkReassembler {
  private current: { id: number; total: number; buf: Buffer; received: number } | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of the transfer in progress received so far (0: none in progress). */
  get pendingBytes(): number {
    return this.current?.received ?? 0;
  }

  /**
   * Feeds one chunk frame's payload (from its kind byte on). Returns the message payload once its last
   * chunk arrived. Throws CorruptDataError or MessageTooLargeError: the connection must be closed.
   */
  push(frame: Buffer): Buffer | undefined {
    if (frame.length <= CHUNK_HEADER_BYTES || frame[0] !== FRAME_CHUNK)
      throw new CorruptDataError(`chunk frame of ${frame.length} bytes: no data`);
    const id = frame.readUInt32BE(1);
    const total = readU64(frame, 5);
    const offset = readU64(frame, 13);
    const data = frame.subarray(CHUNK_HEADER_BYTES);
    let cur = this.current;
    if (offset === 0) {
      if (cur) throw new CorruptDataError(`transfer ${id} starts while transfer ${cur.id} is incomplete`);
      if (total > this.maxMessageBytes) throw new MessageTooLargeError(total, this.maxMessageBytes);
      if (data.length > total)
        throw new CorruptDataError(`chunk of ${data.length} bytes in a ${total}-byte transfer`);
      cur = { id, total, buf: Buffer.allocUnsafe(total), received: 0 };
      this.current = cur;
    } else {
      if (!cur) throw new CorruptDataError(`chunk at offset ${offset} of transfer ${id}, none started`);
      if (id !== cur.id || total !== cur.total)
        throw new CorruptDataError(
          `chunk of transfer ${id}/${total} while ${cur.id}/${cur.total} is incomplete`,
        );
      if (offset !== cur.received)
        throw new CorruptDataError(`chunk at offset ${offset} of transfer ${id}, expected ${cur.received}`);
      if (offset + data.length > total)
        throw new CorruptDataError(`chunk at ${offset} of ${data.length} bytes past the total ${total}`);
    }
    data.copy(cur.buf, cur.received);
    cur.received += data.length;
    if (cur.received < cur.total) return undefined;
    this.current = undefined;
    return cur.buf;
  }

  /** Drops the transfer in progress (the connection closed). */
  reset(): void {
    this.current = undefined;
  }
}
