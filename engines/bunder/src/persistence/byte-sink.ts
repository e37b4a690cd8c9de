/**
 * Append-only byte buffer made of chunks, so encoding a big snapshot never copies what is already
 * encoded. A caller that streams to disk takes the finished chunks whenever enough have accumulated.
 */

const CHUNK = 1 << 16;

export class ByteSink {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private done: Buffer[] = [];
  private doneBytes = 0;

  get length(): number {
    return this.doneBytes + this.pos;
  }

  private room(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    if (this.pos > 0) {
      this.done.push(this.buf.subarray(0, this.pos));
      this.doneBytes += this.pos;
    }
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.pos = 0;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    if (b.length > CHUNK) {
      // Large values go in as their own chunk instead of being copied.
      this.room(0);
      if (this.pos > 0) {
        this.done.push(this.buf.subarray(0, this.pos));
        this.doneBytes += this.pos;
        this.buf = this.buf.subarray(this.pos);
        this.pos = 0;
      }
      this.done.push(Buffer.from(b.buffer, b.byteOffset, b.length));
      this.doneBytes += b.length;
      return;
    }
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  u16le(v: number): void {
    this.room(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }

  u32be(v: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  u32le(v: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  u64be(v: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigUInt64BE(v, this.pos);
  }

  i64le(v: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigInt64LE(v, this.pos);
  }

  doubleLe(v: number): void {
    this.room(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  /** Removes and returns everything written so far. */
  take(): Buffer[] {
    const out = this.done;
    if (this.pos > 0) {
      out.push(this.buf.subarray(0, this.pos));
      this.buf = this.buf.subarray(this.pos);
      if (this.buf.length < 1024) this.buf = Buffer.allocUnsafe(CHUNK);
    }
    this.done = [];
    this.doneBytes = 0;
    this.pos = 0;
    return out;
  }
}
