import { CorruptDataError } from './errors.js';

/** Largest integer the codecs carry (indexes and terms): 2^53 - 1, written as a u64. */
const MAX_U64_AS_NUMBER = Number.MAX_SAFE_INTEGER;

/** A growable buffer for the binary codecs (wire messages and log records). Big-endian throughout. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  get length(): number {
    return this.pos;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** A non-negative safe integer as a u64. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${v} is not a non-negative safe integer`);
    this.ensure(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** Raw bytes with a u32 length in front. */
  bytes(v: Uint8Array): this {
    this.u32(v.length);
    this.raw(v);
    return this;
  }

  raw(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** Overwrites a u32 written earlier (a length filled in once the body is known). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32BE(v, at);
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads what ByteWriter wrote; every read checks bounds and throws CorruptDataError naming `what`. */
export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new CorruptDataError(`${this.what}: truncated at byte ${this.pos} (needs ${n} more)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    const v = hi * 0x1_0000_0000 + lo;
    if (v > MAX_U64_AS_NUMBER)
      throw new CorruptDataError(`${this.what}: integer beyond 2^53 at byte ${this.pos - 8}`);
    return v;
  }

  /** Length-prefixed bytes, copied out so that they outlive the input buffer. */
  bytes(maxLength = Number.POSITIVE_INFINITY): Uint8Array {
    const n = this.u32();
    if (n > maxLength) throw new CorruptDataError(`${this.what}: field of ${n} bytes exceeds ${maxLength}`);
    this.need(n);
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** Fails unless every byte was consumed: trailing bytes mean a framing or version mismatch. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new CorruptDataError(`${this.what}: ${this.buf.length - this.pos} unexpected trailing bytes`);
    }
  }
}
