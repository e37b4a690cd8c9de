import { RaftError } from './errors.js';

/** A frame whose declared length exceeds the limit; the connection that sent it is closed. */
export class FrameTooLargeError extends RaftError {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${limit}`);
  }
}

export const FRAME_HEADER_BYTES = 4;

/** One frame: u32 big-endian payload length, then the payload. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into frames. Chunks are kept in a list and joined only when a frame is complete,
 * so a large frame arriving in many chunks is copied once; a declared length beyond `maxFrameBytes` is
 * refused before anything is buffered for it.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds bytes; returns the frames completed by them. Throws FrameTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return frames;
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32BE(0);
      if (len > this.maxFrameBytes) throw new FrameTooLargeError(len, this.maxFrameBytes);
      if (this.buffered < FRAME_HEADER_BYTES + len) return frames;
      const all = this.take(FRAME_HEADER_BYTES + len);
      frames.push(all.subarray(FRAME_HEADER_BYTES));
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, Math.min(this.buffered, Math.max(n, 16))).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
